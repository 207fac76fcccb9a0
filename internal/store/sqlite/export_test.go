package sqlite

// SetSyncHook makes f run before each sync of the WAL; an error it returns
// is taken as the sync's.
func SetSyncHook(db *DB, f func() error) {
	db.syncHook.Store(&f)
}

// WALJoinCounts returns the writes the WAL write joiners took from SQLite
// and made to files, in this process so far.
func WALJoinCounts() (in, out int64) { return walJoinCounts() }

// DeviceLogin returns the login count of the device of token.
func DeviceLogin(db *DB, token string) (int64, error) {
	var n int64
	err := db.read.QueryRow(`SELECT login FROM devices WHERE token = ?`, token).Scan(&n)
	return n, err
}
