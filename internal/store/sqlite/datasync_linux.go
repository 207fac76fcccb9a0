//go:build linux

package sqlite

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data, and the metadata needed to read it back (its
// size), to the disk: fdatasync, as SQLite itself syncs the WAL on Linux.
func datasync(f *os.File) error {
	c, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}
