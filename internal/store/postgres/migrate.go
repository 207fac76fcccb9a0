package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A database's schema version is the one row of schema_version: the number
// of steps (schema.go) it has had, 0 for a new database. Each step runs
// once, in a transaction of its own that also raises the version, so a
// database has had each step wholly or not at all, whatever stops ringd in
// the middle (PostgreSQL's DDL is transactional).
//
// Every migrating transaction first takes a transaction-scoped advisory
// lock, so of several processes starting at once one runs a step while the
// others wait, then find it run. The lock is released by the commit or
// rollback itself: no session holds it after, even on a pooled connection.

// migrationLock is the advisory lock key of migrations. Advisory locks are
// per database, so databases of one server do not share it.
const migrationLock int64 = 0x72696e6764_01 // "ringd", 1

// step brings a database from one version to the next, inside the
// transaction that raises the version.
type step func(ctx context.Context, tx pgx.Tx) error

// newerSchemaError refuses a database whose version is newer than this
// ringd's steps: it does not know that schema.
type newerSchemaError struct {
	version, known int
}

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this ringd's (%d); upgrade ringd", e.version, e.known)
}

// migrate brings the database to the version of steps, running the steps
// it lacks in order. Each round either finds none lacking or raises the
// version by one.
func migrate(ctx context.Context, pool *pgxpool.Pool, steps []step) error {
	for range len(steps) + 1 {
		done, err := migrateStep(ctx, pool, steps)
		if err != nil || done {
			return err
		}
	}
	return errors.New("schema version did not reach the last step's")
}

// migrateStep runs the first step the database lacks, with its version's
// raise; done says it lacks none.
func migrateStep(ctx context.Context, pool *pgxpool.Pool, steps []step) (done bool, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		version, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case version > len(steps):
			return &newerSchemaError{version: version, known: len(steps)}
		case version == len(steps):
			done = true
			return nil
		}
		if err := steps[version](ctx, tx); err != nil {
			return fmt.Errorf("schema step %d: %w", version+1, err)
		}
		_, err = tx.Exec(ctx, `UPDATE schema_version SET version = $1`, version+1)
		return err
	})
	return done, err
}

// schemaVersion reads the version inside tx, which holds the migration
// lock, making the table of a new database.
func schemaVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version(
		one     boolean PRIMARY KEY DEFAULT true CHECK (one),
		version integer NOT NULL
	)`)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version(version) VALUES(0) ON CONFLICT DO NOTHING`); err != nil {
		return 0, err
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
	return version, err
}
