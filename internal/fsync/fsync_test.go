package fsync

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDatasync(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := Datasync(f); err != nil {
		t.Fatalf("Datasync: %v", err)
	}
	f.Close()
	if err := Datasync(f); err == nil {
		t.Fatal("Datasync of a closed file succeeded")
	}
}
