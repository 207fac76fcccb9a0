//go:build linux

package blob

import (
	"os"

	"golang.org/x/sys/unix"
)

// openDirect opens name for writing past the page cache (O_DIRECT),
// creating it empty if create.
func openDirect(name string, create bool) (*os.File, error) {
	flags := unix.O_RDWR | unix.O_DIRECT | unix.O_CLOEXEC
	if create {
		flags |= unix.O_CREAT | unix.O_TRUNC
	}
	fd, err := unix.Open(name, flags, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open O_DIRECT", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// preallocate reserves size bytes of blocks for f at once, reading as
// zeros (unwritten extents); allocated is false where fallocate is missing.
func preallocate(f *os.File, size int64) (allocated bool, err error) {
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err == unix.EOPNOTSUPP {
		return false, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return true, nil
}
