package fsync

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// IdentityOf does not ask for a file's times. On a filesystem with
// fine-grained timestamps a stat that asks for them makes the file's next
// write stamp a new, finer time, which dirties the inode, so that the
// next fdatasync writes the inode's block too; after IdentityOf a write in
// the same clock tick stamps the time every unwatched file gets.
func TestIdentityLeavesTimesAlone(t *testing.T) {
	dir := t.TempDir()
	f, g := create(t, filepath.Join(dir, "f")), create(t, filepath.Join(dir, "g"))
	// watched writes f after a stat of it (its time is then fine), then
	// g (coarse, unwatched), then checks f with check, writes it again
	// and reports whether f and g ended with the same time: f's last
	// write stamped nothing new, as g's stamped the time of the tick.
	watched := func(check func(string) error) bool {
		write(t, f)
		mtime(t, f)
		write(t, f)
		write(t, g)
		if err := check(f.Name()); err != nil {
			t.Fatal(err)
		}
		write(t, f)
		return mtime(t, f).Equal(mtime(t, g))
	}
	stat := func(path string) error { _, err := os.Stat(path); return err }
	identity := func(path string) error { _, err := IdentityOf(path); return err }
	// The clock may tick between two writes, so the same times in one
	// try of twenty count; after a stat they must never match on a
	// fine-grained filesystem, and on a coarse one they match anyway.
	tries := func(check func(string) error) (same int) {
		for range 20 {
			if watched(check) {
				same++
			}
		}
		return same
	}
	if tries(stat) > 0 {
		t.Skip("this filesystem's timestamps are coarse: a stat cannot make a write dirty the inode")
	}
	if tries(identity) == 0 {
		t.Fatal("every write after IdentityOf stamped a new time, as after a stat: IdentityOf asks for the file's times")
	}
}

func create(t *testing.T, path string) *os.File {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func write(t *testing.T, f *os.File) {
	t.Helper()
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
}

func mtime(t *testing.T, f *os.File) time.Time {
	t.Helper()
	fi, err := os.Stat(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// Where statx is missing or refused, fstatat gives the same identity, by
// path and by descriptor.
func TestIdentityFallbackAgrees(t *testing.T) {
	f := create(t, filepath.Join(t.TempDir(), "f"))
	byPath, err := statxIdentity(unix.AT_FDCWD, f.Name(), 0)
	if err != nil {
		t.Fatal(err)
	}
	fallback, err := fstatatIdentity(unix.AT_FDCWD, f.Name(), 0)
	if err != nil {
		t.Fatal(err)
	}
	byFd, err := fstatatIdentity(int(f.Fd()), "", unix.AT_EMPTY_PATH)
	if err != nil {
		t.Fatal(err)
	}
	if byPath != fallback || byPath != byFd || byPath.ino == 0 {
		t.Fatalf("statx %+v, fstatat %+v by path and %+v by descriptor", byPath, fallback, byFd)
	}
	if _, err := fstatatIdentity(unix.AT_FDCWD, f.Name()+".missing", 0); err != unix.ENOENT {
		t.Fatalf("fstatat of a missing file: %v, want ENOENT", err)
	}
}
