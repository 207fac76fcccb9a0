package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ringd/ringd/internal/store"
)

// inbox sends n texts from a to b, a second apart from at(1), and returns
// their ids in the order sent.
func (f *fixture) inbox(a, b party, n int) []int64 {
	f.t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = f.sendText(a, b.Number, fmt.Sprintf("text %d", i), at(float64(1+i)))
	}
	return ids
}

// TakeUndelivered answers the oldest first, at most Limit, says whether
// more wait, and marks what it answers delivered: once.
func testTakeOrderLimitMore(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	ids := f.inbox(a, b, 5)
	for i, want := range []struct {
		n    int
		more bool
	}{{2, true}, {2, true}, {1, false}, {0, false}} {
		msgs, more := f.take(0, 2, b.Number)
		if len(msgs) != want.n || more != want.more {
			t.Fatalf("take %d: %d messages, more %v; want %d, %v", i, len(msgs), more, want.n, want.more)
		}
		from := min(2*i, len(ids))
		if got := idsOf(msgs); !slices.Equal(got, ids[from:from+want.n]) {
			t.Fatalf("take %d: ids %v, want %v", i, got, ids[from:from+want.n])
		}
		for j, m := range msgs {
			k := 2*i + j
			if m.State != store.Delivered || m.Caller != a.Number || m.Callee != b.Number ||
				m.Time != at(float64(1+k)).Unix() || f.data(m) != fmt.Sprintf("text %d", k) {
				t.Fatalf("taken %+v, data %q", m, f.data(m))
			}
		}
		if i == 0 {
			want := []store.State{store.Delivered, store.Delivered, store.Sent, store.Sent, store.Sent}
			if got := f.states(a.Number, ids...); !slices.Equal(got, want) {
				t.Fatalf("states after the first take %v, want %v", got, want)
			}
		}
	}
	if m := f.message(ids[4]); m.State != store.Delivered {
		t.Fatalf("message after its take: %+v", m)
	}
}

// Only messages newer than After are taken; the older stay waiting.
func testTakeAfter(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	ids := f.inbox(a, b, 3) // at 1, 2, 3
	msgs, more := f.take(at(2).Unix(), 10, b.Number)
	if !slices.Equal(idsOf(msgs), ids[2:]) || more {
		t.Fatalf("take after at(2): %v more %v, want %v", idsOf(msgs), more, ids[2:])
	}
	if got := f.states(a.Number, ids...); !slices.Equal(got, []store.State{store.Sent, store.Sent, store.Delivered}) {
		t.Fatalf("states %v: the older ones must stay waiting", got)
	}
	if msgs, _ := f.take(0, 10, b.Number); !slices.Equal(idsOf(msgs), ids[:2]) {
		t.Fatalf("take after 0: %v, want %v", idsOf(msgs), ids[:2])
	}
}

// A take that leaves older messages waiting (After) marks only what it
// took; a later take answers the ones left and the newer ones, past those
// already taken, and afterwards every state, history and later take agrees
// that each was delivered once.
func testTakeLeftBehindThenAll(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	ids := f.inbox(a, b, 5) // at 1 … 5
	if msgs, more := f.take(at(3).Unix(), 10, b.Number); !slices.Equal(idsOf(msgs), ids[3:]) || more {
		t.Fatalf("take after at(3): %v more %v, want %v", idsOf(msgs), more, ids[3:])
	}
	want := []store.State{store.Sent, store.Sent, store.Sent, store.Delivered, store.Delivered}
	if got := f.states(a.Number, ids...); !slices.Equal(got, want) {
		t.Fatalf("states after the take after at(3) %v, want %v", got, want)
	}
	ids = append(ids, f.sendText(a, b.Number, "text 5", at(6)), f.sendText(a, b.Number, "text 6", at(7)))
	wantTaken := []int64{ids[0], ids[1], ids[2], ids[5], ids[6]}
	if msgs, more := f.take(0, 10, b.Number); !slices.Equal(idsOf(msgs), wantTaken) || more {
		t.Fatalf("take of the rest: %v more %v, want %v", idsOf(msgs), more, wantTaken)
	}
	if msgs, _ := f.take(0, 10, b.Number); len(msgs) != 0 {
		t.Fatalf("taken again: %v", idsOf(msgs))
	}
	if err := f.st.MarkRead(f.ctx, []string{b.Number}, ids[:1]); err != nil {
		t.Fatal(err)
	}
	want = slices.Repeat([]store.State{store.Delivered}, len(ids))
	want[0] = store.Read
	if got := f.states(a.Number, ids...); !slices.Equal(got, want) {
		t.Fatalf("states after both takes and a read %v, want %v", got, want)
	}
	for i, m := range f.history(3, b.Number) {
		if m.ID != ids[i] || m.State != want[i] {
			t.Fatalf("history[%d] = id %d state %v, want %d %v", i, m.ID, m.State, ids[i], want[i])
		}
	}
	if m := f.message(ids[2]); m.State != store.Delivered {
		t.Fatalf("Message(%d).State = %v, want delivered", ids[2], m.State)
	}
}

// A take of several numbers answers all of theirs, oldest first, and no
// one else's; a read message waits no more.
func testTakeSeveralNumbers(t *testing.T, f *fixture) {
	a, b, c, d := f.online("Alice"), f.online("Bob"), f.online("Carol"), f.online("Dave")
	var want []int64
	for i := range 3 {
		want = append(want, f.sendText(a, b.Number, "to b", at(float64(3*i+1))))
		f.sendText(a, d.Number, "to d", at(float64(3*i+2)))
		want = append(want, f.sendText(a, c.Number, "to c", at(float64(3*i+3))))
	}
	if err := f.st.MarkRead(f.ctx, []string{c.Number}, []int64{want[3]}); err != nil {
		t.Fatal(err)
	}
	want = slices.Delete(want, 3, 4)
	msgs, more := f.take(0, 10, b.Number, c.Number)
	if !slices.Equal(idsOf(msgs), want) || more {
		t.Fatalf("take of b and c: %v more %v, want %v", idsOf(msgs), more, want)
	}
	for _, m := range msgs {
		if m.Callee != b.Number && m.Callee != c.Number || f.data(m) != "to "+map[string]string{b.Number: "b", c.Number: "c"}[m.Callee] {
			t.Fatalf("taken %+v", m)
		}
	}
	if msgs, _ := f.take(0, 10, d.Number); len(msgs) != 3 {
		t.Fatalf("d's messages after b and c took theirs: %d, want 3", len(msgs))
	}
}

// history pages through b's messages limit at a time with AfterID.
func (f *fixture) history(limit int, callees ...string) []store.Message {
	f.t.Helper()
	var all []store.Message
	after := int64(0)
	for page := 0; ; page++ {
		msgs, more, err := f.st.History(f.ctx, store.GetQuery{Callees: callees, AfterID: after, Limit: limit})
		if err != nil || len(msgs) > limit || (more && len(msgs) < limit) {
			f.t.Fatalf("history page %d: %d messages (limit %d), more %v, %v", page, len(msgs), limit, more, err)
		}
		all = append(all, msgs...)
		if !more {
			return all
		}
		after = msgs[len(msgs)-1].ID
	}
}

// History answers every message whatever its state, pages by AfterID and
// marks nothing.
func testHistory(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	ids := f.inbox(a, b, 5)
	f.sendText(a, c.Number, "not b's", at(10))
	f.take(0, 2, b.Number)
	if err := f.st.MarkRead(f.ctx, []string{b.Number}, ids[1:2]); err != nil {
		t.Fatal(err)
	}
	msgs := f.history(2, b.Number)
	if !slices.Equal(idsOf(msgs), ids) {
		t.Fatalf("history ids %v, want %v", idsOf(msgs), ids)
	}
	want := []store.State{store.Delivered, store.Read, store.Sent, store.Sent, store.Sent}
	for i, m := range msgs {
		if m.State != want[i] || m.Callee != b.Number || f.data(m) != fmt.Sprintf("text %d", i) {
			t.Fatalf("history[%d] = %+v, want state %v", i, m, want[i])
		}
	}
	if got := f.states(a.Number, ids...); !slices.Equal(got, want) {
		t.Fatalf("states after history %v, want %v: history marks nothing", got, want)
	}
	recent, _, err := f.st.History(f.ctx, store.GetQuery{Callees: []string{b.Number}, After: at(3).Unix(), Limit: 10})
	if err != nil || !slices.Equal(idsOf(recent), ids[3:]) {
		t.Fatalf("history after at(3): %v %v, want %v", idsOf(recent), err, ids[3:])
	}
	if msgs, _ := f.take(0, 10, b.Number); !slices.Equal(idsOf(msgs), ids[2:]) {
		t.Fatalf("take after history: %v, want %v", idsOf(msgs), ids[2:])
	}
}

// Message finds a live message by id; any other id is ErrBadMsgID.
func testMessage(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	id := f.sendText(a, b.Number, "x", at(1))
	for _, bad := range []int64{unknownID, 0, -1, -id} {
		if _, err := f.st.Message(f.ctx, bad); !errors.Is(err, store.ErrBadMsgID) {
			t.Fatalf("Message(%d): %v, want ErrBadMsgID", bad, err)
		}
	}
	if m := f.message(id); m.ID != id {
		t.Fatalf("Message(%d) = %+v", id, m)
	}
}

// MarkRead marks messages to the given numbers read, waiting or not; any
// id not a live message to them is ErrBadMsgID, and then none is marked.
func testMarkRead(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	m1, m2 := f.sendText(a, b.Number, "1", at(1)), f.sendText(a, b.Number, "2", at(2))
	m3 := f.sendText(a, c.Number, "3", at(3))
	f.take(0, 1, b.Number) // m1 delivered
	for _, bad := range [][]int64{{m1, m3}, {m2, unknownID}, {m1, 0}} {
		if err := f.st.MarkRead(f.ctx, []string{b.Number}, bad); !errors.Is(err, store.ErrBadMsgID) {
			t.Fatalf("MarkRead(b, %v): %v, want ErrBadMsgID", bad, err)
		}
	}
	want := []store.State{store.Delivered, store.Sent, store.Sent}
	if got := f.states(a.Number, m1, m2, m3); !slices.Equal(got, want) {
		t.Fatalf("states after refused reads %v, want %v", got, want)
	}
	if err := f.st.MarkRead(f.ctx, []string{b.Number, c.Number}, []int64{m1, m2, m3}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.MarkRead(f.ctx, []string{b.Number}, []int64{m1}); err != nil {
		t.Fatalf("marking a read message read again: %v", err)
	}
	want = []store.State{store.Read, store.Read, store.Read}
	if got := f.states(a.Number, m1, m2, m3); !slices.Equal(got, want) {
		t.Fatalf("states after reads %v, want %v", got, want)
	}
	if msgs, _ := f.take(0, 10, b.Number, c.Number); len(msgs) != 0 {
		t.Fatalf("read messages taken: %v", idsOf(msgs))
	}
}

// States answers in the order asked; any id not a live message from the
// caller is ErrBadMsgID.
func testStates(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	m1, m2 := f.sendText(a, b.Number, "1", at(1)), f.sendText(a, b.Number, "2", at(2))
	m3 := f.sendText(c, b.Number, "3", at(3))
	f.take(0, 1, b.Number)
	if got := f.states(a.Number, m2, m1); !slices.Equal(got, []store.State{store.Sent, store.Delivered}) {
		t.Fatalf("States(a, m2, m1) = %v", got)
	}
	for _, q := range []struct {
		caller string
		ids    []int64
	}{{a.Number, []int64{m1, m3}}, {b.Number, []int64{m1}}, {a.Number, []int64{unknownID}}, {a.Number, []int64{m2, -1}}} {
		if _, err := f.st.States(f.ctx, q.caller, q.ids); !errors.Is(err, store.ErrBadMsgID) {
			t.Fatalf("States(%s, %v): %v, want ErrBadMsgID", q.caller, q.ids, err)
		}
	}
}
