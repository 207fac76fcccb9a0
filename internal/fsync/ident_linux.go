//go:build linux

package fsync

import (
	"os"

	"golang.org/x/sys/unix"
)

// identity is a file's device and inode, from statx asked for the inode
// number only: the device comes with every answer, and no time is asked.
type identity struct{ dev, ino uint64 }

func (a identity) same(b identity) bool { return a == b }

func identityOf(path string) (identity, error) {
	return statxIdentity(unix.AT_FDCWD, path, 0)
}

func identityOfFile(f *os.File) (identity, error) {
	c, err := f.SyscallConn()
	if err != nil {
		return identity{}, err
	}
	var id identity
	var serr error
	if err := c.Control(func(fd uintptr) {
		id, serr = statxIdentity(int(fd), "", unix.AT_EMPTY_PATH)
	}); err != nil {
		return identity{}, err
	}
	return id, serr
}

func statxIdentity(dirfd int, path string, flags int) (identity, error) {
	var st unix.Statx_t
	for {
		switch err := unix.Statx(dirfd, path, flags, unix.STATX_INO, &st); err {
		case nil:
			return identity{dev: unix.Mkdev(st.Dev_major, st.Dev_minor), ino: st.Ino}, nil
		case unix.EINTR:
		case unix.ENOSYS, unix.EPERM:
			// No statx: before Linux 4.11 (no finer times either), or
			// refused by a seccomp filter (older container runtimes'
			// answer EPERM). A path we may not stat fails again there.
			return fstatatIdentity(dirfd, path, flags)
		default:
			return identity{}, err
		}
	}
}

func fstatatIdentity(dirfd int, path string, flags int) (identity, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(dirfd, path, &st, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return identity{}, err
		}
		return identity{dev: st.Dev, ino: st.Ino}, nil
	}
}
