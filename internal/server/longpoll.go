package server

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Long-polls (get and callinfo with wait) wait without an in-flight slot
// (await), and at most MaxLongPolls of each kind wait at once per number:
// a newer one takes the place of the oldest, which is answered at once as
// if its wait had ended (a get with no message, a callinfo with the call's
// state). A phone that lost its long-poll's connection without the server
// noticing polls again, and its new poll must wait rather than be sent
// back at once: the one put out of its place is most likely the lost one,
// and whoever still reads it just polls again.

// longPolls are the long-polls waiting, by kind and number.
type longPolls struct {
	max int // Config.MaxLongPolls

	mu      sync.Mutex             // guards the following
	waiting map[string][]*longPoll // by key, oldest first
	n       int                    // long-polls waiting
}

// longPoll is one waiting long-poll.
type longPoll struct {
	keys []string
	// ousted is closed when a newer long-poll takes its place.
	ousted chan struct{}
}

// getPollKeys are the keys a get's long-poll for numbers is counted under.
func getPollKeys(numbers []string) []string {
	keys := make([]string, len(numbers))
	for i, n := range numbers {
		keys[i] = "get:" + n
	}
	return keys
}

// callinfoPollKey is the key a callinfo's long-poll by number is counted
// under.
func callinfoPollKey(number string) string { return "callinfo:" + number }

// start counts a long-poll under keys (distinct), putting out the oldest of any key
// that has its fill. The caller must call done once it no longer waits.
func (l *longPolls) start(keys ...string) *longPoll {
	p := &longPoll{keys: keys, ousted: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting == nil {
		l.waiting = map[string][]*longPoll{}
	}
	for _, k := range keys {
		if q := l.waiting[k]; len(q) >= l.max {
			oldest := q[0] // remove shifts q
			l.remove(oldest)
			close(oldest.ousted)
		}
		l.waiting[k] = append(l.waiting[k], p)
	}
	l.n++
	return p
}

// done stops counting p, unless it was put out already.
func (l *longPolls) done(p *longPoll) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-p.ousted:
	default:
		l.remove(p)
	}
}

// remove stops counting p under its keys; l.mu is held.
func (l *longPolls) remove(p *longPoll) {
	for _, k := range p.keys {
		q := slices.DeleteFunc(l.waiting[k], func(o *longPoll) bool { return o == p })
		if len(q) == 0 {
			delete(l.waiting, k)
		} else {
			l.waiting[k] = q
		}
	}
	l.n--
}

// count is how many long-polls wait.
func (l *longPolls) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// await waits, without holding an in-flight slot, until w is woken (true),
// or until the wait ends, the server closes or a newer long-poll puts p
// out of its place (false), or the client goes (ctx's error).
func (s *Server) await(ctx context.Context, woke <-chan struct{}, p *longPoll, end *time.Timer) (bool, error) {
	s.slots.give()
	defer s.slots.retake()
	select {
	case <-woke:
		return true, nil
	case <-end.C:
		return false, nil
	case <-s.stop:
		return false, nil
	case <-p.ousted:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
