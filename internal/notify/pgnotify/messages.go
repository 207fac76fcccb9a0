package pgnotify

import (
	"strings"
	"sync"

	"github.com/ringd/ringd/internal/notify"
)

// messageMark begins the line of a published message in a payload; no
// topic begins with it.
const messageMark = '!'

// maxQueuedMessages bounds the messages waiting for the sender: past it,
// while the sender cannot keep up or its connection is down, more are
// dropped (and counted), as a lost notification would be.
const maxQueuedMessages = 100_000

// Publish queues msg for the other nodes' handlers of kind; the sender
// sends it with whatever else is queued.
func (n *Notifier) Publish(kind, msg string) {
	if !notify.ValidMessage(kind, msg) {
		n.stats.messagesDropped.Inc()
		return
	}
	line := string(messageMark) + kind + " " + msg
	n.mu.Lock()
	full := len(n.messages) >= maxQueuedMessages
	if !full {
		n.messages = append(n.messages, line)
	}
	n.mu.Unlock()
	if full {
		n.stats.messagesDropped.Inc()
		return
	}
	n.wakeSender()
}

// Handle calls h with the messages of kind other nodes publish, on the
// listener's goroutine.
func (n *Notifier) Handle(kind string, h func(msg string)) (cancel func()) {
	return n.handlers.add(kind, h)
}

// handlers are the handlers of published messages, by kind.
type handlers struct {
	mu sync.RWMutex // guards m
	m  map[string]map[*handler]struct{}
}

type handler struct{ f func(msg string) }

func (hs *handlers) add(kind string, f func(string)) (cancel func()) {
	h := &handler{f}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.m == nil {
		hs.m = map[string]map[*handler]struct{}{}
	}
	if hs.m[kind] == nil {
		hs.m[kind] = map[*handler]struct{}{}
	}
	hs.m[kind][h] = struct{}{}
	return func() {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		delete(hs.m[kind], h)
		if len(hs.m[kind]) == 0 {
			delete(hs.m, kind)
		}
	}
}

// deliver hands one message line ("kind msg", its mark removed) to the
// handlers of its kind; a line of no kind handled here is dropped.
func (hs *handlers) deliver(line string) {
	kind, msg, ok := strings.Cut(line, " ")
	if !ok {
		return
	}
	var buf [4]*handler
	fs := buf[:0]
	hs.mu.RLock()
	for h := range hs.m[kind] {
		fs = append(fs, h)
	}
	hs.mu.RUnlock()
	for _, h := range fs { // outside the lock: a handler may cancel itself
		h.f(msg)
	}
}
