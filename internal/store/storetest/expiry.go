package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

var expiryCases = []testCase{
	{"Messages", testExpireMessages},
	{"SharedDataStaysWhileReferred", testExpireSharedData},
	{"CIDs", testExpireCIDs},
	{"DeliveryAfterExpiry", testDeliveryAfterExpiry},
	{"Calls", testExpireCalls},
}

const hour = 3600

// Messages older than the cut-off go, whatever their state; those at or
// after it stay, and stay as they were.
func testExpireMessages(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	oldTaken := f.sendText(a, b.Number, "old, taken", at(1))
	f.take(0, 10, b.Number)
	oldWaiting := f.sendText(a, b.Number, "old, waiting", at(2))
	oldRead := f.sendText(a, b.Number, "old, read", at(3))
	if err := f.st.MarkRead(f.ctx, []string{b.Number}, []int64{oldRead}); err != nil {
		t.Fatal(err)
	}
	atCut := f.sendText(a, b.Number, "at the cut", at(hour))
	newer := f.sendText(a, b.Number, "newer", at(2*hour))
	f.expire(at(hour))
	for _, id := range []int64{oldTaken, oldWaiting, oldRead} {
		if _, err := f.st.Message(f.ctx, id); !errors.Is(err, store.ErrBadMsgID) {
			t.Fatalf("expired message %d: %v, want ErrBadMsgID", id, err)
		}
		if _, err := f.st.States(f.ctx, a.Number, []int64{id}); !errors.Is(err, store.ErrBadMsgID) {
			t.Fatalf("States of expired message %d: %v, want ErrBadMsgID", id, err)
		}
		if err := f.st.MarkRead(f.ctx, []string{b.Number}, []int64{id}); !errors.Is(err, store.ErrBadMsgID) {
			t.Fatalf("MarkRead of expired message %d: %v, want ErrBadMsgID", id, err)
		}
	}
	msgs, _ := f.take(0, 10, b.Number)
	if !slices.Equal(idsOf(msgs), []int64{atCut, newer}) {
		t.Fatalf("taken after expiry: %v, want %v", idsOf(msgs), []int64{atCut, newer})
	}
	if f.data(msgs[0]) != "at the cut" || f.data(msgs[1]) != "newer" {
		t.Fatalf("data after expiry: %q %q", f.data(msgs[0]), f.data(msgs[1]))
	}
	if h := f.history(10, b.Number); !slices.Equal(idsOf(h), []int64{atCut, newer}) {
		t.Fatalf("history after expiry: %v", idsOf(h))
	}
	if s := f.stats(); s.Messages != 2 {
		t.Fatalf("stats after expiry %+v, want 2 messages", s)
	}
	f.expire(at(hour)) // again: nothing more goes
	if s := f.stats(); s.Messages != 2 {
		t.Fatalf("stats after a second expiry %+v, want 2 messages", s)
	}
}

// Data that expired messages shared with live ones (the same bytes sent
// again, to one or to several) is still there for the live ones.
func testExpireSharedData(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	both := []string{b.Number, c.Number}
	for _, when := range []time.Time{at(1), at(2 * hour)} {
		f.mustSend(sending{From: a.UUID, To: both, Data: "same bytes", At: when})
		f.mustSend(sending{From: a.UUID, To: both, Data: "a file", Fname: "f.txt", At: when})
		f.sendText(a, b.Number, "same bytes", when)
	}
	f.expire(at(hour))
	msgs, _ := f.take(0, 10, b.Number, c.Number)
	if len(msgs) != 5 {
		t.Fatalf("%d messages left, want 5", len(msgs))
	}
	for _, m := range msgs {
		want := "same bytes"
		if m.Fname != "" {
			want = "a file"
		}
		if got := f.data(m); got != want || m.Time != at(2*hour).Unix() {
			t.Fatalf("message %+v after expiry: data %q, want %q", m, got, want)
		}
	}
}

// A cid lives as long as its messages: after they expire the same cid is
// a new send; one sent after the cut-off still replays.
func testExpireCIDs(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	old := f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: "x", CID: "old", At: at(1)})
	young := f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: "x", CID: "young", At: at(2 * hour)})
	f.expire(at(hour))
	again := f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: "x", CID: "old", At: at(3 * hour)})
	if again.Replayed || again.MsgIDs[b.Number] == old.MsgIDs[b.Number] {
		t.Fatalf("an expired cid replayed: %+v", again)
	}
	replay := f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: "x", CID: "young", At: at(3 * hour)})
	if !replay.Replayed || replay.MsgIDs[b.Number] != young.MsgIDs[b.Number] {
		t.Fatalf("a live cid did not replay: %+v, first %+v", replay, young)
	}
}

// What is sent after an expiry waits to be taken, however the expired
// messages were left: taken, waiting, or all of the store's messages.
func testDeliveryAfterExpiry(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	f.inbox(a, b, 3)
	f.take(0, 10, b.Number)
	f.sendText(a, c.Number, "waiting", at(4))
	f.expire(at(hour))
	if s := f.stats(); s.Messages != 0 {
		t.Fatalf("stats %+v, want every message expired", s)
	}
	for i, p := range []party{b, c, b} {
		id := f.sendText(a, p.Number, "new", at(float64(2*hour+i)))
		if got := f.states(a.Number, id); got[0] != store.Sent {
			t.Fatalf("new message to %s after expiry: state %v, want sent", p.Number, got[0])
		}
		msgs, more := f.take(0, 10, p.Number)
		if !slices.Equal(idsOf(msgs), []int64{id}) || more || f.data(msgs[0]) != "new" {
			t.Fatalf("take of %s after expiry: %v more %v, want [%d]", p.Number, idsOf(msgs), more, id)
		}
	}
}

// Ended calls that ended before the cut-off go; later ones, and calls not
// ended however old, stay.
func testExpireCalls(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	early := f.ring(a, b, "0000000000000000000000000000000a", at(0))
	f.endCall(early.ID, a.Number, at(1))
	ringing := f.ring(a, b, "0000000000000000000000000000000b", at(2))
	late := f.ring(a, b, "0000000000000000000000000000000c", at(3))
	f.endCall(late.ID, b.Number, at(2*hour))
	if err := f.st.ExpireCalls(f.ctx, at(hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Call(f.ctx, early.ID); !errors.Is(err, store.ErrBadCallID) {
		t.Fatalf("expired call: %v, want ErrBadCallID", err)
	}
	if c := f.call(ringing.ID); c.State != store.Ringing {
		t.Fatalf("ringing call after expiry: %+v", c)
	}
	if c := f.call(late.ID); c.State != store.Ended || c.Reason != store.ReasonDeclined {
		t.Fatalf("call ended after the cut-off: %+v", c)
	}
	if s := f.stats(); s.Calls != 2 {
		t.Fatalf("stats %+v, want 2 calls", s)
	}
}
