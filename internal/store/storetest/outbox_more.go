package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// pushOf returns the one push of kind in ps.
func (f *fixture) pushOf(ps []store.Push, kind store.PushKind) store.Push {
	f.t.Helper()
	var found []store.Push
	for _, p := range ps {
		if p.Kind == kind {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		f.t.Fatalf("%d %s pushes in %+v, want 1", len(found), kind, ps)
	}
	return found[0]
}

// A call queues the callee's ringing push, expiring when the ringing ends;
// a cancelled call queues a stop-ringing push and a missed-call alert; a
// declined one nothing more.
func testCallPushes(t *testing.T, f *fixture) {
	o := f.outbox()
	o.SetPushFilter(func(string) bool { return true })
	a, b := f.online("Alice"), f.online("Bob")
	call := f.ring(a, b, callID(1), at(1))
	ring := f.pushOf(f.due(o, at(1)), store.PushCall)
	if ring.Token != b.Dev.Token || ring.AppID != b.Dev.AppID || ring.CallID != call.ID || ring.Caller != a.Number ||
		ring.CallerName != "Alice" || !ring.Created.Equal(at(1)) || !ring.Expires.Equal(call.Deadline) {
		t.Fatalf("ringing push %+v", ring)
	}
	ended := f.endCall(call.ID, a.Number, at(5))
	ps := f.due(o, at(5))
	if len(ps) != 3 {
		t.Fatalf("pushes after a cancelled call: %+v, want 3", ps)
	}
	stop, missed := f.pushOf(ps, store.PushCallEnded), f.pushOf(ps, store.PushMissedCall)
	if stop.CallID != call.ID || stop.Reason != store.ReasonCancelled || stop.Token != b.Dev.Token || stop.Caller != a.Number {
		t.Fatalf("stop-ringing push %+v", stop)
	}
	if missed.CallID != call.ID || missed.MsgID != ended.MissedMsgID || missed.Token != b.Dev.Token || missed.CallerName != "Alice" {
		t.Fatalf("missed-call push %+v, missed-call message %d", missed, ended.MissedMsgID)
	}
	declined := f.ring(a, b, callID(2), at(10))
	f.endCall(declined.ID, b.Number, at(11))
	if n := f.depth(o); n != 4 {
		t.Fatalf("outbox depth %d after a declined call, want 4 (its ringing push added)", n)
	}
}

// UnbindToken unbinds the numbers still bound to a dead token, forgets its
// device and drops its pushes, unless the device logged in after the push
// was made: its login count is above the push's (store.Push.Login).
func testUnbindToken(t *testing.T, f *fixture) {
	o := f.outbox()
	o.SetPushFilter(func(string) bool { return true })
	a, b, c := f.online("Alice"), f.register(), f.register()
	old, fresh := device("token-old-0001", "Old"), device("token-new-0001", "New")
	f.login(old, at(0), b, c)
	f.login(fresh, at(1), c) // c moved to a new token
	f.sendText(a, b.Number, "to the old token", at(2))
	f.sendText(a, c.Number, "to the new token", at(2))
	toOld, toNew := pushTo(t, f.due(o, at(2)), old.Token), pushTo(t, f.due(o, at(2)), fresh.Token)
	if toOld.Login >= toNew.Login {
		t.Fatalf("push login counts %d (old token) and %d (logged in later): the later login must count higher", toOld.Login, toNew.Login)
	}
	devices := f.stats().Devices
	if n, err := o.UnbindToken(f.ctx, old.Token, toOld.Login-1); err != nil || n != 0 {
		t.Fatalf("unbind for a push made before the device's last login: %d %v", n, err)
	}
	if got := f.boundTo(b, c); got[0] != old.Token || got[1] != fresh.Token || f.depth(o) != 2 {
		t.Fatalf("after a refused unbind: bindings %q, %d pushes", got, f.depth(o))
	}
	if n, err := o.UnbindToken(f.ctx, old.Token, toOld.Login); err != nil || n != 1 {
		t.Fatalf("unbind: %d %v, want 1", n, err)
	}
	if got := f.boundTo(a, b, c); got[0] != a.Dev.Token || got[1] != "" || got[2] != fresh.Token {
		t.Fatalf("bindings after unbinding the old token: %q", got)
	}
	if s := f.stats(); s.Devices != devices-1 {
		t.Fatalf("devices %d after unbinding, want %d", s.Devices, devices-1)
	}
	ps := f.due(o, at(10))
	if len(ps) != 1 || ps[0].Token != fresh.Token {
		t.Fatalf("pushes after unbinding: %+v, want the new token's", ps)
	}
	// The same token logs in again: a push made before that cannot undo it.
	f.login(old, at(20), b)
	if n, err := o.UnbindToken(f.ctx, old.Token, toOld.Login); err != nil || n != 0 {
		t.Fatalf("unbind of a token that logged in again: %d %v", n, err)
	}
	if got := f.boundTo(b); got[0] != old.Token {
		t.Fatalf("b after a stale unbind: %q", got[0])
	}
}

// A push made before a re-login in the same second (a message's, a call's)
// cannot unbind the device either: login counts, unlike times in seconds,
// never tie. One made after the last login does.
func testUnbindTokenSameSecond(t *testing.T, f *fixture) {
	o := f.outbox()
	o.SetPushFilter(func(string) bool { return true })
	a, b := f.online("Alice"), f.register()
	old := device("token-old-0002", "Old")
	f.login(old, at(20), b)
	f.sendText(a, b.Number, "just before the re-login", at(30))
	f.ring(a, b, callID(7), at(30))
	var before []store.Push
	for _, p := range f.due(o, at(30)) {
		if p.Token == old.Token {
			before = append(before, p)
		}
	}
	if len(before) != 2 {
		t.Fatalf("pushes to the old token before the re-login: %+v, want a message's and a call's", before)
	}
	f.login(old, at(30), b)
	for _, p := range before {
		if n, err := o.UnbindToken(f.ctx, old.Token, p.Login); err != nil || n != 0 {
			t.Fatalf("unbind for a %s push made in the second of a later re-login: %d %v", p.Kind, n, err)
		}
	}
	if got := f.boundTo(b); got[0] != old.Token {
		t.Fatalf("b after a stale unbind: %q", got[0])
	}
	// A push made after the last login does unbind.
	f.sendText(a, b.Number, "after the re-login", at(31))
	last := pushTo(t, f.due(o, at(31)), old.Token, "after")
	if n, err := o.UnbindToken(f.ctx, old.Token, last.Login); err != nil || n != 1 {
		t.Fatalf("unbind for a push made after the last login: %d %v, want 1", n, err)
	}
}

// pushTo is the last of ps to token, whose body (if given) starts with
// prefix.
func pushTo(t *testing.T, ps []store.Push, token string, prefix ...string) store.Push {
	t.Helper()
	var found *store.Push
	for i, p := range ps {
		if p.Token == token && (len(prefix) == 0 || strings.HasPrefix(p.Body, prefix[0])) {
			found = &ps[i]
		}
	}
	if found == nil {
		t.Fatalf("no push to %s in %+v", token, ps)
	}
	return *found
}

// A push id names one push for good: a push deleted while the dispatcher
// holds it (its token was unbound) lends its id to no later push, so the
// dispatcher's delete of it cannot take a new one.
func testPushIDsNotReused(t *testing.T, f *fixture) {
	o := f.outbox()
	o.SetPushFilter(func(string) bool { return true })
	a, b := f.online("Alice"), f.online("Bob")
	f.sendText(a, b.Number, "one", at(1))
	held := f.pushOf(f.due(o, at(1)), store.PushMessage)
	if _, err := o.UnbindToken(f.ctx, held.Token, held.Login); err != nil {
		t.Fatal(err)
	}
	f.login(device("token-next-0001", "Bob"), at(2), b)
	f.sendText(a, b.Number, "two", at(2))
	next := f.pushOf(f.due(o, at(2)), store.PushMessage)
	if next.ID == held.ID {
		t.Fatalf("the new push took the id %d of the push held", held.ID)
	}
	if err := o.DeletePush(f.ctx, held.ID); err != nil {
		t.Fatal(err)
	}
	// A retry of it, as a dispatcher that failed to send it may ask: an
	// error or not, it must not touch the new push.
	_ = o.RetryPush(f.ctx, held.ID, 1, at(time.Hour.Seconds()))
	if ps := f.due(o, at(2)); len(ps) != 1 || ps[0].ID != next.ID || ps[0].Attempts != 0 {
		t.Fatalf("pushes after the held one was deleted and retried: %+v, want the new one untouched", ps)
	}
}
