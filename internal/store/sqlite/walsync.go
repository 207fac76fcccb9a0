package sqlite

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/ringd/ringd/internal/fsync"
)

// Durability is ringd's, not SQLite's. The writer's connection
// commits with synchronous=NORMAL: in WAL mode SQLite then does not sync
// the WAL at COMMIT, only before a checkpoint copies frames into the
// database file (and the database file after it, and the WAL's header when
// the WAL starts over), so the database stays consistent whatever happens,
// but the last commits may be lost on power loss. The syncer makes them
// durable before anyone hears of them: after COMMIT the writer hands it the
// batch's operations, results and all, and goes on with the next batch at
// once; the syncer takes every batch handed over so far, runs ONE
// fdatasync of the WAL file on a descriptor of its own, and only then
// answers them. An fdatasync covers every write to the file made before
// it, whoever made it, so each answer comes after a sync that covers its
// commit, and the writer's statements for the next batch overlap the sync
// (with synchronous=FULL the writer sat idle for each fsync while requests
// queued). While the syncer is busy the writer keeps its
// transaction open and runs what arrives into it, and commits when the
// syncer is free (db.go, more): one commit per sync, not one per trickle
// of arrivals, as a commit costs the writer CPU for every page it writes.
//
// The WAL file is the one SQLite writes: SQLite keeps one -wal file while
// any connection is open (the writer's is, from Open to Close). It only
// rewrites it from the start after a checkpoint copied everything into the
// database file and synced it, and truncates it in place at most
// (journal_size_limit, wal_checkpoint(TRUNCATE)); it deletes it only when
// the last connection closes. Every round checks that the path still names
// the file that is synced (device and inode); if it does not, the new file
// is opened and both are synced. SQLite takes no locks on the -wal file
// (its locks are on the database file and the -shm), so opening and
// closing a descriptor of our own on it cannot drop one of SQLite's POSIX
// locks, which closing any descriptor of a locked file would.
//
// Reads do not wait for the syncer: a reader on the read pool (a fetch, a
// history, the read side of a get) may see a commit whose sync is still
// running, so a client could be shown a message whose sender has not been
// answered yet, and that a power loss in that millisecond would take back.
// That is what any database with group commit shows its readers of
// committed, not yet flushed, data; nothing acknowledged is ever lost,
// which is the promise (an answer of 10000 to a write), and a client
// cannot name such a message by id before someone was told it. A get that
// takes a message marks it through the writer, so its answer waits for a
// sync that covers the message's commit too.
//
// A failed fdatasync may have dropped the data from the page cache and
// cleared the error: a retry could succeed without the data ever reaching
// the disk. So the store fails for good (as PostgreSQL does): the
// operations waiting are answered with the error, and every later write
// is refused until ringd is restarted and SQLite recovers from the WAL.

// syncQueue is what the writer hands the syncer.
type syncQueue struct {
	mu     sync.Mutex    // guards the following
	ops    []*op         // in commit order, each with its result in res
	commit bool          // one of ops' batches committed: there is something to sync
	pushed bool          // one of ops' batches queued a push
	closed bool          // the writer has stopped
	busy   bool          // the syncer is syncing or answering a round
	wake   chan struct{} // to the syncer: ops were queued
	idle   chan struct{} // to the writer: the syncer may have become idle
}

// walFile is the syncer's descriptor on the WAL file.
type walFile struct {
	path string
	f    *os.File
	id   fsync.Identity // of f, when it was opened
}

// openWAL opens the WAL file of the database at path; Open has made the
// database WAL and read it, so the file exists.
func openWAL(path string) (*walFile, error) {
	w := &walFile{path: path + "-wal"}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *walFile) open() error {
	f, err := os.Open(w.path)
	if err != nil {
		return fmt.Errorf("opening the WAL to sync it: %w", err)
	}
	id, err := fsync.IdentityOfFile(f)
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.id = f, id
	return nil
}

// sync makes every write to the WAL file so far durable.
func (w *walFile) sync() error {
	// Not os.Stat: asking for the file's times would make the writer's
	// next write stamp a new one, and every fdatasync write the inode
	// too (fsync.Identity).
	id, err := fsync.IdentityOf(w.path)
	if err != nil {
		// Not while the writer's connection is open: our assumption is
		// broken, and what was committed may be in no file we can sync.
		return fmt.Errorf("WAL file: %w", err)
	}
	if !id.Same(w.id) {
		// Replaced: sync what was written to the old one, then follow
		// the path.
		old := w.f
		err := fsync.Datasync(old)
		old.Close()
		if err != nil {
			return err
		}
		if err := w.open(); err != nil {
			return err
		}
	}
	return fsync.Datasync(w.f)
}

func (w *walFile) close() error {
	return w.f.Close()
}

// handOff queues a batch's operations (their results in res) for the
// syncer; committed says the batch committed.
func (db *DB) handOff(batch []*op, committed, pushed bool) {
	q := &db.sq
	q.mu.Lock()
	q.ops = append(q.ops, batch...)
	q.commit = q.commit || committed
	q.pushed = q.pushed || pushed
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // already woken
	}
}

// syncerIdle reports whether the syncer has nothing to do: a batch
// committed now would be synced at once.
func (db *DB) syncerIdle() bool {
	q := &db.sq
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.busy && len(q.ops) == 0
}

// stopSyncer tells the syncer that nothing more comes once it has answered
// what is queued.
func (db *DB) stopSyncer() {
	db.sq.mu.Lock()
	db.sq.closed = true
	db.sq.mu.Unlock()
	select {
	case db.sq.wake <- struct{}{}:
	default:
	}
}

// syncer answers the operations the writer hands it, after a sync of the
// WAL that covers their commits, until the writer stops.
func (db *DB) syncer() {
	defer close(db.done)
	q := &db.sq
	var ops []*op
	for {
		q.mu.Lock()
		for len(q.ops) == 0 && !q.closed {
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		ops, q.ops = q.ops, ops[:0]
		commit, pushed, closed := q.commit, q.pushed, q.closed
		q.commit, q.pushed = false, false
		q.busy = true
		q.mu.Unlock()
		if len(ops) == 0 && closed {
			return
		}
		// A round without a commit has nothing of its own to sync, and
		// every commit handed over before it was synced in an earlier
		// round; its answers (refusals) still wait their turn, as one may
		// rest on an earlier batch's commit.
		var err error
		if commit {
			err = db.syncWAL()
		}
		// The push dispatcher may announce a message only once it is
		// durable: a push must not tell a device of a message that a
		// power loss could still take away. (It is woken before the
		// answers, as it was at commit time; the kick never blocks.)
		if pushed && err == nil {
			db.pushCommitted()
		}
		for _, o := range ops {
			r := o.res
			if r == nil {
				r = err
			}
			o.done <- r
		}
		clear(ops)
		q.mu.Lock()
		q.busy = false
		q.mu.Unlock()
		select {
		case q.idle <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// syncWAL runs one fdatasync of the WAL, or fails the store for good.
func (db *DB) syncWAL() error {
	if err := db.failure(); err != nil {
		return err // never sync again after a failed sync
	}
	var err error
	if h := hooksOf(db); h != nil && h.sync != nil {
		err = h.sync()
	}
	if err == nil {
		err = db.wal.sync()
	}
	db.commitsMu.Lock()
	db.syncs++
	db.commitsMu.Unlock()
	if err != nil {
		err = fmt.Errorf("%w: syncing the WAL: %v", ErrFailed, err)
		if db.failed.CompareAndSwap(nil, &err) {
			slog.Default().Error("store failed: commits may not be on disk; refusing all writes until restart",
				"db", db.path, "err", err)
		}
		return db.failure()
	}
	return nil
}

// ErrFailed is the error of every write after a failed sync of the WAL.
var ErrFailed = errors.New("store failed")

// failure returns the sticky failure, if the store has failed.
func (db *DB) failure() error {
	if p := db.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Syncs returns the number of syncs of the WAL run so far.
func (db *DB) Syncs() int64 {
	db.commitsMu.Lock()
	defer db.commitsMu.Unlock()
	return db.syncs
}
