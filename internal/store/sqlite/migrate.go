package sqlite

import (
	"context"
	"errors"
	"fmt"
)

// A database's schema version is its PRAGMA user_version: the number of
// steps (schema.go) it has had, 0 for a new database and for one made
// before versions. Each step runs once, in a transaction of its own that
// also bumps the version, so a database has had each step wholly or not
// at all, whatever stops ringd in the middle.

// step brings a database from one version to the next, inside the
// transaction that bumps the version.
type step func(ctx context.Context, w *wconn) error

// newerSchemaError refuses a database whose version is newer than this
// ringd's steps: it does not know that schema.
type newerSchemaError struct {
	version, known int
}

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this ringd (%d); upgrade ringd", e.version, e.known)
}

// migrate brings the database on w, outside any transaction, to the
// version of steps, running the steps it lacks in order. Each round
// either finds none lacking or raises the version by one.
func migrate(ctx context.Context, w *wconn, steps []step) error {
	for range len(steps) + 1 {
		done, err := migrateStep(ctx, w, steps)
		if err != nil || done {
			return err
		}
	}
	return errors.New("schema version did not reach the last step's")
}

// migrateStep runs the first step the database lacks, with its version's
// bump; done says it lacks none. The version is read inside the
// transaction, which takes the write lock at once (IMMEDIATE): another
// process opening the database at the same time has run the step wholly
// before, or waits and finds it run.
func migrateStep(ctx context.Context, w *wconn, steps []step) (done bool, err error) {
	if err := w.run(ctx, "BEGIN IMMEDIATE"); err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			w.run(ctx, "ROLLBACK")
		}
	}()
	var version int
	if err := w.queryRow(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, err
	}
	switch {
	case version > len(steps):
		return false, &newerSchemaError{version: version, known: len(steps)}
	case version == len(steps):
		return true, w.run(ctx, "COMMIT")
	}
	if err := steps[version](ctx, w); err != nil {
		return false, fmt.Errorf("schema step %d: %w", version+1, err)
	}
	if err := w.run(ctx, fmt.Sprintf("PRAGMA user_version = %d", version+1)); err != nil {
		return false, err
	}
	return false, w.run(ctx, "COMMIT")
}
