package sqlite_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/sqlite"
)

// The store's writer goes through the WAL write joiner: concurrent sends
// to many numbers, committed in batches, reach the WAL in far fewer writes
// than SQLite makes, and every one is there after a reopen.
func TestWALJoinUnderTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringd.db")
	db, numbers, hashes := benchDBAt(t, path, 51)
	ctx := context.Background()
	const each = 20
	var seq atomic.Int64
	in0, out0 := sqlite.WALJoinCounts()
	var wg sync.WaitGroup
	for _, callee := range numbers[1:] {
		wg.Go(func() {
			for range each {
				if _, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: []string{callee},
					Data: bytes.NewReader(textBlob(seq.Add(1))), Length: 100, Now: time.Now()}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	in, out := sqlite.WALJoinCounts()
	in, out = in-in0, out-out0
	t.Logf("%d sends in %d commits: %d writes from SQLite, %d to the WAL", seq.Load(), db.Commits(), in, out)
	if in == 0 || out*3 > in {
		t.Fatalf("%d writes from SQLite became %d writes to the WAL: not joined", in, out)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, more, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1:], After: time.Now().Add(-time.Hour).Unix(), Limit: 5000}, nil)
	if err != nil || more || len(msgs) != int(seq.Load()) {
		t.Fatalf("after a reopen %d messages wait (more %v, %v), want %d", len(msgs), more, err, seq.Load())
	}
}
