package sqlite

import (
	"sync"
	"sync/atomic"
)

// dbHooks are what tests run at points of a DB's work (export_test.go
// sets them); production code never sets any, and pays one atomic load
// at each point.
type dbHooks struct {
	// sync runs before each sync of the WAL; an error it returns is
	// taken as the sync's.
	sync func() error
	// openData runs in OpenData between reading a message's row and
	// opening its data in the arena.
	openData func()
}

var (
	anyHooks atomic.Bool // some DB has hooks
	hooks    sync.Map    // *DB → *dbHooks
)

// hooksOf returns db's hooks; nil when it has none.
func hooksOf(db *DB) *dbHooks {
	if !anyHooks.Load() {
		return nil
	}
	h, _ := hooks.Load(db)
	hk, _ := h.(*dbHooks)
	return hk
}
