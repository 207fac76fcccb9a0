package postgres

import (
	"context"
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
		n, err := db.expireBatch(ctx, cut)
		if err != nil {
			return err
		}
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

// Doomed objects: an object whose data row expiry deleted is listed in
// doomed_objects (in the transaction that deleted the row) and kept there
// for orphanGrace, for readers that opened it before (OpenData's promise);
// then deleteDoomed, or the sweep of whichever node holds the janitor's
// lease, deletes it and its listing. Times are PostgreSQL's clock, so the
// grace is the same whichever node looks.

// nowMillis is PostgreSQL's clock in Unix milliseconds.
const nowMillis = `(extract(epoch from clock_timestamp()) * 1000)::bigint`

// deleteDoomed deletes the doomed objects that are orphanGrace old, and
// their listings; a failed delete leaves the listing for the next expiry.
func (db *DB) deleteDoomed(ctx context.Context) error {
	if db.objects == nil {
		return nil
	}
	var due []string
	err := db.pool.QueryRow(ctx, `SELECT coalesce(array_agg(name), '{}') FROM
			(SELECT name FROM doomed_objects WHERE since <= `+nowMillis+` - $1 LIMIT 1000) d`,
		db.orphanGrace.Milliseconds()).Scan(&due)
	if err != nil {
		return mapErr(err)
	}
	for _, n := range due {
		if err := db.deleteObject(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// deleteObject deletes the object name, then its listing in
// doomed_objects if it had one: in that order, so that a failure between
// leaves a listing of nothing rather than an object the sweep could
// take for an orphan too early.
func (db *DB) deleteObject(ctx context.Context, name string) error {
	if err := db.objects.Delete(ctx, name); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM doomed_objects WHERE name = $1`, name)
	return mapErr(err)
}

// expireBatch deletes up to expireBatch messages stored before cut, and
// the data rows no other message names; it returns how many messages it
// deleted. The objects of the data rows it deleted are listed as doomed
// in the same transaction: no row names them now, but a reader opened
// before may still be reading one.
func (db *DB) expireBatch(ctx context.Context, cut int64) (int, error) {
	var n int
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
			), doomed AS (
				INSERT INTO doomed_objects(name, since) SELECT name, `+nowMillis+` FROM freed WHERE external
				ON CONFLICT (name) DO NOTHING
			)
			SELECT count(*) FROM gone`,
			cut, expireBatch).Scan(&n)
	})
	return n, err
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
	// pushDeletes are the statements that deleted pushes from the
	// outbox, each a commit of its own.
	pushDeletes atomic.Int64
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
		counter("ringd_postgres_push_deletes_total", "Statements that deleted pushes from the outbox, each a commit of its own.",
			&db.stats.pushDeletes),
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
