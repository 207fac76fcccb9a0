package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestIncoming: a client without push learns of the calls ringing it, and
// a long-poll naming the calls it has seen wakes when a new one rings.
func TestIncoming(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob, carol := s.User(t, "Alice"), s.User(t, "Bob"), s.User(t, "Carol")

	want(t, s, 10002, map[string]any{"req": "incoming"}, nil)
	want(t, s, 10002, map[string]any{"req": "incoming", "uuid": []string{}}, nil)
	want(t, s, 10004, map[string]any{"req": "incoming", "uuid": []string{"nope"}}, nil)
	want(t, s, 10002, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}, "wait": -1}, nil)
	want(t, s, 10002, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}, "seen": strings.Split(strings.Repeat("x,", 100), ",")}, nil)
	want(t, s, 10002, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}, "length": 1}, []byte("x"))

	a, _ := want(t, s, 10000, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}}, nil)
	if calls := a["calls"].([]any); len(calls) != 0 {
		t.Fatalf("incoming with nothing ringing: %v", a)
	}
	a, _ = want(t, s, 10000, map[string]any{"req": "call", "uuid": alice.UUID, "callee": bob.Number, "caller_name": "Alice A"}, nil)
	first := a.Str("callid")
	a, _ = want(t, s, 10000, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}}, nil)
	calls := a["calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("incoming with one call ringing: %v", a)
	}
	c := calls[0].(map[string]any)
	if c["callid"] != first || c["caller"] != alice.Number || c["caller_name"] != "Alice A" || c["callee"] != bob.Number || c["time"] == nil {
		t.Fatalf("incoming's call: %v", c)
	}
	// The caller is not rung.
	if a, _ := want(t, s, 10000, map[string]any{"req": "incoming", "uuid": []string{alice.UUID}}, nil); len(a["calls"].([]any)) != 0 {
		t.Fatalf("incoming of the caller: %v", a)
	}

	// A long-poll that has seen the first call waits for the next.
	done := make(chan ringtest.Answer, 1)
	go func() {
		a, _ := s.Post(t, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}, "wait": 20, "seen": []string{first}}, nil)
		done <- a
	}()
	select {
	case a := <-done:
		t.Fatalf("incoming with every call seen answered at once: %v", a)
	case <-time.After(300 * time.Millisecond):
	}
	a, _ = want(t, s, 10000, map[string]any{"req": "call", "uuid": carol.UUID, "callee": bob.Number}, nil)
	second := a.Str("callid")
	select {
	case a := <-done:
		calls := a["calls"].([]any)
		if a.Code() != 10000 || len(calls) != 2 || calls[0].(map[string]any)["callid"] != first || calls[1].(map[string]any)["callid"] != second {
			t.Fatalf("incoming woken by a new call: %v", a)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a new call did not wake incoming")
	}

	// Having seen both, the long-poll ends with its wait.
	a, _ = want(t, s, 10000, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}, "wait": 1, "seen": []string{first, second}}, nil)
	if len(a["calls"].([]any)) != 2 {
		t.Fatalf("incoming at the end of its wait: %v", a)
	}
	// A declined call rings no more.
	want(t, s, 10000, map[string]any{"req": "hangup", "uuid": bob.UUID, "callid": first}, nil)
	a, _ = want(t, s, 10000, map[string]any{"req": "incoming", "uuid": []string{bob.UUID}}, nil)
	if calls := a["calls"].([]any); len(calls) != 1 || calls[0].(map[string]any)["callid"] != second {
		t.Fatalf("incoming after a decline: %v", a)
	}
}
