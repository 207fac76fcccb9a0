package sqlite

// SetSyncHook makes f run before each sync of the WAL; an error it returns
// is taken as the sync's.
func SetSyncHook(db *DB, f func() error) {
	db.syncHook.Store(&f)
}
