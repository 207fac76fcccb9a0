package server_test

import (
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestGetWait: a get with wait holds an empty answer until a send for one
// of its numbers commits, and then answers with it.
func TestGetWait(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob, carol := s.User(t, "Alice"), s.User(t, "Bob"), s.User(t, "Carol")

	got := make(chan ringtest.Answer, 1)
	go func() {
		a, _, err := callPost(s, map[string]any{"req": "get", "uuid": []string{bob.UUID, carol.UUID}, "wait": 30}, nil)
		if err != nil {
			t.Error(err)
		}
		got <- a
	}()
	// Had the get timed out instead of being woken, it would be empty.
	if a := s.Send(t, alice, carol.Number, "wake up"); a.Code() != 10000 {
		t.Fatalf("send: %v", a)
	}
	a := <-got
	m := ringtest.Messages(a)
	if a.Code() != 10000 || len(m) != 1 || m[0]["text"] != "wake up" || m[0]["callee"] != carol.Number {
		t.Fatalf("long-poll answer: %v", a)
	}

	// Something already waiting is answered at once, wait or not.
	s.Send(t, alice, bob.Number, "already here")
	a, _ = want(t, s, 10000, map[string]any{"req": "get", "uuid": []string{bob.UUID}, "wait": 30}, nil)
	if m := ringtest.Messages(a); len(m) != 1 || m[0]["text"] != "already here" {
		t.Fatalf("get with wait and a message waiting: %v", a)
	}
	want(t, s, 10002, map[string]any{"req": "get", "uuid": []string{bob.UUID}, "wait": -1}, nil)
	want(t, s, 10002, map[string]any{"req": "get", "uuid": []string{bob.UUID}, "wait": 1.5}, nil)
	want(t, s, 10004, map[string]any{"req": "get", "uuid": []string{"nope"}, "wait": 30}, nil)
}

// TestGetWaitEndsOnClose: closing the server answers waiting long-polls
// (empty) at once, so shutdown need not wait 30 s for them.
func TestGetWaitEndsOnClose(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	bob := s.User(t, "Bob")
	got := make(chan ringtest.Answer, 2)
	for range 2 {
		go func() {
			a, _, err := callPost(s, map[string]any{"req": "get", "uuid": []string{bob.UUID}, "wait": 30}, nil)
			if err != nil {
				t.Error(err)
			}
			got <- a
		}()
	}
	s.Server.Close() // what ringd does on SIGTERM before draining HTTP
	for range 2 {
		if a := <-got; a.Code() != 10000 || len(ringtest.Messages(a)) != 0 {
			t.Fatalf("long-poll at shutdown: %v", a)
		}
	}
}
