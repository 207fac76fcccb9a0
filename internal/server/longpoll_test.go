package server_test

import (
	"bufio"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
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

// TestLongPollsHoldNoSlots: long-polls from one number take no in-flight
// slot while they wait, and at most -max-longpolls of them wait at once:
// each newer one answers the oldest at once, empty. More of them than
// -max-inflight leave a normal client served as usual, and a message for
// the number still reaches one that waits.
func TestLongPollsHoldNoSlots(t *testing.T) {
	needDescriptors(t, 2*attackers)
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob, carol := s.User(t, "Alice"), s.User(t, "Bob"), s.User(t, "Carol")
	type polled struct {
		a    ringtest.Answer
		took time.Duration
		err  error
	}
	answers := make(chan polled, attackers)
	poll := ringtest.Body(map[string]any{"req": "get", "uuid": []string{carol.UUID}, "wait": 30}, nil)
	start := time.Now()
	conns := dialN(t, s, attackers, func(int) []byte {
		return fmt.Appendf(nil, "POST / HTTP/1.1\r\nHost: ringd\r\nContent-Length: %d\r\n\r\n%s", len(poll), poll)
	})
	for _, c := range conns {
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answers <- polled{err: err}
				return
			}
			a, err := readAnswer(resp)
			answers <- polled{a, time.Since(start), err}
		}()
	}
	// Every long-poll is either answered or waiting. A long-poll listens
	// before its first take and takes its place after, where it may put an
	// older one out: so every one listening must also hold its place.
	var got []polled
	waitFor(t, "every long-poll to be answered or waiting", func() bool {
		for len(answers) > 0 {
			got = append(got, <-answers)
		}
		waiting := server.Waiters(s.Server, carol.Number)
		return len(got)+waiting == attackers && server.LongPolls(s.Server) == waiting
	})
	checkNormalClient(t, s, alice, bob, fmt.Sprintf("%d long-polls of one number", attackers))

	var slowest time.Duration
	for _, p := range got {
		if p.err != nil || p.a.Code() != 10000 || len(ringtest.Messages(p.a)) != 0 {
			t.Fatalf("a long-poll put out of its place: %v %v", p.a, p.err)
		}
		slowest = max(slowest, p.took)
	}
	waiting := server.Waiters(s.Server, carol.Number)
	t.Logf("%d long-polls answered empty at once (the last %v after the first was sent), %d waiting",
		len(got), slowest, waiting)
	if waiting != server.DefaultMaxLongPolls {
		t.Fatalf("%d long-polls of one number wait, want %d", waiting, server.DefaultMaxLongPolls)
	}
	// Those waiting still wait for a message, and one of them gets it.
	if a := s.Send(t, alice, carol.Number, "for the poll"); a.Code() != 10000 {
		t.Fatalf("send: %v", a)
	}
	p := <-answers
	if m := ringtest.Messages(p.a); p.err != nil || len(m) != 1 || m[0]["text"] != "for the poll" {
		t.Fatalf("a waiting long-poll after a send: %v %v", p.a, p.err)
	}
}

// poller runs one long-poll in the background; its answer comes on done.
type poller struct{ done chan ringtest.Answer }

func startPoll(t *testing.T, s *ringtest.Server, head map[string]any) poller {
	t.Helper()
	p := poller{make(chan ringtest.Answer, 1)}
	go func() {
		a, _, err := callPost(s, head, nil)
		if err != nil {
			t.Error(err)
		}
		p.done <- a
	}()
	return p
}

// pending fails the test if p has been answered.
func (p poller) pending(t *testing.T, what string) {
	t.Helper()
	select {
	case a := <-p.done:
		t.Fatalf("%s answered: %v", what, a)
	default:
	}
}

// answer is p's answer, which must come at once (within a few seconds,
// where the long-poll would wait 30).
func (p poller) answer(t *testing.T, what string) ringtest.Answer {
	t.Helper()
	select {
	case a := <-p.done:
		return a
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not answered at once", what)
		return nil
	}
}

// TestLongPollBound: past -max-longpolls long-polls of one kind from one
// number, the newest takes the place of the oldest, which is answered at
// once as if its wait had ended; long-polls waiting hold no in-flight
// slot, so more of them than -max-inflight leave other requests served.
func TestLongPollBound(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxLongPolls, cfg.MaxInFlight = 2, 2
	s := ringtest.New(t, cfg)
	alice, bob, carol := s.User(t, "Alice"), s.User(t, "Bob"), s.User(t, "Carol")
	get := func(u ...ringtest.User) map[string]any {
		var uuids []string
		for _, x := range u {
			uuids = append(uuids, x.UUID)
		}
		return map[string]any{"req": "get", "uuid": uuids, "wait": 30}
	}
	waitPolls := func(n int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d long-polls to wait", n), func() bool { return server.LongPolls(s.Server) == n })
	}

	// Carol's get waits for carol and bob; two of bob's own take its place.
	both := startPoll(t, s, get(carol, bob))
	waitPolls(1)
	bob1 := startPoll(t, s, get(bob))
	waitPolls(2)
	both.pending(t, "a long-poll within the bound")
	bob2 := startPoll(t, s, get(bob))
	if a := both.answer(t, "the long-poll put out of its place"); a.Code() != 10000 || len(ringtest.Messages(a)) != 0 || a["more"] != false {
		t.Fatalf("the long-poll put out of its place: %v", a)
	}
	waitPolls(2)
	// Two long-polls wait with two slots: they hold neither, once each has
	// given its slot back (a poll is counted just before it does).
	waitFor(t, "waiting long-polls to hold no slot", func() bool { return server.InFlight(s.Server) == 0 })
	carolPoll := startPoll(t, s, get(carol))
	waitPolls(3)
	waitFor(t, "carol's long-poll to hold no slot", func() bool { return server.InFlight(s.Server) == 0 })
	s.Must(t, map[string]any{"req": "history", "uuid": []string{alice.UUID}}, nil)
	bob1.pending(t, "bob's first long-poll")
	if a := s.Send(t, alice, bob.Number, "to bob"); a.Code() != 10000 {
		t.Fatalf("send to bob: %v", a)
	}
	// One of bob's long-polls takes the message; the other waits on.
	var a ringtest.Answer
	other := bob1
	select {
	case a = <-bob1.done:
		other = bob2
	case a = <-bob2.done:
	}
	if m := ringtest.Messages(a); len(m) != 1 || m[0]["text"] != "to bob" {
		t.Fatalf("bob's long-poll after a send: %v", a)
	}
	waitPolls(2)
	other.pending(t, "bob's other long-poll")
	carolPoll.pending(t, "carol's long-poll")

	// callinfo: the same, by the number that asks.
	id := call(t, s, alice, bob.Number, nil)
	info := map[string]any{"req": "callinfo", "uuid": bob.UUID, "callid": id, "wait": 30}
	infos := []poller{startPoll(t, s, info)}
	waitFor(t, "a callinfo to wait", func() bool { return server.LongPolls(s.Server) >= 2+1 })
	infos = append(infos, startPoll(t, s, info))
	waitFor(t, "two callinfos to wait", func() bool { return server.LongPolls(s.Server) >= 2+2 })
	infos = append(infos, startPoll(t, s, info))
	if a := infos[0].answer(t, "the callinfo put out of its place"); a.Code() != 10000 || a.Str("state") != "ringing" {
		t.Fatalf("the callinfo put out of its place: %v", a)
	}
	want(t, s, 10000, map[string]any{"req": "hangup", "uuid": alice.UUID, "callid": id}, nil)
	for _, p := range infos[1:] {
		if a := <-p.done; a.Str("state") != "ended" {
			t.Fatalf("a waiting callinfo after the hangup: %v", a)
		}
	}
}
