package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/sqlite"
)

// historyOf returns how many messages number has, read on the read pool.
func historyOf(t *testing.T, db *sqlite.DB, number string) int {
	t.Helper()
	msgs, _, err := db.History(context.Background(), store.GetQuery{Callees: []string{number},
		After: time.Now().Add(-time.Hour).Unix(), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// Concurrent writes are all stored, and share commits and syncs.
func TestConcurrentWritesShareSyncs(t *testing.T) {
	db, numbers, hashes := benchDB(t, 2)
	ctx := context.Background()
	const senders, each = 64, 10
	var seq atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	c0, s0 := db.Commits(), db.Syncs()
	for range senders {
		wg.Go(func() {
			<-start
			for range each {
				if _, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:],
					Data: bytes.NewReader(textBlob(seq.Add(1))), Length: 100, Now: time.Now()}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	commits, syncs, sends := db.Commits()-c0, db.Syncs()-s0, int64(senders*each)
	t.Logf("%d sends in %d commits and %d syncs", sends, commits, syncs)
	if syncs > commits {
		t.Errorf("%d syncs for %d commits: at most one per commit", syncs, commits)
	}
	if syncs*4 > sends {
		t.Errorf("%d sends took %d syncs: they are not shared", sends, syncs)
	}
	if n := historyOf(t, db, numbers[1]); n != int(sends) {
		t.Fatalf("%d messages stored, want %d", n, sends)
	}
}

// A failed sync answers what waited for it with an error, and the store
// refuses every write after it; it does not sync again.
func TestFailedSyncFailsTheStore(t *testing.T) {
	db, numbers, hashes := benchDB(t, 2)
	ctx := context.Background()
	eio := errors.New("input/output error")
	var calls atomic.Int64
	sqlite.SetSyncHook(db, func() error { calls.Add(1); return eio })
	s0 := db.Syncs()
	_, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(1)), Length: int64(len(textBlob(1))), Now: time.Now()})
	if !errors.Is(err, sqlite.ErrFailed) {
		t.Fatalf("send whose sync failed: %v, want ErrFailed", err)
	}
	for i := range 3 {
		_, err = db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(int64(2 + i))), Length: int64(len(textBlob(int64(2 + i)))), Now: time.Now()})
		if !errors.Is(err, sqlite.ErrFailed) {
			t.Fatalf("send after a failed sync: %v, want ErrFailed", err)
		}
	}
	if err := db.Register(ctx, "77777777", store.UUIDHash{7}, time.Now()); !errors.Is(err, sqlite.ErrFailed) {
		t.Fatalf("register after a failed sync: %v, want ErrFailed", err)
	}
	if c, s := calls.Load(), db.Syncs()-s0; c != 1 || s != 1 {
		t.Errorf("%d syncs attempted (%d counted), want 1: a failed sync is not retried", c, s)
	}
	// Reads go on.
	if _, err := db.Message(ctx, 1); err != nil && !errors.Is(err, store.ErrBadMsgID) {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
