package postgres_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

// The outbox cases of storetest queue their pushes by sending messages,
// which this engine cannot do yet; these queue them by ringing instead.

// callParties are a caller and a callee, each in use on a device of its
// own, in a fresh database.
type callParties struct {
	db             *postgres.DB
	caller, callee string
	calleeDev      store.Device
	calls          int
}

func newCallParties(t *testing.T) *callParties {
	db, _ := openDB(t)
	numbers := register(t, db, 2)
	p := &callParties{db: db, caller: numbers[0], callee: numbers[1], calleeDev: dev("token-callee", "Bob")}
	for i, d := range []store.Device{dev("token-caller", "Alice"), p.calleeDev} {
		if _, err := db.Login(t.Context(), d, []store.UUIDHash{uuid(i)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// ring makes a call to the callee at t0+seconds.
func (p *callParties) ring(t *testing.T, seconds int) string {
	t.Helper()
	p.calls++
	now := t0.Add(time.Duration(seconds) * time.Second)
	c, err := p.db.CreateCall(t.Context(), store.NewCall{ID: fmt.Sprintf("%032x", p.calls), CallerHash: uuid(0),
		Callee: p.callee, Now: now, RingDeadline: now.Add(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func due(t *testing.T, db *postgres.DB, seconds int, limit int, skip map[int64]bool) []store.Push {
	t.Helper()
	ps, err := db.DuePushes(t.Context(), t0.Add(time.Duration(seconds)*time.Second), limit, skip)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func pushIDs(ps []store.Push) []int64 {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

func depth(t *testing.T, db *postgres.DB) int {
	t.Helper()
	n, err := db.OutboxDepth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Nothing is queued until the server says which appids to push to, and
// then only for those; a commit that queued a push kicks the dispatcher.
func TestOutboxFilterAndKick(t *testing.T) {
	p := newCallParties(t)
	p.ring(t, 1)
	if n := depth(t, p.db); n != 0 {
		t.Fatalf("%d pushes queued with push not configured", n)
	}
	kicks := make(chan struct{}, 10)
	p.db.SetPushKick(func() { kicks <- struct{}{} })
	p.db.SetPushFilter(func(appid string) bool { return appid == "com.example.other" })
	p.ring(t, 2)
	if n := depth(t, p.db); n != 0 || len(kicks) != 0 {
		t.Fatalf("%d pushes queued, %d kicks, for an appid not wanted", n, len(kicks))
	}
	p.db.SetPushFilter(func(appid string) bool { return appid == p.calleeDev.AppID })
	id := p.ring(t, 3)
	select {
	case <-kicks:
	case <-time.After(stuckAfter):
		t.Fatal("no kick after a commit that queued a push")
	}
	ps := due(t, p.db, 3, 10, nil)
	if len(ps) != 1 || ps[0].Kind != store.PushCall || ps[0].CallID != id || ps[0].Token != p.calleeDev.Token ||
		ps[0].Caller != p.caller || ps[0].CallerName != "Alice" || !ps[0].Expires.Equal(t0.Add(33*time.Second)) {
		t.Fatalf("pushes %+v", ps)
	}
}

// DuePushes answers the pushes due, soonest first, at most limit, leaving
// out those skipped; RetryPush moves one later and counts its attempt;
// DeletePush takes it away.
func TestOutboxDueRetryDelete(t *testing.T) {
	p := newCallParties(t)
	p.db.SetPushFilter(func(string) bool { return true })
	for s := range 3 {
		p.ring(t, s)
	}
	ids := pushIDs(due(t, p.db, 10, 100, nil))
	if len(ids) != 3 || !slices.Equal(pushIDs(due(t, p.db, 1, 100, nil)), ids[:2]) {
		t.Fatalf("due at 10 s: %v; at 1 s: %v", ids, pushIDs(due(t, p.db, 1, 100, nil)))
	}
	if got := pushIDs(due(t, p.db, 10, 1, map[int64]bool{ids[0]: true})); !slices.Equal(got, ids[1:2]) {
		t.Fatalf("limit 1, skipping the first: %v, want %v", got, ids[1:2])
	}
	if err := p.db.RetryPush(t.Context(), ids[0], 1, t0.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if next, ok, err := p.db.NextPushDue(t.Context()); err != nil || !ok || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("NextPushDue after the retry: %v %v %v", next, ok, err)
	}
	ps := due(t, p.db, 20, 100, nil)
	if !slices.Equal(pushIDs(ps), []int64{ids[1], ids[2], ids[0]}) || ps[2].Attempts != 1 || !ps[2].Due.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("due with the retry: %+v", ps)
	}
	for i, id := range ids {
		if err := p.db.DeletePush(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		if n := depth(t, p.db); n != 2-i {
			t.Fatalf("depth %d after %d deletes", n, i+1)
		}
	}
	if _, ok, err := p.db.NextPushDue(t.Context()); ok || err != nil {
		t.Fatalf("NextPushDue of an emptied outbox: %v %v", ok, err)
	}
}

// UnbindToken unbinds a dead token's numbers, forgets its device and drops
// its pushes, unless the device logged in after the push was made.
func TestOutboxUnbindToken(t *testing.T) {
	p := newCallParties(t)
	p.db.SetPushFilter(func(string) bool { return true })
	p.ring(t, 2)
	if n, err := p.db.UnbindToken(t.Context(), p.calleeDev.Token, t0.Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("unbind of a token logged in since the push: %d %v", n, err)
	}
	if n, err := p.db.Number(t.Context(), p.callee); err != nil || n.Token != p.calleeDev.Token || depth(t, p.db) != 1 {
		t.Fatalf("after a refused unbind: %+v %v, %d pushes", n, err, depth(t, p.db))
	}
	if n, err := p.db.UnbindToken(t.Context(), p.calleeDev.Token, t0.Add(2*time.Second)); err != nil || n != 1 {
		t.Fatalf("unbind: %d %v, want 1", n, err)
	}
	n, err := p.db.Number(t.Context(), p.callee)
	if err != nil || n.InUse() || n.Device != nil || depth(t, p.db) != 0 {
		t.Fatalf("after unbinding: %+v %v, %d pushes", n, err, depth(t, p.db))
	}
	if s, err := p.db.Stats(t.Context()); err != nil || s.Devices != 1 || s.InUse != 1 {
		t.Fatalf("stats after unbinding: %+v %v", s, err)
	}
}

// A push deleted with its token (while the dispatcher still held it) lends
// its id to no later push: the dispatcher's late delete and retry of it
// leave the new push alone.
func TestOutboxIDsNotReused(t *testing.T) {
	p := newCallParties(t)
	p.db.SetPushFilter(func(string) bool { return true })
	p.ring(t, 2)
	held := due(t, p.db, 2, 10, nil)[0]
	if _, err := p.db.UnbindToken(t.Context(), p.calleeDev.Token, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.db.Login(t.Context(), dev("token-callee-2", "Bob"), []store.UUIDHash{uuid(1)}, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	p.ring(t, 4)
	next := due(t, p.db, 4, 10, nil)
	if len(next) != 1 || next[0].ID == held.ID || next[0].Token != "token-callee-2" {
		t.Fatalf("push after the new login: %+v, the deleted one had id %d", next, held.ID)
	}
	if err := p.db.DeletePush(t.Context(), held.ID); err != nil {
		t.Fatal(err)
	}
	_ = p.db.RetryPush(t.Context(), held.ID, 1, t0.Add(time.Hour))
	if ps := due(t, p.db, 4, 10, nil); len(ps) != 1 || ps[0].ID != next[0].ID || ps[0].Attempts != 0 {
		t.Fatalf("after the deleted push's delete and retry: %+v", ps)
	}
}
