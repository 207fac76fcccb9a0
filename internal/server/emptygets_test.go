package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/notify/pgnotify"
	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
	"github.com/ringd/ringd/internal/testsrv"
)

// emptyHits counts s's gets answered empty without its store.
func emptyHits(t *testing.T, s *ringtest.Server) float64 {
	t.Helper()
	return metric(t, s, "ringd_get_empty_cached_total")
}

// emptyThrice checks that u's gets on s find nothing, and that of three
// the third alone is answered without the store: the first marks the
// number as one whose gets find nothing, the second watches it.
func emptyThrice(t *testing.T, s *ringtest.Server, u ringtest.User, what string) {
	t.Helper()
	before := emptyHits(t, s)
	for range 3 {
		if m := s.Get(t, u); len(m) != 0 {
			t.Fatalf("%s: get found %v, want nothing", what, m)
		}
	}
	if got := emptyHits(t, s) - before; got != 1 {
		t.Fatalf("%s: %v of three gets finding nothing answered without the store, want the third alone", what, got)
	}
}

// frozenConfig is a test server's config with its clock stopped, so that
// no remembered empty get ages out: only a wake-up makes a get look again.
func frozenConfig(t *testing.T, now time.Time) server.Config {
	cfg := ringtest.NewConfig(t)
	cfg.Clock.(*ringtest.Clock).Set(now)
	return cfg
}

// A get that found nothing is remembered until a message arrives for its
// number: whatever arrives (a send, a sends, a missed call) is in the
// next get, and the gets between are answered without the store.
func TestEmptyGetsRemembered(t *testing.T) {
	s := ringtest.New(t, frozenConfig(t, time.Now()))
	alice, bob, carol := s.User(t, "Alice"), s.User(t, "Bob"), s.User(t, "Carol")
	emptyThrice(t, s, bob, "at first")

	s.Send(t, alice, bob.Number, "hello")
	if m := s.Get(t, bob); len(m) != 1 || m[0]["text"] != "hello" {
		t.Fatalf("get after a send: %v", m)
	}
	emptyThrice(t, s, bob, "after the send")
	emptyThrice(t, s, carol, "Carol, at first")

	s.Must(t, map[string]any{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number}, "length": 4}, []byte("both"))
	for _, u := range []ringtest.User{bob, carol} {
		if m := s.Get(t, u); len(m) != 1 || m[0]["text"] != "both" {
			t.Fatalf("get after a sends: %v", m)
		}
	}
	emptyThrice(t, s, bob, "after the sends")

	id := call(t, s, alice, bob.Number, nil)
	want(t, s, 10000, map[string]any{"req": "hangup", "uuid": alice.UUID, "callid": id}, nil)
	if m := missedCalls(t, s, bob); len(m) != 1 || m[0]["callid"] != id {
		t.Fatalf("get after a missed call: %v", m)
	}
	emptyThrice(t, s, bob, "after the missed call")
}

// getSome gets u's messages on s until one comes.
func getSome(t *testing.T, s *ringtest.Server, u ringtest.User, what string) []map[string]any {
	t.Helper()
	var m []map[string]any
	waitFor(t, what, func() bool { m = s.Get(t, u); return len(m) > 0 })
	return m
}

// A node's remembered empty gets end when a message arrives through
// another node: its wake-up crosses by pgnotify; and when one may have
// been lost, as the listener reconnects. The clocks are frozen and the
// rechecks hourly, so nothing else makes B look again.
func TestEmptyGetsAcrossNodes(t *testing.T) {
	if ringtest.EngineName() != "postgres" {
		t.Skip("two nodes share a PostgreSQL database: runs in the PostgreSQL pass")
	}
	dir := t.TempDir()
	url := ringtest.DatabaseURL(t, dir)
	now := time.Now()
	node := func() *ringtest.Server {
		n, err := pgnotify.Open(context.Background(), url, pgnotify.Options{Recheck: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close) // after the server's own
		cfg := frozenConfig(t, now)
		cfg.Notifier = n
		return ringtest.NewAt(t, cfg, dir)
	}
	a, b := node(), node()
	alice, bob := a.User(t, "Alice"), a.User(t, "Bob")

	emptyThrice(t, b, bob, "B at first")
	a.Send(t, alice, bob.Number, "through A")
	if m := getSome(t, b, bob, "a message on B after A's send"); m[0]["text"] != "through A" {
		t.Fatalf("B's get after A's send: %v", m)
	}

	emptyThrice(t, b, bob, "B after the first message")
	if n := testsrv.TerminateBackends(t, url, pgnotify.ApplicationName, "LISTEN "); n != 2 {
		t.Fatalf("terminated %d listeners, want both nodes'", n)
	}
	a.Send(t, alice, bob.Number, "while B was not listening")
	if m := getSome(t, b, bob, "a message on B after its listener reconnected"); m[0]["text"] != "while B was not listening" {
		t.Fatalf("B's get after its listener reconnected: %v", m)
	}
}
