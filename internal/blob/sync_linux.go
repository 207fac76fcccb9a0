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

// preallocate reserves size bytes of blocks for f at once, so that writing
// its zeros only marks them written; where fallocate is missing the writes
// allocate as they go.
func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err != nil && err != unix.EOPNOTSUPP {
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return nil
}
