package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// checkWaiting fails unless the in-process counts equal the database's,
// and every number's held messages are exactly what a get reads from it.
func checkWaiting(t *testing.T, db *DB, when string) map[string]int {
	t.Helper()
	want, err := db.countWaiting()
	if err != nil {
		t.Fatal(err)
	}
	db.wait.mu.RLock()
	defer db.wait.mu.RUnlock()
	if db.wait.n == nil {
		t.Fatalf("%s: counts unknown", when)
	}
	got := map[string]int{}
	held := 0
	for c, l := range db.wait.n {
		got[c] = l.count
		for i := range l.msgs {
			held += msgSize(&l.msgs[i])
		}
		if !l.complete {
			continue
		}
		rows, err := db.rquery(context.Background(), `SELECT `+messageColumns+messageFrom+`WHERE m.callee = ? AND m.`+afterCursor+` ORDER BY m.id`, c)
		if err != nil {
			t.Fatal(err)
		}
		read, _, err := collect(rows, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(read, l.msgs) {
			t.Fatalf("%s: %s holds %+v, database %+v", when, c, l.msgs, read)
		}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%s: counts %v, database %v", when, got, want)
	}
	if held != db.wait.held {
		t.Fatalf("%s: %d bytes held, counted %d", when, held, db.wait.held)
	}
	return want
}

// TestWaitingCountsExact: the counts of undelivered messages that let a get
// skip SQL stay exact under concurrent sends, gets, reads, missed calls and
// expiry sharing batches, when an operation is undone, and after a restart.
func TestWaitingCountsExact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	now := time.Unix(1_800_000_000, 0)
	numbers := []string{"2001", "2002", "2003", "2004"}
	db, hashes := openWithNumbers(t, path, numbers, "t", now)
	ctx := context.Background()
	text := []byte("hello")
	blob := text
	old := now.Add(-48 * time.Hour)

	waitingLoad(t, db, numbers, hashes[0], blob, now, old)
	if t.Failed() {
		db.Close()
		return
	}
	before := checkWaiting(t, db, "after concurrent sends, gets, reads and missed calls")
	if len(before) == 0 {
		t.Fatal("nothing waits: the test shows nothing")
	}
	undoneStoreCountsNothing(t, db, now, before)
	if _, err := db.expireMessages(ctx, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkWaiting(t, db, "after expiry")

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkWaiting(t, db, "after a restart")
	takeEverything(t, db, numbers, old)
	heldGetIntoBuffer(t, db, numbers, hashes[0], blob, now, old)
}

// waitingLoad sends, gets, reads and ends missed calls concurrently, from
// sender to numbers[1:]; one send in five is at old, for an expiry.
func waitingLoad(t *testing.T, db *DB, numbers []string, sender store.UUIDHash, blob []byte, now, old time.Time) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				callees := numbers[1+(g+i)%3:]
				at := now
				if i%5 == 0 {
					at = old // for the expiry
				}
				if _, err := db.Send(ctx, store.NewMessages{SenderHash: sender, Callees: callees, Data: bytes.NewReader(blob), Length: int64(len(blob)), Now: at}); err != nil {
					t.Error(err)
					return
				}
				msgs, _, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1+g%3 : 2+g%3], After: old.Unix() - 1, Limit: 2}, nil)
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
			if err := readAndMissedCall(db, numbers, sender, blob, now, i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
}

// readAndMissedCall sends to numbers[3] and marks it read before it is
// delivered, and ends the i-th call from numbers[0] unanswered.
func readAndMissedCall(db *DB, numbers []string, sender store.UUIDHash, blob []byte, now time.Time, i int) error {
	ctx := context.Background()
	r, err := db.Send(ctx, store.NewMessages{SenderHash: sender, Callees: numbers[3:], Data: bytes.NewReader(blob), Length: int64(len(blob)), Now: now})
	if err != nil {
		return err
	}
	if err := db.MarkRead(ctx, numbers[3:], []int64{r.MsgIDs[numbers[3]]}); err != nil {
		return err
	}
	id := fmt.Sprint("call-", i)
	if _, err := db.CreateCall(ctx, store.NewCall{ID: id, CallerHash: sender, Callee: numbers[1+i%3],
		Now: now, RingDeadline: now.Add(time.Minute)}); err != nil {
		return err
	}
	_, err = db.EndCall(ctx, store.CallEnd{ID: id, By: numbers[0], Now: now})
	return err
}

// undoneStoreCountsNothing checks that an operation that stored a message
// and was then undone counts nothing.
func undoneStoreCountsNothing(t *testing.T, db *DB, now time.Time, before map[string]int) {
	t.Helper()
	err := db.write(context.Background(), func(tx *wtx) error {
		r, err := tx.exec(`INSERT INTO messages(caller, caller_name, callee, time, uri, length, fname) VALUES('2001', 'A', '2002', ?, 'u', 0, 'f')`, now.Unix())
		if err != nil {
			return err
		}
		id, err := r.LastInsertId()
		if err != nil {
			return err
		}
		tx.stored(store.Message{ID: id, Caller: "2001", CallerName: "A", Callee: "2002", Time: now.Unix(), URI: "u", Fname: "f"}, true)
		return errors.New("undone")
	})
	if err == nil {
		t.Fatal("the undone operation succeeded")
	}
	if got := checkWaiting(t, db, "after an undone operation"); !maps.Equal(got, before) {
		t.Fatalf("an undone operation changed the counts: %v, before %v", got, before)
	}
}

// takeEverything gets until nothing waits: then the counts say nothing
// waits, and a get answers from them alone.
func takeEverything(t *testing.T, db *DB, numbers []string, old time.Time) {
	t.Helper()
	for {
		msgs, _, err := db.TakeUndelivered(context.Background(), store.GetQuery{Callees: numbers, After: old.Unix() - 1, Limit: 100}, nil)
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

// heldGetIntoBuffer checks that texts in their rows and files are held,
// and that a get of two numbers takes them from there in id order, as the
// database would give them, into the caller's buffer where it has room
// (get reuses one).
func heldGetIntoBuffer(t *testing.T, db *DB, numbers []string, sender store.UUIDHash, blob []byte, now, old time.Time) {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	for i := range 6 {
		nm := store.NewMessages{SenderHash: sender, Callees: numbers[1+i%2 : 2+i%2], Data: bytes.NewReader(blob), Length: int64(len(blob)), Now: now}
		if i == 3 {
			nm.Fname = "f.txt"
		}
		r, err := db.Send(ctx, nm)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.MsgIDs[nm.Callees[0]])
	}
	checkWaiting(t, db, "after single sends")
	db.wait.mu.RLock()
	held := len(db.wait.n[numbers[1]].msgs) + len(db.wait.n[numbers[2]].msgs)
	db.wait.mu.RUnlock()
	if held != 6 {
		t.Fatalf("%d messages held, want 6", held)
	}
	into := make([]store.Message, 1, 8)
	msgs, more, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1:3], After: old.Unix(), Limit: 4}, into)
	if err != nil || !more || len(msgs) != 4 {
		t.Fatalf("get of 4 of 6: %d messages, more %v, %v", len(msgs), more, err)
	}
	if &msgs[0] != &into[0] {
		t.Fatal("the messages were not put into the buffer given")
	}
	for i, m := range into[:cap(into)][len(msgs):] {
		if m != (store.Message{}) {
			t.Fatalf("the buffer still holds message %d past the answer's end: %+v", len(msgs)+i, m)
		}
	}
	for i, m := range msgs {
		if m.ID != ids[i] || m.State != store.Delivered || (m.Fname == "") != (m.Text != nil) {
			t.Fatalf("message %d: %+v, want id %d, delivered, a text or a file", i, m, ids[i])
		}
	}
	checkWaiting(t, db, "after a get from what is held")
}
