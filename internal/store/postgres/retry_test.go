package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/testsrv"
)

// raise makes the server fail the transaction with SQLSTATE code.
func raise(ctx context.Context, tx *wtx, code string) error {
	_, err := tx.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '`+code+`'; END $$`)
	return err
}

// A transaction that fails with a serialization failure or a deadlock runs
// again, keeping only its last run's changes; one that keeps failing ends
// as ErrBusy; other errors are not retried.
func TestWriteRetries(t *testing.T) {
	db, err := Open(t.Context(), testsrv.Postgres(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	for _, code := range []string{"40001", "40P01"} {
		runs := 0
		err := db.write(ctx, func(tx *wtx) error {
			runs++
			if _, err := tx.Exec(ctx, `INSERT INTO reserved(number) VALUES('r'||$1::text)`, code); err != nil {
				return err
			}
			if runs < 3 {
				return raise(ctx, tx, code)
			}
			return nil
		})
		if err != nil || runs != 3 {
			t.Fatalf("%s twice, then success: %v after %d runs", code, err, runs)
		}
		var n int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM reserved WHERE number = 'r'||$1::text`, code).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s: %d rows kept (%v), want the last run's one", code, n, err)
		}
	}
	runs := 0
	err = db.write(ctx, func(tx *wtx) error { runs++; return raise(ctx, tx, "40P01") })
	if !errors.Is(err, store.ErrBusy) || runs != maxAttempts {
		t.Fatalf("deadlock every time: %v after %d runs, want ErrBusy after %d", err, runs, maxAttempts)
	}
	runs = 0
	err = db.write(ctx, func(tx *wtx) error { runs++; return raise(ctx, tx, "23505") })
	if err == nil || errors.Is(err, store.ErrBusy) || runs != 1 {
		t.Fatalf("unique violation: %v after %d runs, want it once, as it is", err, runs)
	}
}
