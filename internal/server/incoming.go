package server

import (
	"context"
	"slices"
	"time"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// incoming is how a client without push (a browser) learns that a call
// rings it: the calls ringing to its numbers, and with wait, held until a
// call it has not seen rings. A phone learns it from its VoIP push.

// ringingLister is what incoming reads of the store. The server has the
// request only over a store that has it.
type ringingLister interface {
	RingingCalls(ctx context.Context, callees []string) ([]store.Call, error)
}

// maxSeen bounds the callids an incoming request may name as seen.
const maxSeen = 100

type incomingHead struct {
	UUID *wire.Strings `json:"uuid"`
	Wait *int64        `json:"wait"`
	Seen *wire.Strings `json:"seen"`
}

type ringingCall struct {
	CallID     string `json:"callid"`
	Caller     string `json:"caller"`
	CallerName string `json:"caller_name"`
	Callee     string `json:"callee"`
	Time       int64  `json:"time"`
}

type incomingAnswer struct {
	Answer wire.Code     `json:"answer"`
	Calls  []ringingCall `json:"calls"`
}

// incomingPollKeys are the keys an incoming long-poll is counted under.
func incomingPollKeys(numbers []string) []string {
	keys := make([]string, len(numbers))
	for i, n := range numbers {
		keys[i] = "incoming:" + n
	}
	return keys
}

// incoming answers the calls ringing to the numbers of uuid, oldest first.
// With wait it is held while every one of them is among seen, until a call
// to one of the numbers is made (the call wakes it after its commit), the
// wait ends, or the server shuts down.
func (s *Server) incoming(ctx context.Context, r *wire.Request) (any, error) {
	var h incomingHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if err := r.NoData(); err != nil {
		return nil, err
	}
	if h.UUID == nil || len(*h.UUID) == 0 {
		return nil, wire.Invalid("uuid", "required, a non-empty array of uuid strings")
	}
	var seen []string
	if h.Seen != nil {
		if seen = *h.Seen; len(seen) > maxSeen {
			return nil, wire.Invalidf("seen", "an array of at most %d callids", maxSeen)
		}
	}
	wait, err := waitOf(h.Wait)
	if err != nil {
		return nil, err
	}
	hashes, err := hashUUIDs(*h.UUID)
	if err != nil {
		return nil, err
	}
	numbers, err := s.numbersOf(ctx, hashes)
	if err != nil {
		return nil, err
	}
	calls, err := s.ringingAwait(ctx, numbers, seen, wait)
	if err != nil {
		return nil, err
	}
	a := incomingAnswer{Answer: wire.OK, Calls: make([]ringingCall, len(calls))}
	for i, c := range calls {
		a.Calls[i] = ringingCall{CallID: c.ID, Caller: c.Caller, CallerName: c.CallerName, Callee: c.Callee, Time: c.Created.Unix()}
	}
	return a, nil
}

// ringingAwait reads the calls ringing to numbers, and with wait, reads
// them again at each call made to them until one is not among seen. It
// subscribes before it reads, so a call committed in between still wakes
// it.
func (s *Server) ringingAwait(ctx context.Context, numbers, seen []string, wait time.Duration) ([]store.Call, error) {
	var woke <-chan struct{}
	if wait > 0 {
		topics := make([]notify.Topic, len(numbers))
		for i, n := range numbers {
			topics[i] = notify.Ringing(n)
		}
		var cancel func()
		woke, cancel = s.notifier.Subscribe(topics...)
		defer cancel()
	}
	calls, err := s.calls.ringing.RingingCalls(ctx, numbers)
	if err != nil || wait == 0 || unseen(calls, seen) {
		return calls, err
	}
	p := s.polls.start(incomingPollKeys(numbers)...)
	defer s.polls.done(p)
	t := time.NewTimer(wait)
	defer t.Stop()
	for !unseen(calls, seen) {
		woken, err := s.await(ctx, woke, p, t)
		if err != nil || !woken {
			return calls, err
		}
		if calls, err = s.calls.ringing.RingingCalls(ctx, numbers); err != nil {
			return nil, err
		}
	}
	return calls, nil
}

// unseen reports whether a call is not among seen.
func unseen(calls []store.Call, seen []string) bool {
	for _, c := range calls {
		if !slices.Contains(seen, c.ID) {
			return true
		}
	}
	return false
}
