package postgres_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

// The guarantee that keeps a send's data from the sweep: a send writes
// its object whole before the transaction naming it begins, and no data
// row is ever shared between sends, so the only unnamed object a send
// needs is its own, between its put and its commit; the sweep deletes
// only objects older than the orphan grace, so the grace must exceed the
// longest send. Here a send is held between its put and its commit (its
// callee's row locked) while another node sweeps: with a grace longer
// than the send, its data reads back whole; with a grace shorter, the
// sweep takes the object, which shows the check can fail.
func TestSweepSparesSendInFlight(t *testing.T) {
	for _, c := range []struct {
		name     string
		grace    time.Duration
		survives bool
	}{
		{"grace longer than the send", time.Minute, true},
		{"grace shorter than the send", time.Nanosecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b, objects, url := twoNodesWithObjects(t, c.grace)
			numbers := online(t, a, 2)
			ctx := t.Context()
			unlock := lockNumber(t, url, numbers[1])
			file, data := fileOf(numbers[1])
			sent := make(chan error, 1)
			var res store.SendResult
			go func() {
				var err error
				res, err = a.Send(ctx, file)
				sent <- err
			}()
			waitForObjects(t, objects, 1)
			time.Sleep(1100 * time.Millisecond)                       // older than a short grace: object times have whole seconds
			if err := b.Expire(ctx, t0.Add(-time.Hour)); err != nil { // b's first sweep; no message expires
				t.Fatal(err)
			}
			unlock()
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			m, err := a.Message(ctx, res.MsgIDs[numbers[1]])
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(ctx, a, m)
			if whole := err == nil && bytes.Equal(got, data); whole != c.survives {
				t.Fatalf("data read back whole: %v (%d of %d bytes, %v), want %v", whole, len(got), len(data), err, c.survives)
			}
		})
	}
}

// lockNumber locks number's row, as a send to it does, until unlock.
func lockNumber(t *testing.T, url, number string) (unlock func()) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM numbers WHERE number = $1 FOR UPDATE`, number); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// waitForObjects waits until the bucket holds n objects.
func waitForObjects(t *testing.T, objects *s3.Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(objectNames(t, objects)) != n; {
		if time.Now().After(deadline) {
			t.Fatalf("bucket never held %d objects", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAll reads m's data through db, as a fetch does.
func readAll(ctx context.Context, db *postgres.DB, m store.Message) ([]byte, error) {
	rc, err := db.OpenData(ctx, m, 0, m.Length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
