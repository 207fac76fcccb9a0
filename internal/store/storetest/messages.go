package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/ringd/ringd/internal/store"
)

var messageCases = []testCase{
	{"SendToOne", testSendToOne},
	{"SendToMany", testSendToMany},
	{"SendFile", testSendFile},
	{"SendErrorsStoreNothing", testSendErrors},
	{"CallerName", testCallerName},
	{"CIDReplay", testCIDReplay},
	{"CIDOfFailedSend", testCIDOfFailedSend},
	{"TakeOrderLimitMore", testTakeOrderLimitMore},
	{"TakeAfter", testTakeAfter},
	{"TakeLeftBehindThenAll", testTakeLeftBehindThenAll},
	{"TakeSeveralNumbers", testTakeSeveralNumbers},
	{"History", testHistory},
	{"Message", testMessage},
	{"MarkRead", testMarkRead},
	{"States", testStates},
}

// A send to one number stores one message, waiting, with its data.
func testSendToOne(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	res := f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: "hello", At: at(5)})
	id := res.MsgIDs[b.Number]
	if res.Time != at(5).Unix() || len(res.MsgIDs) != 1 || id <= 0 || len(res.Failed) != 0 || res.Replayed {
		t.Fatalf("send result %+v", res)
	}
	m := f.message(id)
	if m.ID != id || m.Caller != a.Number || m.CallerName != "Alice" || m.Callee != b.Number ||
		m.Time != at(5).Unix() || m.Length != 5 || m.Fname != "" || m.URI == "" || m.CallID != "" || m.State != store.Sent {
		t.Fatalf("stored message %+v", m)
	}
	if d := f.data(m); d != "hello" {
		t.Fatalf("data %q, want hello", d)
	}
	if s := f.stats(); s.Messages != 1 {
		t.Fatalf("stats %+v, want one message", s)
	}
}

// A sends stores one message per callee in use (duplicates once), all of
// one uri and one data, and lists the others in Failed.
func testSendToMany(t *testing.T, f *fixture) {
	a, b, c, idle := f.online("Alice"), f.online("Bob"), f.online("Carol"), f.register()
	res := f.mustSend(sending{From: a.UUID, Data: "to all", At: at(1),
		To: []string{b.Number, idle.Number, c.Number, "99999999", b.Number}})
	if len(res.MsgIDs) != 2 || res.MsgIDs[b.Number] <= 0 || res.MsgIDs[c.Number] <= 0 || res.MsgIDs[b.Number] == res.MsgIDs[c.Number] {
		t.Fatalf("msgids %v, want one each for %s and %s", res.MsgIDs, b.Number, c.Number)
	}
	if got, want := sorted(res.Failed), sorted([]string{idle.Number, "99999999"}); !slices.Equal(got, want) {
		t.Fatalf("failed %v, want %v", res.Failed, want)
	}
	mb, mc := f.message(res.MsgIDs[b.Number]), f.message(res.MsgIDs[c.Number])
	if mb.Callee != b.Number || mc.Callee != c.Number || mb.URI != mc.URI || mb.Time != res.Time || mc.Time != res.Time {
		t.Fatalf("messages of one sends: %+v %+v", mb, mc)
	}
	if f.data(mb) != "to all" || f.data(mc) != "to all" {
		t.Fatalf("data %q %q, want \"to all\"", f.data(mb), f.data(mc))
	}
	if s := f.stats(); s.Messages != 2 {
		t.Fatalf("stats %+v, want two messages", s)
	}
	if msgs, _ := f.take(0, 10, idle.Number); len(msgs) != 0 {
		t.Fatalf("a callee not in use got %+v", msgs)
	}
}

// A file keeps its name and its data, to one number or to several.
func testSendFile(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	for _, to := range [][]string{{b.Number}, {b.Number, c.Number}} {
		res := f.mustSend(sending{From: a.UUID, To: to, Data: "\x00\x01binary\xff", Fname: "photo.jpg", At: at(1)})
		for _, n := range to {
			m := f.message(res.MsgIDs[n])
			if m.Fname != "photo.jpg" || m.Length != 9 || f.data(m) != "\x00\x01binary\xff" {
				t.Fatalf("file to %v: %+v, data %q", to, m, f.data(m))
			}
		}
	}
}

// A refused send stores nothing: no message, nothing waiting.
func testSendErrors(t *testing.T, f *fixture) {
	a, b, idle := f.online("Alice"), f.online("Bob"), f.register()
	cases := []struct {
		name string
		s    sending
		want error
	}{
		{"unknown sender", sending{From: uuidOf("nobody"), To: []string{b.Number}}, store.ErrUnknownUUID},
		{"sender not in use", sending{From: idle.UUID, To: []string{b.Number}}, store.ErrCallerNotInUse},
		{"no callee in use", sending{From: a.UUID, To: []string{idle.Number, "99999999"}}, store.ErrCalleeNotInUse},
		{"unregistered callee", sending{From: a.UUID, To: []string{"99999999"}}, store.ErrCalleeNotInUse},
	}
	for _, c := range cases {
		c.s.Data, c.s.At = "refused", at(1)
		if _, err := f.send(c.s); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if s := f.stats(); s.Messages != 0 || s.Bytes != 0 {
		t.Fatalf("stats after refused sends %+v, want nothing stored", s)
	}
	msgs, _, err := f.st.History(f.ctx, store.GetQuery{Callees: []string{b.Number, idle.Number}, Limit: 10})
	if err != nil || len(msgs) != 0 {
		t.Fatalf("history after refused sends: %+v %v", msgs, err)
	}
}

// A message carries the caller name of its send: the one given, else the
// sender's name when it was sent.
func testCallerName(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	first := f.sendText(a, b.Number, "one", at(1))
	named := f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: "two", Name: "Ally", At: at(2)}).MsgIDs[b.Number]
	a.Dev.Name = "Alicia"
	f.login(a.Dev, at(3), a)
	renamed := f.sendText(a, b.Number, "three", at(4))
	for id, want := range map[int64]string{first: "Alice", named: "Ally", renamed: "Alicia"} {
		if m := f.message(id); m.CallerName != want {
			t.Fatalf("message %d caller name %q, want %q", id, m.CallerName, want)
		}
	}
	msgs, _ := f.take(0, 10, b.Number)
	if len(msgs) != 3 || msgs[0].CallerName != "Alice" || msgs[1].CallerName != "Ally" || msgs[2].CallerName != "Alicia" {
		t.Fatalf("taken %+v", msgs)
	}
}

// A cid repeated by its sender answers the first send's result and stores
// nothing, whatever the repeat carries; another sender's cid is its own.
func testCIDReplay(t *testing.T, f *fixture) {
	a, b, c, idle := f.online("Alice"), f.online("Bob"), f.online("Carol"), f.register()
	first := f.mustSend(sending{From: a.UUID, To: []string{b.Number, idle.Number}, Data: "first", CID: "cid-1", At: at(1)})
	again := f.mustSend(sending{From: a.UUID, To: []string{c.Number}, Data: "second", CID: "cid-1", At: at(9)})
	if !again.Replayed || first.Replayed || again.Time != first.Time || !maps.Equal(again.MsgIDs, first.MsgIDs) ||
		!slices.Equal(again.Failed, first.Failed) {
		t.Fatalf("replay %+v of %+v", again, first)
	}
	if s := f.stats(); s.Messages != 1 {
		t.Fatalf("stats after a replay %+v, want one message", s)
	}
	if msgs, _ := f.take(0, 10, b.Number, c.Number); len(msgs) != 1 || f.data(msgs[0]) != "first" {
		t.Fatalf("waiting after a replay: %+v", msgs)
	}
	// The sender logged out since: its retry still gets the answer it lost.
	f.login(a.Dev, at(10))
	if r, err := f.send(sending{From: a.UUID, To: []string{b.Number}, Data: "first", CID: "cid-1", At: at(11)}); err != nil ||
		!r.Replayed || !maps.Equal(r.MsgIDs, first.MsgIDs) {
		t.Fatalf("replay after the sender's logout: %+v %v", r, err)
	}
	other := f.mustSend(sending{From: c.UUID, To: []string{b.Number}, Data: "mine", CID: "cid-1", At: at(12)})
	if other.Replayed || other.MsgIDs[b.Number] == first.MsgIDs[b.Number] {
		t.Fatalf("another sender's send with the same cid: %+v", other)
	}
	fresh := f.mustSend(sending{From: c.UUID, To: []string{b.Number}, Data: "mine", CID: "cid-2", At: at(13)})
	if fresh.Replayed || fresh.MsgIDs[b.Number] == other.MsgIDs[b.Number] {
		t.Fatalf("a send with a new cid: %+v", fresh)
	}
}

// A send refused with a cid records nothing: its retry, once it can
// succeed, is stored.
func testCIDOfFailedSend(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.register()
	s := sending{From: a.UUID, To: []string{b.Number}, Data: "hi", CID: "cid-x", At: at(1)}
	if _, err := f.send(s); !errors.Is(err, store.ErrCalleeNotInUse) {
		t.Fatalf("send to a number not in use: %v", err)
	}
	f.login(device("token-of-b-0001", "Bob"), at(2), b)
	s.At = at(3)
	res := f.mustSend(s)
	if res.Replayed || res.MsgIDs[b.Number] <= 0 {
		t.Fatalf("retry of a refused send: %+v", res)
	}
}
