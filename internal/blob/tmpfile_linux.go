//go:build linux

package blob

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openTmpfile opens an unnamed file (O_TMPFILE) on dir's filesystem. It has
// no name, so creating it touches no directory (a temp name in one shared
// directory serialized every Put on that directory's lock) and a crash
// leaves nothing behind: the kernel frees an unlinked inode.
func openTmpfile(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir+"/(unnamed)"), nil
}

// linkTmpfile gives the unnamed file f the name final. Linking through
// /proc needs no privilege (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
// If final exists, the error satisfies errors.Is(err, os.ErrExist).
func linkTmpfile(f *os.File, final string) error {
	proc := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "link", Old: proc, New: final, Err: err}
	}
	return nil
}
