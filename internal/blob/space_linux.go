//go:build linux

package blob

import "golang.org/x/sys/unix"

// FreeSpace returns the bytes free for ringd's files on the filesystem of
// dir: what df shows as available (statfs's f_bavail, which leaves out
// what the filesystem keeps for root).
func FreeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
