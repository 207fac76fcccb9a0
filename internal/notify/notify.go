// Package notify carries wake-ups between the requests of ringd that wait
// for something to change (a get with wait, a callinfo with wait, the call
// timer) and the requests that change it. A change notifies its topic
// after its commit, so a waiter wakes at once and the store is never
// polled. A waiter subscribes before it reads the state it waits on, so a
// change that commits between the read and the wait is not lost: its
// wake-up is already queued.
//
// Local carries them within one process. Nodes sharing one store need a
// Notifier that crosses processes (the PostgreSQL engine's LISTEN/NOTIFY,
// say); nothing else changes.
package notify

import "sync"

// Topic names what changed.
type Topic string

// Messages is the topic of new messages to number.
func Messages(number string) Topic { return Topic("num:" + number) }

// Call is the topic of changes to the call id's state.
func Call(id string) Topic { return Topic("call:" + id) }

// Deadlines is the topic of new call deadlines: the ring timer looks again
// for the earliest.
const Deadlines Topic = "deadlines"

// Notifier wakes the subscribers of a topic.
type Notifier interface {
	// Notify wakes every subscriber of t; it never blocks.
	Notify(t Topic)
	// Subscribe returns a channel that receives a value after each Notify
	// of any of topics made once Subscribe has returned; wake-ups not yet
	// received are coalesced into one. cancel ends the subscription; the
	// caller must call it.
	Subscribe(topics ...Topic) (c <-chan struct{}, cancel func())
}

// Local is the Notifier of one process.
type Local struct {
	mu   sync.Mutex // guards the following
	subs map[Topic]map[*sub]struct{}
}

var _ Notifier = (*Local)(nil)

// sub is one subscription; c holds at most one pending wake-up.
type sub struct {
	c      chan struct{}
	topics []Topic
}

// NewLocal returns a Local with no subscribers.
func NewLocal() *Local {
	return &Local{subs: map[Topic]map[*sub]struct{}{}}
}

func (l *Local) Subscribe(topics ...Topic) (<-chan struct{}, func()) {
	s := &sub{c: make(chan struct{}, 1), topics: topics}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range topics {
		set := l.subs[t]
		if set == nil {
			set = map[*sub]struct{}{}
			l.subs[t] = set
		}
		set[s] = struct{}{}
	}
	return s.c, func() { l.cancel(s) }
}

// cancel removes s, so topics nobody waits on leave no trace.
func (l *Local) cancel(s *sub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range s.topics {
		set := l.subs[t]
		delete(set, s)
		if len(set) == 0 {
			delete(l.subs, t)
		}
	}
}

func (l *Local) Notify(t Topic) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs[t] {
		select {
		case s.c <- struct{}{}:
		default: // already has a wake-up pending
		}
	}
}

// Subscribers is how many subscriptions wait on t.
func (l *Local) Subscribers(t Topic) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs[t])
}
