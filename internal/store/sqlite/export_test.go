package sqlite

// SetSyncHook makes f run before each sync of the WAL; an error it returns
// is taken as the sync's.
func SetSyncHook(db *DB, f func() error) {
	setHooks(db, func(h *dbHooks) { h.sync = f })
}

// SetOpenDataHook makes f run in OpenData between reading a message's row
// and opening its data in the arena.
func SetOpenDataHook(db *DB, f func()) {
	setHooks(db, func(h *dbHooks) { h.openData = f })
}

// setHooks changes db's hooks by set; tests set them before the work
// they watch starts.
func setHooks(db *DB, set func(*dbHooks)) {
	h := new(dbHooks)
	if old := hooksOf(db); old != nil {
		*h = *old
	}
	set(h)
	hooks.Store(db, h)
	anyHooks.Store(true)
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
