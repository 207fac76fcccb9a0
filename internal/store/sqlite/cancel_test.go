package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestCanceledOpLeavesBatchWhole: one operation of a group commit whose
// request is canceled while its statement runs must fail alone. SQLite's
// interrupt, which a canceled context triggers, rolls back the whole open
// transaction, so the others sharing the batch would lose their writes (or
// be answered an error, or run outside any transaction) if the writer let a
// request's cancellation reach the connection.
func TestCanceledOpLeavesBatchWhole(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bg := context.Background()

	// Hold the writer so that A and B queue and run in one batch.
	hold, release := make(chan struct{}), make(chan struct{})
	go db.write(bg, func(tx *wtx) error { close(hold); <-release; return nil })
	<-hold

	errA := make(chan error, 1)
	go func() {
		errA <- db.write(bg, func(tx *wtx) error {
			_, err := tx.exec(`INSERT INTO reserved(number) VALUES('111')`)
			return err
		})
	}()
	ctxB, cancel := context.WithCancel(bg)
	started := make(chan struct{})
	errB := make(chan error, 1)
	go func() {
		errB <- db.write(ctxB, func(tx *wtx) error {
			close(started)
			// A statement long enough to be interrupted.
			_, err := tx.exec(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 4000000)
				INSERT INTO reserved(number) SELECT 'b' || x FROM c WHERE x % 1000000 = 0`)
			return err
		})
	}()
	// Let both queue behind the held op before releasing it.
	for len(db.ops) < 2 {
		select {
		case err := <-errA:
			t.Fatalf("A ran early: %v", err)
		default:
		}
	}
	close(release)
	<-started
	// Cancel once the statement runs (a context canceled before it starts
	// is refused by database/sql without reaching SQLite): the statement
	// takes far longer than this wait.
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-errB; err == nil {
		t.Log("B finished before its cancellation reached it")
	}
	if err := <-errA; err != nil {
		t.Fatalf("A failed because B was canceled: %v", err)
	}
	var n int
	if err := db.read.QueryRow(`SELECT count(*) FROM reserved WHERE number = '111'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatal("A's write was lost with B's cancellation")
	}
	// The writer still works, in transactions.
	if err := db.write(bg, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO reserved(number) VALUES('222')`)
		return err
	}); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
