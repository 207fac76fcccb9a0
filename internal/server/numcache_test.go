package server_test

import (
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestGetNumberCache: get resolves uuids through an in-process cache of
// uuid → number. It never answers for a uuid it has not seen registered
// (unknown uuids are not cached: one may be registered later), and a
// cached uuid beside an unknown one is still refused whole.
func TestGetNumberCache(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	if got := s.Get(t, bob); len(got) != 0 { // bob's uuid is cached now
		t.Fatalf("bob has %d messages before any send", len(got))
	}
	a, _ := s.Post(t, map[string]any{"req": "get", "uuid": []string{bob.UUID, ringtestUUID}}, nil)
	if code := a.Code(); code != 10004 {
		t.Fatalf("get of a cached and an unknown uuid: %d, want 10004", code)
	}
	for range 2 { // the unknown uuid is refused again, not remembered
		a, _ := s.Post(t, map[string]any{"req": "get", "uuid": []string{ringtestUUID}}, nil)
		if code := a.Code(); code != 10004 {
			t.Fatalf("get of an unknown uuid: %d, want 10004", code)
		}
	}
	// A number registered after the cache was filled, asked beside a
	// cached one and that one twice: each message once, to its number.
	carol := s.User(t, "Carol")
	for _, to := range []string{bob.Number, carol.Number} {
		if a := s.Send(t, alice, to, "hi "+to); a.Code() != 10000 {
			t.Fatalf("send to %s: %v", to, a)
		}
	}
	got := s.Get(t, bob, carol, bob)
	if len(got) != 2 || got[0]["callee"] != bob.Number || got[1]["callee"] != carol.Number {
		t.Fatalf("get of bob, carol, bob: %v", got)
	}
}
