package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

const raceRounds = 8

// Of racing ends (caller, callee and the server at the deadline), exactly
// one applies and the others are ErrCallState; exactly one missed-call
// message is left unless the callee's decline won.
func testRacingEnds(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(f.ctx, stuckAfter)
	defer cancel()
	a, b := f.online("Alice"), f.online("Bob")
	for r := range raceRounds {
		call := f.ring(a, b, callID(r+1), at(float64(100*r)))
		bys := []string{a.Number, b.Number, "", a.Number, b.Number}
		ends := make([]store.Call, len(bys))
		errs := make([]error, len(bys))
		var wg sync.WaitGroup
		for i, by := range bys {
			wg.Go(func() {
				ends[i], errs[i] = f.st.EndCall(ctx, store.CallEnd{ID: call.ID, By: by, Now: call.Deadline})
			})
		}
		wg.Wait()
		var won []store.Call
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, ends[i])
			case !errors.Is(err, store.ErrCallState):
				t.Fatalf("round %d, end by %q: %v, want nil or ErrCallState", r, bys[i], err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d ends applied, want 1", r, len(won))
		}
		if got := f.call(call.ID); got.Reason != won[0].Reason || got.State != store.Ended {
			t.Fatalf("round %d: call %+v, winner %+v", r, got, won[0])
		}
		msgs, _ := f.take(0, 10, b.Number)
		if want := btoi(won[0].Reason != store.ReasonDeclined); len(msgs) != want {
			t.Fatalf("round %d: %s won, %d missed-call messages, want %d", r, won[0].Reason, len(msgs), want)
		}
	}
}

// Of racing answers exactly one applies. Against the callee's end, either
// the end comes first (declined: every answer is ErrCallState) or one
// answer does (the end then hangs the answered call up).
func testRacingAnswers(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(f.ctx, stuckAfter)
	defer cancel()
	a, b := f.online("Alice"), f.online("Bob")
	for r := range raceRounds {
		call := f.ring(a, b, callID(r+1), at(float64(100*r)))
		withEnd := r%2 == 1
		var end store.Call
		var endErr error
		errs := make([]error, 4)
		var wg sync.WaitGroup
		if withEnd {
			wg.Go(func() {
				end, endErr = f.st.EndCall(ctx, store.CallEnd{ID: call.ID, By: b.Number, Now: call.Created.Add(time.Second)})
			})
		}
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = f.st.AnswerCall(ctx, call.ID, b.Number, []byte{byte(i)}, call.Created.Add(time.Second), time.Hour)
			})
		}
		wg.Wait()
		answered := 0
		for i, err := range errs {
			if err == nil {
				answered++
			} else if !errors.Is(err, store.ErrCallState) {
				t.Fatalf("round %d, answer %d: %v, want nil or ErrCallState", r, i, err)
			}
		}
		want := 1
		if withEnd {
			if endErr != nil {
				t.Fatalf("round %d: the callee's end: %v", r, endErr)
			}
			want = btoi(end.Reason == store.ReasonHangup)
		}
		if answered != want {
			t.Fatalf("round %d: %d answers applied, want %d (end %+v)", r, answered, want, end)
		}
	}
}

// NextDeadline is the earliest deadline of the calls not ended, DueCalls
// those at or before now; ending or answering a call moves them.
func testDeadlines(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	f.wantNextDeadline(time.Time{})
	c1 := f.ring(a, b, callID(1), at(10)) // rings until at(40)
	c2 := f.ring(a, b, callID(2), at(0))  // until at(30)
	f.wantNextDeadline(at(30))
	f.wantDue(at(29.999))
	f.wantDue(at(30), c2.ID)
	f.wantDue(at(40), c1.ID, c2.ID)
	if _, err := f.st.AnswerCall(f.ctx, c2.ID, b.Number, nil, at(5), time.Hour); err != nil {
		t.Fatal(err)
	}
	f.wantNextDeadline(at(40))
	f.wantDue(at(40), c1.ID)
	f.wantDue(at(5+hour), c1.ID, c2.ID)
	f.endCall(c1.ID, "", at(41))
	f.wantNextDeadline(at(5 + hour))
	f.endCall(c2.ID, a.Number, at(50))
	f.wantNextDeadline(time.Time{})
	f.wantDue(at(10 * hour))
}

// wantNextDeadline checks NextDeadline; a zero want means none.
func (f *fixture) wantNextDeadline(want time.Time) {
	f.t.Helper()
	got, ok, err := f.st.NextDeadline(f.ctx)
	if err != nil || ok != !want.IsZero() || (ok && !got.Equal(want)) {
		f.t.Fatalf("NextDeadline: %v %v %v, want %v", got, ok, err, want)
	}
}

// wantDue checks DueCalls at now, in any order.
func (f *fixture) wantDue(now time.Time, ids ...string) {
	f.t.Helper()
	got, err := f.st.DueCalls(f.ctx, now)
	if err != nil || !slices.Equal(sorted(got), sorted(ids)) {
		f.t.Fatalf("DueCalls(%v): %v %v, want %v", now, got, err, ids)
	}
}

// credit adds seconds to a number's balance and checks the new balance.
func (f *fixture) credit(number string, seconds, want int64) {
	f.t.Helper()
	if got, err := f.st.Credit(f.ctx, number, seconds); err != nil || got != want {
		f.t.Fatalf("Credit(%s, %d): %d %v, want %d", number, seconds, got, err, want)
	}
	f.wantBalance(number, want)
}

// An AI call is answered from the start, ends at the end of the balance or
// its maximum length, and takes its seconds, rounded up, from the balance;
// credit during the call does not lengthen it.
func testAIBalance(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	if _, err := f.st.Credit(f.ctx, "99999999", 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("credit of an unregistered number: %v, want ErrNotFound", err)
	}
	if bal, err := f.st.Balance(f.ctx, a.Number); err != nil || bal != 0 {
		t.Fatalf("balance never credited: %d %v", bal, err)
	}
	f.credit(a.Number, 10, 10)
	f.credit(a.Number, 5, 15)
	call, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(1), CallerHash: a.UUID, Offer: []byte("hi"),
		AnswerData: []byte("from the AI"), Now: at(1), MaxLength: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := store.Call{ID: callID(1), Caller: a.Number, CallerName: "Alice", AI: true, State: store.Answered,
		Created: at(1), Answered: at(1), Deadline: at(16), Offer: []byte("hi"), AnswerData: []byte("from the AI")}
	if err := sameCall(call, want); err != nil {
		t.Fatal(err)
	}
	f.credit(a.Number, 100, 115)
	if err := sameCall(f.call(call.ID), want); err != nil {
		t.Fatalf("after credit during the call: %v", err)
	}
	if _, err := f.st.AnswerCall(f.ctx, call.ID, a.Number, nil, at(2), time.Hour); !errors.Is(err, store.ErrBadCallID) {
		t.Fatalf("answer of an AI call: %v, want ErrBadCallID", err)
	}
	if _, err := f.st.EndCall(f.ctx, store.CallEnd{ID: call.ID, By: b.Number, Now: at(2)}); !errors.Is(err, store.ErrBadCallID) {
		t.Fatalf("end of an AI call by another number: %v, want ErrBadCallID", err)
	}
	ended := f.endCall(call.ID, a.Number, at(3.3))
	if ended.Reason != store.ReasonHangup || ended.Charged != 3 || ended.MissedMsgID != 0 {
		t.Fatalf("AI call hung up after 2.3 s: %+v, want hangup, 3 s charged", ended)
	}
	f.wantBalance(a.Number, 112)
	short, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(2), CallerHash: a.UUID, Now: at(10), MaxLength: 5 * time.Second})
	if err != nil || !short.Deadline.Equal(at(15)) {
		t.Fatalf("AI call of at most 5 s: %+v %v, want deadline %v", short, err, at(15))
	}
}

// The server ends an AI call at the end of its balance or of its maximum
// length, charging up to its deadline however late it gets round to it,
// and never below zero.
func testAITimeout(t *testing.T, f *fixture) {
	a := f.online("Alice")
	f.credit(a.Number, 100, 100)
	long, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(1), CallerHash: a.UUID, Now: at(0), MaxLength: 10 * time.Second})
	if err != nil || !long.Deadline.Equal(at(10)) {
		t.Fatalf("AI call of at most 10 s: %+v %v", long, err)
	}
	f.wantDue(at(10), long.ID)
	if ended := f.endCall(long.ID, "", at(12)); ended.Reason != store.ReasonTimeout || ended.Charged != 10 {
		t.Fatalf("AI call ended by the server: %+v, want timeout, 10 s charged", ended)
	}
	f.wantBalance(a.Number, 90)
	call, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(2), CallerHash: a.UUID, Now: at(20), MaxLength: time.Hour})
	if err != nil || !call.Deadline.Equal(at(110)) {
		t.Fatalf("AI call on 90 s of balance: %+v %v", call, err)
	}
	if ended := f.endCall(call.ID, "", at(115)); ended.Reason != store.ReasonTimeout || ended.Charged != 90 {
		t.Fatalf("AI call ended by the server: %+v, want timeout, 90 s charged", ended)
	}
	f.wantBalance(a.Number, 0)
	if _, err := f.st.CreateCall(f.ctx, store.NewCall{ID: callID(3), CallerHash: a.UUID, Now: at(200), MaxLength: time.Hour}); !errors.Is(err, store.ErrNoBalance) {
		t.Fatalf("AI call on a spent balance: %v, want ErrNoBalance", err)
	}
}

// wantBalance checks a number's balance.
func (f *fixture) wantBalance(number string, want int64) {
	f.t.Helper()
	if got, err := f.st.Balance(f.ctx, number); err != nil || got != want {
		f.t.Fatalf("Balance(%s): %d %v, want %d", number, got, err, want)
	}
}

// Link data is set once.
func testLink(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	if data, ok, err := f.st.Link(f.ctx, a.Number); err != nil || ok || data != "" {
		t.Fatalf("link never set: %q %v %v", data, ok, err)
	}
	if err := f.st.SetLink(f.ctx, a.Number, "first"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetLink(f.ctx, a.Number, "second"); !errors.Is(err, store.ErrLinkExists) {
		t.Fatalf("second link: %v, want ErrLinkExists", err)
	}
	if data, ok, err := f.st.Link(f.ctx, a.Number); err != nil || !ok || data != "first" {
		t.Fatalf("link: %q %v %v, want first", data, ok, err)
	}
	if _, ok, err := f.st.Link(f.ctx, b.Number); err != nil || ok {
		t.Fatalf("another number's link: %v %v", ok, err)
	}
}

// Stats counts numbers, bindings, devices, messages, calls, and the bytes
// of data: a sends's once, data sent to one number once per message.
func testStats(t *testing.T, f *fixture) {
	if s := f.stats(); s != (store.Stats{}) {
		t.Fatalf("stats of an empty store %+v", s)
	}
	a, b, c := f.online("Alice"), f.register(), f.register()
	f.login(device("token-shared-01", "Shared"), t0, b, c)
	f.register()
	f.sendText(a, b.Number, "12345", at(1))
	f.sendText(a, b.Number, "12345", at(2))
	f.mustSend(sending{From: a.UUID, To: []string{b.Number, c.Number}, Data: "1234567", At: at(3)})
	f.ring(a, b, callID(1), at(4))
	f.endCall(callID(1), a.Number, at(5)) // leaves a missed-call message
	want := store.Stats{Numbers: 4, InUse: 3, Devices: 2, Messages: 5, Calls: 1, Bytes: 5 + 5 + 7}
	if s := f.stats(); s != want {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
}
