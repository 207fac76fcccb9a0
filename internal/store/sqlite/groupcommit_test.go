package sqlite_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// TestGroupCommit: sends made at once share commits, and each returns only
// once its message is committed, so all are there after.
func TestGroupCommit(t *testing.T) {
	db, numbers, hashes := benchDB(t, 2)
	ctx := context.Background()
	const senders, each = 64, 10
	var seq atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	c0 := db.Commits()
	for range senders {
		wg.Go(func() {
			<-start // all at once, so they queue for the writer together
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
	commits, sends := db.Commits()-c0, int64(senders*each)
	t.Logf("%d sends in %d commits", sends, commits)
	// One commit per send would be 640. With the syncer the writer commits
	// once per sync (walsync.go), so 64 senders released at once share each
	// commit many ways, under -race too; a quarter of the sends is the bound.
	if commits*4 > sends {
		t.Errorf("%d sends took %d commits: group commit is not sharing them", sends, commits)
	}
	msgs, more, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1:], After: time.Now().Add(-time.Hour).Unix(), Limit: 1000}, nil)
	if err != nil || more || len(msgs) != int(sends) {
		t.Fatalf("after the sends %d messages wait (more %v, %v), want %d", len(msgs), more, err, sends)
	}
}
