package fsync

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// An identity follows the file, not the name: the same by path and by
// descriptor, another once the path names another file, an error once
// nothing is there.
func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byFile, err := IdentityOfFile(f)
	if err != nil {
		t.Fatal(err)
	}
	byPath, err := IdentityOf(path)
	if err != nil {
		t.Fatal(err)
	}
	if !byFile.Same(byPath) {
		t.Fatal("the open file and its path have different identities")
	}
	if err := os.WriteFile(filepath.Join(dir, "g"), []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	other, err := IdentityOf(filepath.Join(dir, "g"))
	if err != nil {
		t.Fatal(err)
	}
	if other.Same(byFile) {
		t.Fatal("two files have the same identity")
	}
	if err := os.Rename(filepath.Join(dir, "g"), path); err != nil {
		t.Fatal(err)
	}
	now, err := IdentityOf(path)
	if err != nil {
		t.Fatal(err)
	}
	if now.Same(byFile) || !now.Same(other) {
		t.Fatal("the identity did not follow the rename")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = IdentityOf(path)
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || pe.Path != path {
		t.Fatalf("identity of a missing file: %v, want a PathError for %s that is ErrNotExist", err, path)
	}
	f.Close()
	if _, err := IdentityOfFile(f); err == nil {
		t.Fatal("identity of a closed file succeeded")
	}
}
