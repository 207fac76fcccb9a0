package server

import (
	"context"
	"sync"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// hub wakes requests that wait for something to happen in this process: a
// callinfo with wait for its call to change, a get with wait for a message
// to arrive. The change itself notifies after its commit, so a waiter wakes
// at once and the database is never polled. A waiter subscribes before it
// reads the state it waits on, so a change that commits between the read
// and the wait is not lost: its wake-up is already queued.
//
// Keys are "call:<callid>" and "num:<number>". Several ringd nodes over one
// database would need to carry these notifications between them; with the
// embedded store there is one node.
type hub struct {
	mu      sync.Mutex // guards the following
	waiters map[string]map[*waiter]struct{}
}

// waiter is one waiting request; c holds at most one pending wake-up.
type waiter struct {
	c    chan struct{}
	keys []string
}

func callKey(id string) string       { return "call:" + id }
func numberKey(number string) string { return "num:" + number }

// subscribe makes a waiter woken by a notify of any of keys. The caller
// must cancel it.
func (h *hub) subscribe(keys ...string) *waiter {
	w := &waiter{c: make(chan struct{}, 1), keys: keys}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters == nil {
		h.waiters = map[string]map[*waiter]struct{}{}
	}
	for _, k := range keys {
		set := h.waiters[k]
		if set == nil {
			set = map[*waiter]struct{}{}
			h.waiters[k] = set
		}
		set[w] = struct{}{}
	}
	return w
}

// cancel removes w, so keys nobody waits on leave no trace.
func (h *hub) cancel(w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range w.keys {
		set := h.waiters[k]
		delete(set, w)
		if len(set) == 0 {
			delete(h.waiters, k)
		}
	}
}

// notify wakes every waiter of key; it never blocks.
func (h *hub) notify(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.waiters[key] {
		select {
		case w.c <- struct{}{}:
		default: // already has a wake-up pending
		}
	}
}

// arrived wakes the long-polls of the callees a send has just committed
// messages for.
func (s *Server) arrived(res store.SendResult) {
	for callee := range res.MsgIDs {
		s.calls.hub.notify(numberKey(callee))
	}
}

// takeWaiting is get's TakeUndelivered with its optional wait: when nothing
// is waiting it holds the answer until a message for one of the numbers
// commits (a send, a missed call), the wait ends, the server closes, or
// newer long-polls of the numbers take its place (longpoll.go). It
// subscribes before it looks, so a message that commits in between wakes it.
func (s *Server) takeWaiting(ctx context.Context, q store.GetQuery, wait *int64, dst []store.Message) ([]store.Message, bool, error) {
	d, err := waitOf(wait)
	if err != nil || d == 0 {
		if err != nil {
			return nil, false, err
		}
		return s.msgs.TakeUndelivered(ctx, q, dst)
	}
	keys := make([]string, len(q.Callees))
	for i, c := range q.Callees {
		keys[i] = numberKey(c)
	}
	w := s.calls.hub.subscribe(keys...)
	defer s.calls.hub.cancel(w)
	t := time.NewTimer(d)
	defer t.Stop()
	var p *longPoll
	for {
		msgs, more, err := s.msgs.TakeUndelivered(ctx, q, dst)
		if err != nil || len(msgs) > 0 {
			return msgs, more, err
		}
		if p == nil {
			p = s.polls.start(getPollKeys(q.Callees)...)
			defer s.polls.done(p)
		}
		if woken, err := s.await(ctx, w, p, t); !woken {
			return nil, false, err
		}
	}
}
