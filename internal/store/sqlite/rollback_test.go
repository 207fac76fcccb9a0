package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// When SQLite rolls back the whole shared transaction (as it does on a full
// disk or an I/O error), the operations of the batch that ran before are
// undone and must not be answered as done, and those after must not run
// outside a transaction.
func TestWholeTransactionRollbackFailsTheBatch(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "r.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	// Hold the writer so that the next three operations share its batch.
	release := make(chan struct{})
	held := make(chan error, 1)
	go func() { held <- db.write(ctx, func(*wtx) error { <-release; return nil }) }()
	waitQueued := func(n int) {
		for deadline := time.Now().Add(10 * time.Second); len(db.ops) < n; {
			if time.Now().After(deadline) {
				t.Fatalf("%d operations queued, want %d", len(db.ops), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitQueued(0)
	time.Sleep(10 * time.Millisecond) // let the writer take the holding op

	insert := func(number string) func(*wtx) error {
		return func(tx *wtx) error {
			_, err := tx.exec(`INSERT INTO numbers(number, uuid_hash, created) VALUES(?, ?, 0)`, number, []byte(number))
			return err
		}
	}
	boom := errors.New("disk full")
	results := make([]chan error, 3)
	fns := []func(*wtx) error{
		insert("1001"),
		func(tx *wtx) error {
			tx.db.wexec(context.Background(), "ROLLBACK") // what SQLite does itself on SQLITE_FULL
			return boom
		},
		insert("1002"),
	}
	for i, fn := range fns {
		results[i] = make(chan error, 1)
		go func() { results[i] <- db.write(ctx, fn) }()
		waitQueued(i + 1)
	}
	close(release)
	// The three were queued when the holding operation finished, so they
	// joined its batch (DB.more): it is undone with them.
	if err := <-held; err == nil {
		t.Error("the holding operation, in the rolled back batch, was answered as done")
	}
	if err := <-results[0]; err == nil {
		t.Error("the operation before the rollback was answered as done")
	}
	if err := <-results[1]; !errors.Is(err, boom) {
		t.Errorf("the failing operation: %v", err)
	}
	if err := <-results[2]; !errors.Is(err, store.ErrBusy) {
		t.Errorf("the operation after the rollback: %v, want busy", err)
	}
	var n int
	if err := db.read.QueryRow(`SELECT count(*) FROM numbers`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d numbers stored, want 0", n)
	}
	// The writer goes on working.
	if err := db.write(ctx, insert("1003")); err != nil {
		t.Fatal(err)
	}
}
