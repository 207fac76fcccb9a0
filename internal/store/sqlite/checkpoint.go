package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints copy what the WAL holds into the database file. Left to
// SQLite, the writer runs one inside a COMMIT every 1000 pages, and every
// operation of the batches behind it waits for the copy and its fsync. A
// goroutine of its own, on its own connection, runs them instead, beside
// the writer: a PASSIVE checkpoint never blocks a writer or a reader, and
// copies only what is committed (and syncs the WAL before it copies), so
// durability is the WAL's, as before (walsync.go).

// walBackstop is the WAL size, in pages, at which the writer checkpoints
// by itself anyway: only when the checkpointer falls behind.
const walBackstop = 16000

// checkpointEvery is how often the checkpointer looks for new commits.
const checkpointEvery = 50 * time.Millisecond

// checkpointer runs until stop is closed.
func (db *DB) checkpointer(c *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer c.Close()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var seen int64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if n := db.Commits(); n != seen {
			seen = n
			// A failure (a busy lock, say) is retried on the next
			// round, and the writer's backstop bounds the WAL meanwhile.
			c.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}
