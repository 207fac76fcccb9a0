package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// cursorFixture is a store with a sender (numbers[0]) and callees in use.
type cursorFixture struct {
	t       *testing.T
	path    string
	db      *DB
	numbers []string
	sender  store.UUIDHash
	now     time.Time
}

func newCursorFixture(t *testing.T, callees int) *cursorFixture {
	t.Helper()
	f := &cursorFixture{t: t, path: filepath.Join(t.TempDir(), "c.db"), now: time.Unix(1_800_000_000, 0)}
	var err error
	if f.db, err = Open(f.path, Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	ctx := context.Background()
	var hashes []store.UUIDHash
	for i := range callees + 1 {
		n := fmt.Sprint(3001 + i)
		h := store.UUIDHash{byte(i + 1)}
		if err := f.db.Register(ctx, n, h, f.now); err != nil {
			t.Fatal(err)
		}
		f.numbers, hashes = append(f.numbers, n), append(hashes, h)
	}
	f.sender = hashes[0]
	if _, err := f.db.Login(ctx, store.Device{Token: "t", AppID: "a", Build: "1", Name: "N", Locale: "en"}, hashes, f.now); err != nil {
		t.Fatal(err)
	}
	return f
}

// send sends a text at time at to callees and returns the ids by callee.
func (f *cursorFixture) send(at time.Time, callees ...string) map[string]int64 {
	f.t.Helper()
	text := []byte(fmt.Sprint("text at ", at.Unix()))
	r, err := f.db.Send(context.Background(), store.NewMessages{SenderHash: f.sender, Callees: callees,
		Data: bytes.NewReader(text), Length: int64(len(text)), Now: at})
	if err != nil {
		f.t.Fatal(err)
	}
	return r.MsgIDs
}

func (f *cursorFixture) get(after time.Time, limit int, callees ...string) ([]int64, bool) {
	f.t.Helper()
	msgs, more, err := f.db.TakeUndelivered(context.Background(), store.GetQuery{Callees: callees, After: after.Unix(), Limit: limit}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []int64
	for _, m := range msgs {
		if m.State != store.Delivered {
			f.t.Fatalf("get answered %+v, not delivered", m)
		}
		ids = append(ids, m.ID)
	}
	return ids, more
}

// states checks the states status and history tell of ids.
func (f *cursorFixture) states(want map[int64]store.State) {
	f.t.Helper()
	ctx := context.Background()
	for id, st := range want {
		got, err := f.db.States(ctx, f.numbers[0], []int64{id})
		if err != nil {
			f.t.Fatal(err)
		}
		m, err := f.db.Message(ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		if got[0] != st || m.State != st {
			f.t.Fatalf("message %d: status %v, message %v, want %v", id, got[0], m.State, st)
		}
		h, _, err := f.db.History(ctx, store.GetQuery{Callees: []string{m.Callee}, After: 0, AfterID: id - 1, Limit: 1})
		if err != nil || len(h) != 1 || h[0].ID != id || h[0].State != st {
			f.t.Fatalf("history of %d: %+v, %v; want %v", id, h, err, st)
		}
	}
}

// cursor returns number's cursor, -1 if it has none.
func (f *cursorFixture) cursor(number string) int64 {
	f.t.Helper()
	var upto int64
	err := f.db.read.QueryRow(`SELECT upto FROM cursors WHERE number = ?`, number).Scan(&upto)
	if err == sql.ErrNoRows {
		return -1
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return upto
}

// TestCursorMarksByCursor: a get of everything a number has waiting moves
// its cursor and changes none of the rows.
func TestCursorMarksByCursor(t *testing.T) {
	f := newCursorFixture(t, 1)
	bob := f.numbers[1]
	var ids []int64
	for i := range 5 {
		ids = append(ids, f.send(f.now.Add(time.Duration(i)*time.Second), bob)[bob])
	}
	got, more := f.get(f.now.Add(-time.Hour), 3, bob)
	if !slices.Equal(got, ids[:3]) || !more {
		t.Fatalf("get of 3: %v more %v, want %v", got, more, ids[:3])
	}
	if c := f.cursor(bob); c != ids[2] {
		t.Fatalf("cursor %d, want %d", c, ids[2])
	}
	var changed int
	if err := f.db.read.QueryRow(`SELECT count(*) FROM messages WHERE state != 0`).Scan(&changed); err != nil || changed != 0 {
		t.Fatalf("%d rows changed, %v", changed, err)
	}
	f.states(map[int64]store.State{ids[0]: store.Delivered, ids[2]: store.Delivered, ids[3]: store.Sent})
	checkWaiting(t, f.db, "after a get by cursor")
	if got, more := f.get(f.now.Add(-time.Hour), 3, bob); !slices.Equal(got, ids[3:]) || more {
		t.Fatalf("second get: %v more %v, want %v", got, more, ids[3:])
	}
	if got, _ := f.get(f.now.Add(-time.Hour), 3, bob); len(got) != 0 {
		t.Fatalf("third get: %v", got)
	}
	checkWaiting(t, f.db, "after taking all")
}

// TestCursorTimeWindowSkip: a get whose window skips an older waiting
// message marks row by row; the older one still waits, and is delivered
// by a later get that reaches it.
func TestCursorTimeWindowSkip(t *testing.T) {
	f := newCursorFixture(t, 1)
	bob := f.numbers[1]
	old := f.send(f.now.Add(-time.Hour), bob)[bob]
	n1 := f.send(f.now, bob)[bob]
	n2 := f.send(f.now.Add(time.Second), bob)[bob]
	if got, _ := f.get(f.now.Add(-time.Minute), 10, bob); !slices.Equal(got, []int64{n1, n2}) {
		t.Fatalf("get in the window: %v, want %d %d", got, n1, n2)
	}
	if c := f.cursor(bob); c >= old {
		t.Fatalf("cursor %d moved over the skipped %d", c, old)
	}
	f.states(map[int64]store.State{old: store.Sent, n1: store.Delivered, n2: store.Delivered})
	checkWaiting(t, f.db, "after a get that skipped one")
	n3 := f.send(f.now.Add(2*time.Second), bob)[bob]
	if got, _ := f.get(f.now.Add(-2*time.Hour), 10, bob); !slices.Equal(got, []int64{old, n3}) {
		t.Fatalf("get of all: %v, want %d %d", got, old, n3)
	}
	if c := f.cursor(bob); c != n3 {
		t.Fatalf("cursor %d, want %d", c, n3)
	}
	f.states(map[int64]store.State{old: store.Delivered, n1: store.Delivered, n3: store.Delivered})
	checkWaiting(t, f.db, "after taking all")
}

// TestCursorReadBeforeGet: a message read while it waits is read, not
// delivered, when a later get moves the cursor over it; one read after
// its get by cursor is read.
func TestCursorReadBeforeGet(t *testing.T) {
	f := newCursorFixture(t, 1)
	ctx := context.Background()
	bob := f.numbers[1]
	var ids []int64
	for i := range 4 {
		ids = append(ids, f.send(f.now.Add(time.Duration(i)*time.Second), bob)[bob])
	}
	if err := f.db.MarkRead(ctx, []string{bob}, []int64{ids[1]}); err != nil {
		t.Fatal(err)
	}
	checkWaiting(t, f.db, "after reading a waiting message")
	if got, _ := f.get(f.now.Add(-time.Hour), 2, bob); !slices.Equal(got, []int64{ids[0], ids[2]}) {
		t.Fatalf("get: %v", got)
	}
	if c := f.cursor(bob); c != ids[2] {
		t.Fatalf("cursor %d, want %d", c, ids[2])
	}
	if err := f.db.MarkRead(ctx, []string{bob}, []int64{ids[0]}); err != nil {
		t.Fatal(err)
	}
	f.states(map[int64]store.State{ids[0]: store.Read, ids[1]: store.Read, ids[2]: store.Delivered, ids[3]: store.Sent})
	checkWaiting(t, f.db, "after reading a delivered message")
}

// TestCursorMultiNumber: a get of two numbers moves both cursors, and
// leaves what it did not take of either waiting.
func TestCursorMultiNumber(t *testing.T) {
	f := newCursorFixture(t, 2)
	bob, carol := f.numbers[1], f.numbers[2]
	var all []int64
	for i := range 3 {
		r := f.send(f.now.Add(time.Duration(i)*time.Second), bob, carol)
		all = append(all, min(r[bob], r[carol]), max(r[bob], r[carol]))
	}
	got, more := f.get(f.now.Add(-time.Hour), 3, bob, carol)
	if !slices.Equal(got, all[:3]) || !more {
		t.Fatalf("get of 3: %v more %v, want %v", got, more, all[:3])
	}
	if f.cursor(bob) < 0 || f.cursor(carol) < 0 {
		t.Fatalf("cursors %d %d", f.cursor(bob), f.cursor(carol))
	}
	f.states(map[int64]store.State{all[2]: store.Delivered, all[3]: store.Sent})
	checkWaiting(t, f.db, "after a get of two numbers")
	// Sends store bob's message first: all is bob, carol, bob, carol...
	if got, _ := f.get(f.now.Add(-time.Hour), 10, carol); !slices.Equal(got, []int64{all[3], all[5]}) {
		t.Fatalf("carol's rest: %v, want %d %d", got, all[3], all[5])
	}
	if got, _ := f.get(f.now.Add(-time.Hour), 10, bob, carol); !slices.Equal(got, []int64{all[4]}) {
		t.Fatalf("the rest: %v, want %d", got, all[4])
	}
	checkWaiting(t, f.db, "after taking all")
}

// TestCursorExpiry: expiry of messages before and after a cursor keeps the
// counts exact, and once the newest messages are gone a new message (whose
// id may be one used before) waits, whatever the cursors said.
func TestCursorExpiry(t *testing.T) {
	f := newCursorFixture(t, 1)
	ctx := context.Background()
	bob := f.numbers[1]
	old := f.now.Add(-72 * time.Hour)
	var ids []int64
	for i := range 4 {
		ids = append(ids, f.send(old.Add(time.Duration(i)*time.Second), bob)[bob])
	}
	if got, _ := f.get(old.Add(-time.Hour), 2, bob); !slices.Equal(got, ids[:2]) {
		t.Fatalf("get: %v", got)
	}
	if _, err := f.db.expireMessages(ctx, f.now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkWaiting(t, f.db, "after expiry")
	if f.db.wait.any([]string{bob}) {
		t.Fatal("expired messages still wait")
	}
	if c := f.cursor(bob); c != 0 {
		t.Fatalf("cursor %d above the largest id (none)", c)
	}
	id := f.send(f.now, bob)[bob]
	if id > ids[3] {
		t.Logf("ids were not reused (%d after %d): the test shows less", id, ids[3])
	}
	f.states(map[int64]store.State{id: store.Sent})
	if got, _ := f.get(f.now.Add(-time.Hour), 10, bob); !slices.Equal(got, []int64{id}) {
		t.Fatalf("get after expiry: %v, want %d", got, id)
	}
	checkWaiting(t, f.db, "after the last get")
}

// TestCursorRestart: after a restart, what waits is counted from the
// cursors, read from the database, and taken once.
func TestCursorRestart(t *testing.T) {
	f := newCursorFixture(t, 1)
	bob := f.numbers[1]
	var ids []int64
	for i := range 6 {
		ids = append(ids, f.send(f.now.Add(time.Duration(i)*time.Second), bob)[bob])
	}
	if got, _ := f.get(f.now.Add(-time.Hour), 2, bob); !slices.Equal(got, ids[:2]) {
		t.Fatalf("get: %v", got)
	}
	f.db.Close()
	var err error
	if f.db, err = Open(f.path, Options{}); err != nil {
		t.Fatal(err)
	}
	if n := checkWaiting(t, f.db, "after a restart"); n[bob] != 4 {
		t.Fatalf("after a restart %d wait, want 4", n[bob])
	}
	f.states(map[int64]store.State{ids[1]: store.Delivered, ids[2]: store.Sent})
	if got, _ := f.get(f.now.Add(-time.Hour), 3, bob); !slices.Equal(got, ids[2:5]) {
		t.Fatalf("get after a restart: %v, want %v", got, ids[2:5])
	}
	f.send(f.now.Add(time.Minute), bob)
	if got, _ := f.get(f.now.Add(-time.Hour), 3, bob); len(got) != 2 || got[0] != ids[5] {
		t.Fatalf("the rest: %v", got)
	}
	checkWaiting(t, f.db, "after taking all")
}

// TestCursorConcurrentGets: gets of one number racing each other and sends
// in shared batches hand out each message once, by cursor or by row.
func TestCursorConcurrentGets(t *testing.T) {
	f := newCursorFixture(t, 1)
	bob := f.numbers[1]
	const senders, each = 4, 50
	var mu sync.Mutex // guards seen
	seen := map[int64]int{}
	done := make(chan struct{})
	var getters sync.WaitGroup
	for range 6 {
		getters.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				msgs, _, err := f.db.TakeUndelivered(context.Background(), store.GetQuery{Callees: []string{bob}, Limit: 7}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, m := range msgs {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	var sends sync.WaitGroup
	for g := range senders {
		sends.Go(func() {
			for i := range each {
				f.send(f.now.Add(time.Duration(g*each+i)*time.Millisecond), bob)
			}
		})
	}
	sends.Wait()
	close(done)
	getters.Wait()
	for {
		msgs, _, err := f.db.TakeUndelivered(context.Background(), store.GetQuery{Callees: []string{bob}, Limit: 100}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			seen[m.ID]++
		}
	}
	if len(seen) != senders*each {
		t.Errorf("%d distinct messages delivered, %d sent", len(seen), senders*each)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("message %d delivered %d times", id, k)
		}
	}
	if f.cursor(bob) < 0 {
		t.Error("no get marked by cursor")
	}
	checkWaiting(t, f.db, "after racing gets")
}
