package blob

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory for the
// test. It needs root, as CI has: there a test that cannot mount fails.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("not root: this test mounts a tmpfs and must run as root in CI")
		}
		t.Skip("not root: this test mounts a tmpfs (it runs as root in CI)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
		t.Fatalf("mount -t tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// untouched is a reader the test expects never to be read.
type untouched struct{ t *testing.T }

func (u untouched) Read([]byte) (int, error) {
	u.t.Error("Put read its data though the arena had no room")
	return 0, errors.New("read")
}

// TestArenaGrowsOnlyWithRoom makes an arena on a 16 MiB filesystem
// holding 3 MiB of other data: it takes one chunk, but not a second
// (which must leave another chunk and the reserve free), so once the
// first is full a Put is refused with ErrNoSpace before it reads
// anything; once the other data is gone the arena grows again.
func TestArenaGrowsOnlyWithRoom(t *testing.T) {
	const MiB = 1 << 20
	fs := mountTmpfs(t, 16*MiB)
	other := filepath.Join(fs, "other")
	if err := os.WriteFile(other, make([]byte, 3*MiB), 0o600); err != nil {
		t.Fatal(err)
	}
	a := openTestArena(t, filepath.Join(fs, "arena"), ArenaOptions{ChunkSize: 4 * MiB, Reserve: 2 * MiB})
	ctx := context.Background()
	for range 4 {
		if _, err := a.Put(ctx, bytes.NewReader(randBytes(t, MiB)), MiB); err != nil {
			t.Fatal(err)
		}
	}
	free, err := FreeSpace(fs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(ctx, untouched{t}, MiB); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Put with %d bytes free, a chunk needing 10 MiB: %v, want ErrNoSpace", free, err)
	}
	if size, _ := a.Size(); size != 4*MiB {
		t.Fatalf("arena of %d bytes after a refused growth", size)
	}
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	data := randBytes(t, MiB)
	e, err := a.Put(ctx, bytes.NewReader(data), MiB)
	if err != nil {
		t.Fatalf("Put once the space is back: %v", err)
	}
	if !bytes.Equal(readExtent(t, a, e, MiB), data) {
		t.Fatal("data read back differs")
	}
}
