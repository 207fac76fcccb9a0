package server

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/store"
)

// emptyGets remembers, for each number, that a get found nothing waiting
// for it, so that the gets after it answer at once instead of asking the
// store again. On an engine where asking is a round trip (PostgreSQL),
// most gets, which find nothing, then cost no SQL.
//
// What holds: a number's entry is trusted only while no wake-up of its
// Messages topic has come since before the get that made it looked (it
// subscribed first, as a long-poll does), and for at most maxEmptyAge.
// Every change that makes a message wait for a number notifies that topic
// after its commit and before it is answered (send, sends, a missed call),
// so a get that starts once such a change was answered asks the store. A
// change made through another node counts here once its wake-up arrives,
// as for a long-poll; a wake-up lost on the way is covered by the
// Notifier waking every subscription when it reconnects and by the age
// limit.
type emptyGets struct {
	notifier notify.Notifier
	clock    Clock
	hits     prometheus.Counter // gets answered from an entry

	mu    sync.Mutex // guards the following
	m     map[string]*emptyNumber
	takes map[string]*takesOf // the numbers of takes under way
}

// takesOf counts one number's takes under way (active), and every take of
// it that has started since active was last 0 (started).
type takesOf struct {
	active  int
	started uint64
}

// emptyNumber is what a get learnt of one number: at made, nothing waited
// for it with a time after after and an id after afterID. woke, when the
// entry is watched, receives the wake-ups of the number's messages since
// before that get looked; an unwatched entry only marks the number as one
// worth watching.
type emptyNumber struct {
	woke           <-chan struct{}
	cancel         func()
	made           time.Time
	after, afterID int64
}

const (
	// maxEmptyNumbers bounds the entries (each holds a subscription);
	// past it the cache starts over.
	maxEmptyNumbers = 1 << 16
	// maxEmptyAge bounds how long an entry is trusted without a wake-up.
	maxEmptyAge = time.Second
)

func newEmptyGets(n notify.Notifier, clock Clock, reg prometheus.Registerer) *emptyGets {
	e := &emptyGets{notifier: n, clock: clock, m: map[string]*emptyNumber{}, takes: map[string]*takesOf{},
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_get_empty_cached_total",
			Help: "Gets answered empty without asking the store, as no message had arrived for their numbers since a get found none.",
		})}
	reg.MustRegister(e.hits)
	return e
}

// take is st.TakeUndelivered, answered empty without the store when every
// number of q is known to have nothing waiting. A number is watched (a
// subscription, made before the look) only once a get of it found nothing
// lately, so the gets of numbers that always find messages cost no
// subscription. A take that found nothing teaches only if it ran alone:
// beside another take of its numbers it may find nothing because the
// other holds what waits (sqlite.DB.TakeUndelivered), while more waits.
func (e *emptyGets) take(ctx context.Context, st store.Messages, q store.GetQuery, dst []store.Message) ([]store.Message, bool, error) {
	known, seen, marks := e.begin(q)
	if known {
		e.hits.Inc()
		return dst[:0], false, nil
	}
	var subs []*emptyNumber
	if seen {
		subs = make([]*emptyNumber, len(q.Callees))
		now := e.clock.Now()
		for i, n := range q.Callees {
			woke, cancel := e.notifier.Subscribe(notify.Messages(n))
			subs[i] = &emptyNumber{woke: woke, cancel: cancel, made: now, after: q.After, afterID: q.AfterID}
		}
	}
	msgs, more, err := st.TakeUndelivered(ctx, q, dst)
	e.finish(q, marks, subs, err == nil && len(msgs) == 0)
	return msgs, more, err
}

// begin tells what the entries say of q's numbers: known, that nothing
// waits for any of them; seen, that a get found nothing for each lately.
// It drops the entries a wake-up or age has made untrusted. Unless known,
// it counts a take of q's numbers under way, which finish ends; marks
// are what finish needs to tell whether it ran alone.
func (e *emptyGets) begin(q store.GetQuery) (known, seen bool, marks []uint64) {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if known, seen = e.lookupLocked(q, now); known {
		return true, true, nil
	}
	marks = make([]uint64, len(q.Callees))
	for i, n := range q.Callees {
		t := e.takes[n]
		if t == nil {
			t = &takesOf{}
			e.takes[n] = t
		}
		t.active++
		t.started++
		if t.active == 1 {
			marks[i] = t.started
		} // else 0: not alone from the start
	}
	return false, seen, marks
}

func (e *emptyGets) lookupLocked(q store.GetQuery, now time.Time) (known, seen bool) {
	known = true
	for _, n := range q.Callees {
		en := e.m[n]
		if en == nil {
			return false, false
		}
		if en.stale(now) {
			en.end()
			delete(e.m, n)
			return false, false
		}
		// A narrower look than the entry's proves nothing of this one.
		if en.woke == nil || q.After < en.after || q.AfterID < en.afterID {
			known = false
		}
	}
	return known, true
}

// finish ends the take begin counted, and keeps what it learnt if it found
// nothing (empty) and no other take of its numbers was under way at any
// moment of it: watched entries (subs), in place of any before; or, with
// none, unwatched ones where there is no entry yet. Each watched entry
// subscribed before its get looked, so an older and a newer are both
// sound.
func (e *emptyGets) finish(q store.GetQuery, marks []uint64, subs []*emptyNumber, empty bool) {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	alone := true
	for i, n := range q.Callees {
		t := e.takes[n]
		if marks[i] == 0 || t.started != marks[i] {
			alone = false
		}
		if t.active--; t.active == 0 {
			delete(e.takes, n)
		}
	}
	if !empty || !alone {
		for _, s := range subs {
			s.end()
		}
		return
	}
	if len(e.m)+len(q.Callees) > maxEmptyNumbers {
		for _, en := range e.m {
			en.end()
		}
		clear(e.m)
	}
	for i, n := range q.Callees {
		old := e.m[n]
		switch {
		case subs != nil:
			if old != nil {
				old.end()
			}
			e.m[n] = subs[i]
		case old == nil:
			e.m[n] = &emptyNumber{made: now, after: q.After, afterID: q.AfterID}
		}
	}
}

// stale reports whether en may no longer be trusted: too old, or a
// message has arrived for its number since.
func (en *emptyNumber) stale(now time.Time) bool {
	if now.Sub(en.made) >= maxEmptyAge || now.Before(en.made) {
		return true
	}
	select {
	case <-en.woke: // never ready when nil: an unwatched entry
		return true
	default:
		return false
	}
}

// end ends en's subscription, if it has one.
func (en *emptyNumber) end() {
	if en.cancel != nil {
		en.cancel()
	}
}

// close ends every entry's subscription.
func (e *emptyGets) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, en := range e.m {
		en.end()
	}
	clear(e.m)
}
