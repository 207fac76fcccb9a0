package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

var callCases = []testCase{
	{"CreateErrorsStoreNothing", testCreateCallErrors},
	{"Create", testCreateCall},
	{"Answer", testAnswerCall},
	{"EndReasons", testEndReasons},
	{"EndErrors", testEndErrors},
	{"MissedCallMessage", testMissedCallMessage},
	{"RacingEnds", testRacingEnds},
	{"RacingAnswers", testRacingAnswers},
	{"Deadlines", testDeadlines},
	{"AIBalance", testAIBalance},
	{"AITimeout", testAITimeout},
	{"Link", testLink},
	{"Stats", testStats},
}

// ringTime is how long the suite's calls ring.
const ringTime = 30 * time.Second

// callID is the n-th call id: 32 lowercase hex characters.
func callID(n int) string { return fmt.Sprintf("%032x", n) }

// ring makes a ringing call from a to b at now, with offer "offer".
func (f *fixture) ring(a, b party, id string, now time.Time) store.Call {
	f.t.Helper()
	c, err := f.st.CreateCall(f.ctx, store.NewCall{ID: id, CallerHash: a.UUID, Callee: b.Number,
		Offer: []byte("offer"), Now: now, RingDeadline: now.Add(ringTime)})
	if err != nil {
		f.t.Fatalf("CreateCall %s: %v", id, err)
	}
	return c
}

// call returns a call, failing the test if there is none.
func (f *fixture) call(id string) store.Call {
	f.t.Helper()
	c, err := f.st.Call(f.ctx, id)
	if err != nil {
		f.t.Fatalf("Call(%s): %v", id, err)
	}
	return c
}

// endCall ends a call by a party (or, by "", the server) at now.
func (f *fixture) endCall(id, by string, now time.Time) store.Call {
	f.t.Helper()
	c, err := f.st.EndCall(f.ctx, store.CallEnd{ID: id, By: by, Now: now})
	if err != nil {
		f.t.Fatalf("EndCall(%s by %q): %v", id, by, err)
	}
	return c
}

// A refused call stores nothing.
func testCreateCallErrors(t *testing.T, f *fixture) {
	a, b, idle := f.online("Alice"), f.online("Bob"), f.register()
	cases := []struct {
		name   string
		caller store.UUIDHash
		callee string
		want   error
	}{
		{"unknown caller", uuidOf("nobody"), b.Number, store.ErrUnknownUUID},
		{"caller not in use", idle.UUID, b.Number, store.ErrCallerNotInUse},
		{"callee not in use", a.UUID, idle.Number, store.ErrCalleeNotInUse},
		{"callee unregistered", a.UUID, "99999999", store.ErrCalleeNotInUse},
		{"AI call without balance", a.UUID, "", store.ErrNoBalance},
	}
	for i, c := range cases {
		_, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(i + 1), CallerHash: c.caller, Callee: c.callee,
			Now: at(1), RingDeadline: at(1).Add(ringTime), MaxLength: time.Hour})
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
		if _, err := f.st.Call(f.ctx, callID(i+1)); !errors.Is(err, store.ErrBadCallID) {
			t.Fatalf("%s: the refused call is there: %v", c.name, err)
		}
	}
	if _, err := f.st.Call(f.ctx, callID(99)); !errors.Is(err, store.ErrBadCallID) {
		t.Fatalf("unknown call: %v, want ErrBadCallID", err)
	}
	if s := f.stats(); s.Calls != 0 {
		t.Fatalf("stats %+v, want no calls", s)
	}
}

// A call rings until its ring deadline, under the caller's stored name
// unless it names itself; Call reads back what CreateCall answered.
func testCreateCall(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	c := f.ring(a, b, callID(1), at(1.5))
	want := store.Call{ID: callID(1), Caller: a.Number, CallerName: "Alice", Callee: b.Number, State: store.Ringing,
		Created: at(1.5), Deadline: at(1.5).Add(ringTime), Offer: []byte("offer")}
	for _, got := range []store.Call{c, f.call(c.ID)} {
		if err := sameCall(got, want); err != nil {
			t.Fatal(err)
		}
	}
	named, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(2), CallerHash: a.UUID, CallerName: "Ally",
		Callee: b.Number, Now: at(2), RingDeadline: at(2).Add(ringTime)})
	if err != nil || named.CallerName != "Ally" || f.call(callID(2)).CallerName != "Ally" || len(named.Offer) != 0 {
		t.Fatalf("a call naming its caller: %+v %v", named, err)
	}
}

// sameCall compares calls field by field, times by instant.
func sameCall(got, want store.Call) error {
	if got.ID != want.ID || got.Caller != want.Caller || got.CallerName != want.CallerName || got.Callee != want.Callee ||
		got.AI != want.AI || got.State != want.State || got.Reason != want.Reason ||
		!got.Created.Equal(want.Created) || !got.Answered.Equal(want.Answered) || !got.Ended.Equal(want.Ended) ||
		!got.Deadline.Equal(want.Deadline) || !bytes.Equal(got.Offer, want.Offer) || !bytes.Equal(got.AnswerData, want.AnswerData) {
		return fmt.Errorf("call %+v, want %+v", got, want)
	}
	return nil
}

// Only the callee answers, only while it rings; the call's deadline
// becomes the answer time plus the maximum length.
func testAnswerCall(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	call := f.ring(a, b, callID(1), at(1))
	for _, n := range []string{a.Number, c.Number} {
		if _, err := f.st.AnswerCall(f.ctx, call.ID, n, nil, at(2), time.Hour); !errors.Is(err, store.ErrBadCallID) {
			t.Fatalf("answer by %s: %v, want ErrBadCallID", n, err)
		}
	}
	if _, err := f.st.AnswerCall(f.ctx, callID(9), b.Number, nil, at(2), time.Hour); !errors.Is(err, store.ErrBadCallID) {
		t.Fatalf("answer of an unknown call: %v, want ErrBadCallID", err)
	}
	got, err := f.st.AnswerCall(f.ctx, call.ID, b.Number, []byte("answer"), at(3.25), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := call
	want.State, want.Answered, want.AnswerData, want.Deadline = store.Answered, at(3.25), []byte("answer"), at(3.25).Add(time.Hour)
	for _, c := range []store.Call{got, f.call(call.ID)} {
		if err := sameCall(c, want); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.AnswerCall(f.ctx, call.ID, b.Number, nil, at(4), time.Hour); !errors.Is(err, store.ErrCallState) {
		t.Fatalf("a second answer: %v, want ErrCallState", err)
	}
	f.endCall(call.ID, a.Number, at(5))
	if _, err := f.st.AnswerCall(f.ctx, call.ID, b.Number, nil, at(6), time.Hour); !errors.Is(err, store.ErrCallState) {
		t.Fatalf("answer of an ended call: %v, want ErrCallState", err)
	}
}

// The reason follows from the state and who ends the call; a missed-call
// message is left exactly when a ringing call ends unanswered by anyone
// but the callee.
func testEndReasons(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	cases := []struct {
		answered bool
		by       string
		reason   string
		missed   bool
	}{
		{false, a.Number, store.ReasonCancelled, true},
		{false, b.Number, store.ReasonDeclined, false},
		{false, "", store.ReasonTimeout, true},
		{true, a.Number, store.ReasonHangup, false},
		{true, b.Number, store.ReasonHangup, false},
		{true, "", store.ReasonTimeout, false},
	}
	for i, c := range cases {
		start := at(float64(100 * i))
		call := f.ring(a, b, callID(i+1), start)
		end := start.Add(10 * time.Second)
		if c.answered {
			if _, err := f.st.AnswerCall(f.ctx, call.ID, b.Number, nil, start.Add(time.Second), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			end = start.Add(6 * time.Second) // the deadline: answer + max length
		}
		if c.by == "" && !c.answered {
			end = call.Deadline
		}
		got := f.endCall(call.ID, c.by, end)
		if got.State != store.Ended || got.Reason != c.reason || !got.Ended.Equal(end) || !got.Deadline.IsZero() ||
			(got.MissedMsgID != 0) != c.missed {
			t.Fatalf("case %d: ended %+v, want reason %s, missed %v", i, got, c.reason, c.missed)
		}
		if read := f.call(call.ID); read.State != store.Ended || read.Reason != c.reason || !read.Ended.Equal(end) ||
			!read.Deadline.IsZero() {
			t.Fatalf("case %d: read back %+v", i, read)
		}
		if msgs, _ := f.take(0, 10, b.Number); len(msgs) != btoi(c.missed) {
			t.Fatalf("case %d: callee has %d messages, want %d", i, len(msgs), btoi(c.missed))
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// An ended call cannot end again; a stranger cannot end it; the server
// cannot end it before its deadline.
func testEndErrors(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	call := f.ring(a, b, callID(1), at(1))
	if _, err := f.st.EndCall(f.ctx, store.CallEnd{ID: call.ID, By: c.Number, Now: at(2)}); !errors.Is(err, store.ErrBadCallID) {
		t.Fatalf("end by a stranger: %v, want ErrBadCallID", err)
	}
	if _, err := f.st.EndCall(f.ctx, store.CallEnd{ID: callID(9), By: a.Number, Now: at(2)}); !errors.Is(err, store.ErrBadCallID) {
		t.Fatalf("end of an unknown call: %v, want ErrBadCallID", err)
	}
	early := call.Deadline.Add(-time.Millisecond)
	if _, err := f.st.EndCall(f.ctx, store.CallEnd{ID: call.ID, Now: early}); !errors.Is(err, store.ErrCallState) {
		t.Fatalf("timeout before the deadline: %v, want ErrCallState", err)
	}
	if got := f.call(call.ID); got.State != store.Ringing {
		t.Fatalf("after refused ends: %+v", got)
	}
	f.endCall(call.ID, b.Number, at(3))
	for _, by := range []string{a.Number, b.Number, ""} {
		if _, err := f.st.EndCall(f.ctx, store.CallEnd{ID: call.ID, By: by, Now: at(hour)}); !errors.Is(err, store.ErrCallState) {
			t.Fatalf("end of an ended call by %q: %v, want ErrCallState", by, err)
		}
	}
	if got := f.call(call.ID); got.Reason != store.ReasonDeclined || !got.Ended.Equal(at(3)) {
		t.Fatalf("an ended call changed: %+v", got)
	}
}

// The missed-call message is a message like any other, with the call's
// id, the missed-call uri and no data.
func testMissedCallMessage(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	call, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(1), CallerHash: a.UUID, CallerName: "Ally",
		Callee: b.Number, Now: at(1), RingDeadline: at(31)})
	if err != nil {
		t.Fatal(err)
	}
	ended := f.endCall(call.ID, a.Number, at(7))
	m := f.message(ended.MissedMsgID)
	if m.URI != store.MissedCallURI || m.Length != 0 || m.CallID != call.ID || m.Caller != a.Number ||
		m.CallerName != "Ally" || m.Callee != b.Number || m.Time != at(7).Unix() || m.State != store.Sent {
		t.Fatalf("missed-call message %+v", m)
	}
	msgs, _ := f.take(0, 10, b.Number)
	if len(msgs) != 1 || msgs[0].ID != m.ID || msgs[0].CallID != call.ID || msgs[0].URI != store.MissedCallURI {
		t.Fatalf("taken %+v, want the missed call", msgs)
	}
	if got := f.states(a.Number, m.ID); got[0] != store.Delivered {
		t.Fatalf("missed call's state after its take: %v", got[0])
	}
}
