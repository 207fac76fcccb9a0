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
// say); nothing else changes. Such a Notifier also carries small messages
// between the nodes (Publish, Handle): what one node did that the others
// must count too, as the requests it admitted under a rate limit.
package notify

import "sync"

// Topic names what changed.
type Topic string

// Messages is the topic of new messages to number.
func Messages(number string) Topic { return Topic("num:" + number) }

// Ringing is the topic of new calls ringing number.
func Ringing(number string) Topic { return Topic("ring:" + number) }

// Call is the topic of changes to the call id's state.
func Call(id string) Topic { return Topic("call:" + id) }

// Deadlines is the topic of new call deadlines: the ring timer looks again
// for the earliest.
const Deadlines Topic = "deadlines"

// Notifier wakes the subscribers of a topic, and carries small messages
// to the other nodes sharing it.
type Notifier interface {
	// Notify wakes every subscriber of t; it never blocks.
	Notify(t Topic)
	// Subscribe returns a channel that receives a value after each Notify
	// of any of topics made once Subscribe has returned; wake-ups not yet
	// received are coalesced into one. cancel ends the subscription; the
	// caller must call it.
	Subscribe(topics ...Topic) (c <-chan struct{}, cancel func())
	// Publish hands msg to the handlers of kind (Handle) on every other
	// node, soon and batched with other messages and wake-ups; never on
	// this node, and it never blocks. Like a wake-up it is a hint: one
	// may be lost when a connection drops. A kind or msg that is not
	// ValidMessage is dropped.
	Publish(kind, msg string)
	// Handle calls h with each message of kind another node publishes, one
	// at a time, on the goroutine that receives them: h must return at
	// once. cancel ends it; the caller must call it.
	Handle(kind string, h func(msg string)) (cancel func())
}

// MaxMessage bounds the bytes of one published message.
const MaxMessage = 1000

// ValidMessage reports whether kind and msg may be published: kind of 1
// to 32 letters, digits or dashes; msg of at most MaxMessage bytes of
// printable ASCII (spaces included), so that any transport carries it as
// text.
func ValidMessage(kind, msg string) bool {
	if len(kind) == 0 || len(kind) > 32 || len(msg) > MaxMessage {
		return false
	}
	for i := range len(kind) {
		c := kind[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	for i := range len(msg) {
		if c := msg[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
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

// Publish drops msg: one process is one node, and no other hears it.
func (l *Local) Publish(kind, msg string) {}

// Handle never calls h: there is no other node to publish.
func (l *Local) Handle(kind string, h func(msg string)) (cancel func()) { return func() {} }

// Subscribers is how many subscriptions wait on t.
func (l *Local) Subscribers(t Topic) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs[t])
}
