// Package postgres is ringd's storage engine on PostgreSQL, for deployments
// that outgrow one machine: several stateless ringd nodes share one
// database (and, for large message data, an object store: internal/blob/s3).
//
// Every method is safe under concurrent use from many connections and many
// nodes. A change is one transaction at READ COMMITTED: rows a change
// depends on are locked (FOR UPDATE) in a fixed order, so that concurrent
// changes queue rather than deadlock, and state changes are compare-and-set
// updates, so that of racing changes exactly one applies. Serialization
// failures and deadlocks (40001, 40P01), which PostgreSQL may still raise,
// are retried whole.
//
// Message data lives in PostgreSQL, or above a threshold in an object
// store (data.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ringd/ringd/internal/store"
)

// DB is a ringd database on PostgreSQL.
type DB struct {
	pool     *pgxpool.Pool
	warnings []string

	objects     ObjectStore // nil: all data in PostgreSQL
	threshold   int64       // data longer goes to objects
	orphanGrace time.Duration
	lastSweep   atomic.Int64 // Unix nanoseconds of the last object sweep
	stats       counters
	group       grouper // sends waiting to be stored together (group.go)

	pushWanted atomic.Pointer[func(appid string) bool]
	pushKick   atomic.Pointer[func()]
	pushLease  atomic.Int64 // milliseconds a node's claim on a push lasts (claims.go)
}

// Options tune Open; the zero value is usable.
type Options struct {
	// MaxConns bounds the pool's connections; 0 is the URL's
	// pool_max_conns, or defaultMaxConns.
	MaxConns int32
	// Objects keeps the data longer than ObjectThreshold (default
	// DefaultObjectThreshold); nil keeps all data in PostgreSQL.
	Objects         ObjectStore
	ObjectThreshold int64
	// OrphanGrace is how old an object no row names must be before the
	// sweep deletes it (default DefaultOrphanGrace): longer than any send
	// takes from its object's put to its commit.
	OrphanGrace time.Duration
}

// defaultMaxConns is the pool's size unless set: requests wait on
// PostgreSQL (a commit's flush), not on CPU, so more run at once than the
// machine has cores, and commits that wait together share a flush.
const defaultMaxConns = 16

// connectTimeout bounds how long Open waits for a server that does not
// answer.
const connectTimeout = 10 * time.Second

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string), brings its schema up to this ringd's version, and
// checks its settings. A server that cannot be reached, and a schema newer
// than this ringd knows, fail with a message saying so.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx takes the password out of the URL it quotes.
		return nil, fmt.Errorf("postgres: database URL: %w", err)
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, objects: opts.Objects, threshold: opts.ObjectThreshold, orphanGrace: opts.OrphanGrace}
	if db.threshold <= 0 {
		db.threshold = DefaultObjectThreshold
	}
	if db.orphanGrace <= 0 {
		db.orphanGrace = DefaultOrphanGrace
	}
	if err := db.start(ctx, cfg); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// start checks the connection, migrates, and reads the settings.
func (db *DB) start(ctx context.Context, cfg *pgxpool.Config) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: cannot reach database %q on %s:%d: %w",
			cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := migrate(ctx, db.pool, steps); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var syncCommit string
	if err := db.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&syncCommit); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if syncCommit == "off" {
		db.warnings = append(db.warnings, "PostgreSQL has synchronous_commit off: a send answered 10000 "+
			"may be lost if the database server crashes; set synchronous_commit = on")
	}
	return nil
}

// Warnings are what Open found wrong but not fatal, for the caller to log.
func (db *DB) Warnings() []string { return db.warnings }

// Close closes the pool's connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// maxAttempts bounds how often a transaction that failed with a
// serialization failure or deadlock is run again.
const maxAttempts = 10

// retryable reports whether err is a failure PostgreSQL asks the client to
// retry: the transaction changed nothing.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// wtx is a write transaction.
type wtx struct {
	pgx.Tx
	db     *DB
	pushed bool // a push was queued: kick the dispatcher after commit
}

// write runs fn in a transaction and commits it, running it again on a
// serialization failure or deadlock (fn must be safe to run again: it
// keeps its results only from its last run). The store's own errors from
// fn come back unchanged.
func (db *DB) write(ctx context.Context, fn func(tx *wtx) error) error {
	var tx *wtx
	err := db.retry(ctx, func() error {
		tx = &wtx{db: db}
		return pgx.BeginFunc(ctx, db.pool, func(t pgx.Tx) error {
			tx.Tx = t
			return fn(tx)
		})
	})
	if err != nil {
		return err
	}
	db.stats.commits.Add(1)
	if tx.pushed {
		db.pushCommitted()
	}
	return nil
}

// retry runs fn, which changes the database in one transaction, again on
// a serialization failure or deadlock, up to maxAttempts in all.
func (db *DB) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if !retryable(err) || attempt == maxAttempts {
			return mapErr(err)
		}
		// Jitter keeps the transactions that collided from colliding
		// again in step.
		pause := time.Duration(rand.Int64N(int64(attempt) * int64(2*time.Millisecond)))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// mapErr turns PostgreSQL's errors into the store's where the server maps
// them to a protocol code.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "53100": // disk_full
		return fmt.Errorf("%w: %v", store.ErrDiskFull, err)
	case pe.Code == "53300", pe.Code == "57P03", retryable(err): // too many connections, cannot connect now
		return fmt.Errorf("%w: %v", store.ErrBusy, err)
	}
	return err
}

// notFound reports whether err is a query's "no rows".
func notFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// uniqueViolation reports whether err is a unique key's violation.
func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// ms is t in Unix milliseconds, 0 for the zero time; fromMS its inverse.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// forEach scans each row of rows into scans and calls fn, then closes rows.
func forEach(rows pgx.Rows, scans []any, fn func()) error {
	_, err := pgx.ForEachRow(rows, scans, func() error {
		fn()
		return nil
	})
	return err
}
