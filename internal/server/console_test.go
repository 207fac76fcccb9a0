package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestLookup: an operator sees whether a number is in use, its device's
// appid and build, and its queued messages, and never a uuid, a push
// token, a text or a file's name.
func TestLookup(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "admin-secret"
	s := ringtest.New(t, cfg)
	const tok = "admin-secret"
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	idle := s.Register(t)

	lookupRefusals(t, s, bob.Number)
	const secretText = "the secret text"
	s.Send(t, alice, bob.Number, secretText)
	s.Send(t, alice, bob.Number, "another")
	want(t, s, 10000, map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 3, "fname": "private.pdf"}, []byte("pdf"))

	a, _ := want(t, s, 10000, map[string]any{"req": "lookup", "auth": tok, "number": bob.Number}, nil)
	raw := noSecrets(t, a, alice.UUID, bob.UUID, bob.Token, alice.Token, secretText, "private.pdf")
	if a["registered"] != true || a["in_use"] != true || a.Str("appid") != "test.app" || a.Str("build") != "1.0" || a["queued"] != 3.0 {
		t.Fatalf("lookup of a number with 3 queued: %s", raw)
	}
	msgs := a["messages"].([]any)
	first := msgs[0].(map[string]any)
	if len(msgs) != 3 || first["caller"] != alice.Number || first["length"] != float64(len(secretText)) || first["msgid"] == "" || first["time"] == nil {
		t.Fatalf("lookup's messages: %s", raw)
	}

	s.Get(t, bob) // delivered: no longer queued
	a, _ = want(t, s, 10000, map[string]any{"req": "lookup", "auth": tok, "number": bob.Number}, nil)
	if a["queued"] != 0.0 || len(a["messages"].([]any)) != 0 {
		t.Fatalf("lookup after get: %v", a)
	}
	a, _ = want(t, s, 10000, map[string]any{"req": "lookup", "auth": tok, "number": idle.Number}, nil)
	if a["registered"] != true || a["in_use"] != false || a["appid"] != nil {
		t.Fatalf("lookup of a number not in use: %v", a)
	}
	a, _ = want(t, s, 10000, map[string]any{"req": "lookup", "auth": tok, "number": "555000111"}, nil)
	if a["registered"] != false || a["in_use"] != false || a["queued"] != 0.0 {
		t.Fatalf("lookup of an unregistered number: %v", a)
	}
}

// lookupRefusals: a wrong or missing token is 10061, a missing or
// malformed number 10002.
func lookupRefusals(t *testing.T, s *ringtest.Server, number string) {
	t.Helper()
	want(t, s, 10061, map[string]any{"req": "lookup", "auth": "wrong", "number": number}, nil)
	want(t, s, 10061, map[string]any{"req": "lookup", "number": number}, nil)
	want(t, s, 10002, map[string]any{"req": "lookup", "auth": "admin-secret"}, nil)
	want(t, s, 10002, map[string]any{"req": "lookup", "auth": "admin-secret", "number": "12"}, nil)
}

// noSecrets fails when the answer a holds any of secrets, and returns it
// as JSON.
func noSecrets(t *testing.T, a ringtest.Answer, secrets ...string) []byte {
	t.Helper()
	raw, _ := json.Marshal(a)
	for _, secret := range secrets {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the answer shows a secret or contents %q: %s", secret, raw)
		}
	}
	return raw
}

// TestCounters: counters answers the server's own request counters (those
// /metrics shows) by answer code over time, the last sample being now.
func TestCounters(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "admin-secret"
	s := ringtest.New(t, cfg)
	const tok = "admin-secret"
	want(t, s, 10061, map[string]any{"req": "counters", "auth": "nope"}, nil)

	last := func() (map[string]any, ringtest.Answer) {
		a, _ := want(t, s, 10000, map[string]any{"req": "counters", "auth": tok}, nil)
		samples := a["samples"].([]any)
		if len(samples) < 1 || a["interval"] != 2.0 {
			t.Fatalf("counters: %v", a)
		}
		return samples[len(samples)-1].(map[string]any)["answers"].(map[string]any), a
	}
	before, _ := last()
	s.Register(t)
	s.Register(t)
	want(t, s, 10002, map[string]any{"req": "nothing"}, nil)
	after, a := last()
	n := func(m map[string]any, code string) float64 { f, _ := m[code].(float64); return f }
	// The counters request before this one counts as one more 10000; the
	// one that fails its auth as a 10061.
	if n(after, "10000")-n(before, "10000") != 3 || n(after, "10002")-n(before, "10002") != 1 {
		t.Fatalf("counters before %v, after %v", before, after)
	}
	reqs := a["requests"].(map[string]any)
	if reg := reqs["register"].(map[string]any); reg["10000"] != 2.0 {
		t.Fatalf("counters by req: %v", reqs)
	}
	if reqs["unknown"].(map[string]any)["10002"] != 1.0 {
		t.Fatalf("counters by req: %v", reqs)
	}
}
