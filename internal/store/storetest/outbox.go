package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/store"
)

// Outbox is the push outbox an engine keeps beside store.Store: what the
// push dispatcher drains (push.Outbox), and what the server connects it
// with (which appids to queue pushes for, whom to wake after a commit that
// queued some).
type Outbox interface {
	push.Outbox
	SetPushFilter(wanted func(appid string) bool)
	SetPushKick(kick func())
}

var outboxCases = []testCase{
	{"NothingQueuedUntilFiltered", testNoFilterNoPushes},
	{"MessagePushes", testMessagePushes},
	{"Kick", testPushKick},
	{"DueRetryDelete", testDueRetryDelete},
	{"CallPushes", testCallPushes},
	{"UnbindTokenCompareAndClear", testUnbindToken},
	{"UnbindTokenSameSecondRelogin", testUnbindTokenSameSecond},
	{"IDsNotReused", testPushIDsNotReused},
}

// pushApp is the appid the suite's push filter wants; device's appid.
const pushApp = "com.example.chat"

// outbox returns the store's outbox; an engine without one fails.
func (f *fixture) outbox() Outbox {
	f.t.Helper()
	o, ok := f.st.(Outbox)
	if !ok {
		f.t.Fatalf("%T keeps no push outbox (storetest.Outbox)", f.st)
	}
	return o
}

// due returns the pushes due at now.
func (f *fixture) due(o Outbox, now time.Time) []store.Push {
	f.t.Helper()
	ps, err := o.DuePushes(f.ctx, now, 100, nil)
	if err != nil {
		f.t.Fatalf("DuePushes: %v", err)
	}
	return ps
}

// depth returns how many pushes wait.
func (f *fixture) depth(o Outbox) int {
	f.t.Helper()
	n, err := o.OutboxDepth(f.ctx)
	if err != nil {
		f.t.Fatalf("OutboxDepth: %v", err)
	}
	return n
}

// Until the server says which appids to push to, nothing is queued.
func testNoFilterNoPushes(t *testing.T, f *fixture) {
	o := f.outbox()
	a, b := f.online("Alice"), f.online("Bob")
	f.sendText(a, b.Number, "hi", at(1))
	f.ring(a, b, callID(1), at(2))
	if n := f.depth(o); n != 0 {
		t.Fatalf("%d pushes queued with push not configured", n)
	}
	if _, ok, err := o.NextPushDue(f.ctx); ok || err != nil {
		t.Fatalf("NextPushDue of an empty outbox: %v %v", ok, err)
	}
}

// A send queues, with its messages, one push per callee whose appid is
// wanted, due at once, with the caller, its name and the preview; a
// refused send queues none.
func testMessagePushes(t *testing.T, f *fixture) {
	o := f.outbox()
	o.SetPushFilter(func(appid string) bool { return appid == pushApp })
	a, b, c := f.online("Alice"), f.online("Bob"), f.register()
	other := store.Device{Token: "token-other-app", AppID: "com.example.other", Build: "1.0", Name: "Carol", Locale: "en"}
	f.login(other, t0, c)
	long := strings.Repeat("é", 60) + strings.Repeat("x", 60)
	res := f.mustSend(sending{From: a.UUID, To: []string{b.Number, c.Number}, Data: long, Name: "Ally", At: at(1)})
	f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: "img", Fname: "cat.jpg", At: at(2)})
	if _, err := f.send(sending{From: a.UUID, To: []string{"99999999"}, Data: "no", At: at(3)}); err == nil {
		t.Fatal("send to an unregistered number succeeded")
	}
	ps := f.due(o, at(3))
	if len(ps) != 2 {
		t.Fatalf("pushes %+v, want 2 (Bob's)", ps)
	}
	p := ps[0]
	if p.Kind != store.PushMessage || p.Token != b.Dev.Token || p.AppID != pushApp || p.Caller != a.Number ||
		p.CallerName != "Ally" || p.Body != store.Preview(long) || p.MsgID != res.MsgIDs[b.Number] ||
		!p.Created.Equal(at(1)) || !p.Due.Equal(at(1)) || p.Attempts != 0 || p.ID == ps[1].ID {
		t.Fatalf("message push %+v", p)
	}
	if p := ps[1]; p.Body != "cat.jpg" || p.CallerName != "Alice" || !p.Created.Equal(at(2)) {
		t.Fatalf("file push %+v", p)
	}
	if n := f.depth(o); n != 2 {
		t.Fatalf("outbox depth %d, want 2", n)
	}
}

// A commit that queued a push wakes the dispatcher.
func testPushKick(t *testing.T, f *fixture) {
	o := f.outbox()
	kicks := make(chan struct{}, 100)
	o.SetPushKick(func() { kicks <- struct{}{} })
	o.SetPushFilter(func(appid string) bool { return appid == pushApp })
	a, b := f.online("Alice"), f.online("Bob")
	f.sendText(a, b.Number, "hi", at(1))
	select {
	case <-kicks:
	case <-time.After(stuckAfter):
		t.Fatal("no kick after a send that queued a push")
	}
}

// DuePushes answers the pushes due, soonest first, at most limit, leaving
// out those skipped; RetryPush moves one later and counts its attempt;
// DeletePush takes it away, DeletePushes several at once.
func testDueRetryDelete(t *testing.T, f *fixture) {
	o := f.outbox()
	o.SetPushFilter(func(string) bool { return true })
	a, b := f.online("Alice"), f.online("Bob")
	for i := range 3 {
		f.sendText(a, b.Number, "hi", at(float64(i)))
	}
	all := f.due(o, at(10))
	ids := idsOfPushes(all)
	if len(all) != 3 || !slices.Equal(idsOfPushes(f.due(o, at(1))), ids[:2]) {
		t.Fatalf("due at(10) %v, due at(1) %v", ids, idsOfPushes(f.due(o, at(1))))
	}
	if ps, err := o.DuePushes(f.ctx, at(10), 1, map[int64]bool{ids[0]: true}); err != nil || !slices.Equal(idsOfPushes(ps), ids[1:2]) {
		t.Fatalf("due, limit 1, skipping the first: %v %v, want %v", idsOfPushes(ps), err, ids[1:2])
	}
	f.wantNextPushDue(o, at(0))
	if err := o.RetryPush(f.ctx, ids[0], 1, at(20)); err != nil {
		t.Fatal(err)
	}
	f.wantNextPushDue(o, at(1))
	if got := idsOfPushes(f.due(o, at(19))); !slices.Equal(got, ids[1:]) {
		t.Fatalf("due before the retry: %v, want %v", got, ids[1:])
	}
	ps := f.due(o, at(20))
	if !slices.Equal(idsOfPushes(ps), []int64{ids[1], ids[2], ids[0]}) || ps[2].Attempts != 1 || !ps[2].Due.Equal(at(20)) {
		t.Fatalf("due with the retry: %+v", ps)
	}
	if err := o.DeletePush(f.ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if n := f.depth(o); n != 2 {
		t.Fatalf("depth %d after a delete", n)
	}
	if err := o.DeletePushes(f.ctx, nil); err != nil || f.depth(o) != 2 {
		t.Fatalf("DeletePushes of none: %v, depth %d", err, f.depth(o))
	}
	// Ids gone already (ids[1]) or never there are left.
	if err := o.DeletePushes(f.ctx, []int64{ids[2], ids[1], ids[0], ids[2] + 1000}); err != nil {
		t.Fatal(err)
	}
	if n := f.depth(o); n != 0 {
		t.Fatalf("depth %d after DeletePushes of the rest", n)
	}
	if _, ok, err := o.NextPushDue(f.ctx); ok || err != nil {
		t.Fatalf("NextPushDue of an emptied outbox: %v %v", ok, err)
	}
}

func idsOfPushes(ps []store.Push) []int64 {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// wantNextPushDue checks NextPushDue.
func (f *fixture) wantNextPushDue(o Outbox, want time.Time) {
	f.t.Helper()
	got, ok, err := o.NextPushDue(f.ctx)
	if err != nil || !ok || !got.Equal(want) {
		f.t.Fatalf("NextPushDue: %v %v %v, want %v", got, ok, err, want)
	}
}
