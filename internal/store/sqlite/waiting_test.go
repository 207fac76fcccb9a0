package sqlite

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// checkWaiting fails unless the in-process counts equal the database's.
func checkWaiting(t *testing.T, db *DB, when string) map[string]int {
	t.Helper()
	want, err := db.countWaiting()
	if err != nil {
		t.Fatal(err)
	}
	db.wait.mu.RLock()
	got := maps.Clone(db.wait.n)
	db.wait.mu.RUnlock()
	if got == nil || !maps.Equal(got, want) {
		t.Fatalf("%s: counts %v, database %v", when, got, want)
	}
	return want
}

// TestWaitingCountsExact: the counts of undelivered messages that let a get
// skip SQL stay exact under concurrent sends, gets, reads, missed calls and
// expiry sharing batches, when an operation is undone, and after a restart.
func TestWaitingCountsExact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	var numbers []string
	var hashes []store.UUIDHash
	for i := range 4 {
		n := fmt.Sprint(2001 + i)
		numbers, hashes = append(numbers, n), append(hashes, store.UUIDHash{byte(i + 1)})
		if err := db.Register(ctx, n, hashes[i], now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Login(ctx, store.Device{Token: "t", AppID: "a", Build: "1", Name: "N", Locale: "en"}, hashes, now); err != nil {
		t.Fatal(err)
	}
	text := []byte("hello")
	blob := store.Blob{Hash: "h", Length: int64(len(text)), Inline: text}
	old := now.Add(-48 * time.Hour)

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				callees := numbers[1+(g+i)%3:]
				at := now
				if i%5 == 0 {
					at = old // for the expiry below
				}
				if _, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: callees, Blob: blob, Now: at}); err != nil {
					t.Error(err)
					return
				}
				msgs, _, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1+g%3 : 2+g%3], After: old.Unix() - 1, Limit: 2})
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 && len(msgs) > 0 { // reading a delivered message changes nothing here
					if err := db.MarkRead(ctx, []string{msgs[0].Callee}, []int64{msgs[0].ID}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	// Read receipts for undelivered messages, and missed calls, meanwhile.
	wg.Go(func() {
		for i := range 20 {
			r, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[3:], Blob: blob, Now: now})
			if err != nil {
				t.Error(err)
				return
			}
			if err := db.MarkRead(ctx, numbers[3:], []int64{r.MsgIDs[numbers[3]]}); err != nil {
				t.Error(err)
				return
			}
			id := fmt.Sprint("call-", i)
			if _, err := db.CreateCall(ctx, store.NewCall{ID: id, CallerHash: hashes[0], Callee: numbers[1+i%3],
				Now: now, RingDeadline: now.Add(time.Minute)}); err != nil {
				t.Error(err)
				return
			}
			if _, err := db.EndCall(ctx, store.CallEnd{ID: id, By: numbers[0], Now: now}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	before := checkWaiting(t, db, "after concurrent sends, gets, reads and missed calls")
	if len(before) == 0 {
		t.Fatal("nothing waits: the test shows nothing")
	}

	// An operation that stored a message and was then undone counts nothing.
	err = db.write(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`INSERT INTO messages(caller, caller_name, callee, time, uri, length) VALUES('2001', 'A', '2002', ?, 'u', 0)`, now.Unix()); err != nil {
			return err
		}
		tx.noteWaiting("2002", 1)
		return errors.New("undone")
	})
	if err == nil {
		t.Fatal("the undone operation succeeded")
	}
	if got := checkWaiting(t, db, "after an undone operation"); !maps.Equal(got, before) {
		t.Fatalf("an undone operation changed the counts: %v, before %v", got, before)
	}

	if _, err := db.ExpireMessages(ctx, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkWaiting(t, db, "after expiry")

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkWaiting(t, db, "after a restart")
	// Take everything: then the counts say nothing waits, and a get
	// answers from them alone.
	for {
		msgs, _, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers, After: old.Unix() - 1, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
	}
	if got := checkWaiting(t, db, "after taking everything"); len(got) != 0 {
		t.Fatalf("after taking everything %v still wait", got)
	}
	if db.wait.any(numbers) {
		t.Fatal("counts say something waits after everything was taken")
	}
}
