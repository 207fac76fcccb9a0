package fsync

import "os"

// An Identity names a file by what os.SameFile compares (on Linux, its
// device and inode), read without its times. Why without: a stat that
// returns a file's change time marks it as looked at, and on filesystems
// with fine-grained timestamps (ext4, XFS, btrfs since Linux 6.13) the
// next write then stamps the file with a new, finer time. That dirties the
// inode, so the next fdatasync also writes the inode's block: one more
// round trip to the disk on every sync of a file that is checked as often
// as it is synced, as the WAL's syncer checks its file by path before
// every fdatasync.
type Identity struct{ id identity }

// Same reports whether a and b name the same file.
func (a Identity) Same(b Identity) bool { return a.id.same(b.id) }

// IdentityOf returns the identity of the file at path (following links).
func IdentityOf(path string) (Identity, error) {
	id, err := identityOf(path)
	if err != nil {
		return Identity{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return Identity{id}, nil
}

// IdentityOfFile returns the identity of the open file f.
func IdentityOfFile(f *os.File) (Identity, error) {
	id, err := identityOfFile(f)
	if err != nil {
		return Identity{}, &os.PathError{Op: "stat", Path: f.Name(), Err: err}
	}
	return Identity{id}, nil
}
