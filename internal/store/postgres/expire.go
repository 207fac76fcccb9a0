package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// expireBatch bounds the rows one expiry transaction deletes: each holds
// the locks of only so many rows, and briefly, so sends and gets running
// meanwhile never wait long behind it.
const expireBatch = 1000

// expiryLock is the advisory lock key that makes expiry transactions of
// several processes take turns: two at once could each delete one of a
// send's last two messages, each still see the other's, and leave the
// send's data row with no message and no one to delete it.
const expiryLock int64 = 0x72696e6764_02 // "ringd", 2

// Expire deletes, in small transactions of their own, the messages stored
// before before with the data rows only they named, the idempotency
// records as old, and pushes older than the messages they announce (left
// only when push was configured and no longer is); then deletes the
// objects of the data it deleted, and, at most every sweepEvery, sweeps
// the bucket for orphans.
func (db *DB) Expire(ctx context.Context, before time.Time) error {
	cut := before.Unix()
	for {
		n, objects, err := db.expireBatch(ctx, cut)
		if err != nil {
			return err
		}
		// Committed: no row names these objects now, but a reader
		// opened before may still be reading one.
		db.doom(objects)
		if n < expireBatch {
			break
		}
	}
	for _, q := range []string{
		`DELETE FROM sends WHERE (caller, cid) IN (SELECT caller, cid FROM sends WHERE time < $1 LIMIT 1000)`,
		`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created < $1::bigint * 1000 LIMIT 1000)`,
	} {
		if err := db.deleteInBatches(ctx, q, cut); err != nil {
			return err
		}
	}
	if err := db.deleteDoomed(ctx); err != nil {
		return err
	}
	return db.maybeSweep(ctx)
}

// doomed are objects whose rows expiry has deleted, kept for readers
// that opened them before (OpenData's promise) until they are
// orphanGrace old: then deleteDoomed deletes them. Those a restart
// forgets are orphans, which the sweep deletes.
type doomed struct {
	mu    sync.Mutex // guards the following
	since map[string]time.Time
}

// doom notes names as doomed from now.
func (db *DB) doom(names []string) {
	if len(names) == 0 {
		return
	}
	db.doomed.mu.Lock()
	defer db.doomed.mu.Unlock()
	if db.doomed.since == nil {
		db.doomed.since = map[string]time.Time{}
	}
	now := time.Now()
	for _, n := range names {
		db.doomed.since[n] = now
	}
}

// isDoomed reports whether name waits in doomed, not to be swept.
func (db *DB) isDoomed(name string) bool {
	db.doomed.mu.Lock()
	defer db.doomed.mu.Unlock()
	_, ok := db.doomed.since[name]
	return ok
}

// deleteDoomed deletes the doomed objects that are orphanGrace old.
func (db *DB) deleteDoomed(ctx context.Context) error {
	var due []string
	db.doomed.mu.Lock()
	for n, t := range db.doomed.since {
		if time.Since(t) >= db.orphanGrace {
			due = append(due, n)
		}
	}
	db.doomed.mu.Unlock()
	for _, n := range due {
		if err := db.objects.Delete(ctx, n); err != nil {
			return err // it stays doomed, for the next expiry
		}
		db.doomed.mu.Lock()
		delete(db.doomed.since, n)
		db.doomed.mu.Unlock()
	}
	return nil
}

// expireBatch deletes up to expireBatch messages stored before cut, and
// the data rows no other message names; it returns how many messages it
// deleted and the objects of the data rows it deleted.
func (db *DB) expireBatch(ctx context.Context, cut int64) (int, []string, error) {
	var n int
	var objects []string
	err := db.write(ctx, func(tx *wtx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, expiryLock); err != nil {
			return err
		}
		// The statement's snapshot still shows the messages it deletes,
		// so "no other message" leaves out those by id.
		return tx.QueryRow(ctx, `WITH gone AS (
				DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE time < $1 LIMIT $2)
				RETURNING id, data
			), freed AS (
				DELETE FROM data d WHERE d.name IN (SELECT data FROM gone WHERE data IS NOT NULL)
					AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.data = d.name AND m.id NOT IN (SELECT id FROM gone))
				RETURNING d.name, d.inline IS NULL AS external
			)
			SELECT (SELECT count(*) FROM gone), coalesce((SELECT array_agg(name) FROM freed WHERE external), '{}')`,
			cut, expireBatch).Scan(&n, &objects)
	})
	return n, objects, err
}

// deleteInBatches runs the DELETE q, bounded by its own LIMIT of 1000,
// until it deletes fewer.
func (db *DB) deleteInBatches(ctx context.Context, q string, cut int64) error {
	for {
		var n int64
		err := db.write(ctx, func(tx *wtx) error {
			tag, err := tx.Exec(ctx, q, cut)
			n = tag.RowsAffected()
			return err
		})
		if err != nil || n < 1000 {
			return err
		}
	}
}

// maybeSweep sweeps the object store for orphans if it is sweepEvery since
// the last sweep of this process.
func (db *DB) maybeSweep(ctx context.Context) error {
	if db.objects == nil {
		return nil
	}
	now := time.Now()
	last := db.lastSweep.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < sweepEvery {
		return nil
	}
	if !db.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return nil // another Expire of this process sweeps
	}
	_, err := db.sweepObjects(ctx, now.Add(-db.orphanGrace))
	return err
}

// counters are figures of the engine's work, for Metrics.
type counters struct {
	commits  atomic.Int64 // write transactions committed
	sends    atomic.Int64 // sends stored (not replays)
	messages atomic.Int64 // messages those sends stored
}

// Metrics are the engine's figures for /metrics: its commits and sends
// (their ratio is the sends per commit), and its pool's connections.
func (db *DB) Metrics() []store.Metric {
	counter := func(name, help string, v *atomic.Int64) store.Metric {
		return store.Metric{Name: name, Help: help, Value: func() float64 { return float64(v.Load()) }}
	}
	return []store.Metric{
		counter("ringd_postgres_commits_total", "Write transactions committed on PostgreSQL.", &db.stats.commits),
		counter("ringd_postgres_sends_total", "Sends stored on PostgreSQL (replays of a cid not counted).", &db.stats.sends),
		counter("ringd_postgres_messages_total", "Messages stored on PostgreSQL by sends.", &db.stats.messages),
		{Name: "ringd_postgres_pool_acquired_conns", Help: "PostgreSQL connections in use.", Gauge: true,
			Value: func() float64 { return float64(db.pool.Stat().AcquiredConns()) }},
		{Name: "ringd_postgres_pool_total_conns", Help: "PostgreSQL connections open.", Gauge: true,
			Value: func() float64 { return float64(db.pool.Stat().TotalConns()) }},
		{Name: "ringd_postgres_pool_acquire_wait_seconds_total", Help: "Time requests waited for a PostgreSQL connection.",
			Value: func() float64 { return db.pool.Stat().AcquireDuration().Seconds() }},
	}
}

var _ store.Store = (*DB)(nil)
var _ store.Instrumented = (*DB)(nil)
