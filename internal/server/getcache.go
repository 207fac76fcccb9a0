package server

import (
	"strconv"
	"sync"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// renderCache keeps, for each send, its messages as get answers them but
// for their msgid and callee: a message is `{"msgid":"` id `",` mid
// `,"callee":` "callee" tail. It is keyed by what identifies a send: its
// uri, which names the data of one send (or, for a short text, its bytes:
// docs/API.md), its caller and its time. So the messages of a send to many
// numbers are rendered once, at the first get of one of them, not once per
// message: escaping a message's strings was most of the time of a get of
// 300. An entry is used only for a message from the caller, name, time and
// data it was made from, so a cached answer is always the message's own;
// missed-call notices are never kept.
type renderCache struct {
	mu sync.RWMutex // guards the following
	m  map[sendKey]*renderedSend
}

// sendKey finds a send's rendering: the time and the first bytes of the
// uri (random, or a SHA-256, in hex), cheap to hash where hashing the
// whole uri was half the lookups' time; fits tells sends that share a key
// apart.
type sendKey struct {
	uriHead uint64
	time    int64
}

func keyOf(m *store.Message) sendKey {
	var h uint64
	for i := 0; i < len(m.URI) && i < 8; i++ {
		h = h<<8 | uint64(m.URI[i])
	}
	return sendKey{h, m.Time}
}

// renderedSend is the rendering of one send's messages, and what it was
// made from.
type renderedSend struct {
	uri, caller  string
	callerName   string
	time, length int64
	fname        string
	text         *string // nil when the answer carries no text
	mid, tail    []byte
}

// maxRendered bounds the sends kept; past it the cache starts over.
const maxRendered = 1 << 15

// fits reports whether r is the rendering of m.
func (r *renderedSend) fits(m *store.Message) bool {
	if r.uri != m.URI || r.caller != m.Caller || r.callerName != m.CallerName || r.time != m.Time ||
		r.length != m.Length || r.fname != m.Fname || m.CallID != "" {
		return false
	}
	if !hasText(m) {
		return r.text == nil
	}
	return r.text != nil && *r.text == *m.Text
}

// render makes the rendering of m's send.
func render(m *store.Message) *renderedSend {
	r := &renderedSend{uri: m.URI, caller: m.Caller, callerName: m.CallerName, time: m.Time, length: m.Length, fname: m.Fname}
	b := make([]byte, 0, messageSize(m))
	b = append(b, `"caller":`...)
	b = wire.AppendString(b, m.Caller)
	b = append(b, `,"caller_name":`...)
	b = wire.AppendString(b, m.CallerName)
	mid := len(b)
	b = appendSendFields(b, m)
	if hasText(m) {
		r.text = m.Text
	}
	b = append(b, '}')
	r.mid, r.tail = b[:mid:mid], b[mid:]
	return r
}

// appendRendered appends m from its send's rendering r.
func appendRendered(b []byte, m *store.Message, r *renderedSend) []byte {
	b = append(b, `{"msgid":"`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `",`...)
	b = append(b, r.mid...)
	b = append(b, `,"callee":`...)
	b = wire.AppendString(b, m.Callee)
	return append(b, r.tail...)
}

// lookup returns the renderings of msgs' sends that the cache holds (nil
// where it holds none), in found, which it may reuse.
func (c *renderCache) lookup(msgs []store.Message, found []*renderedSend) []*renderedSend {
	found = found[:0]
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i := range msgs {
		r := c.m[keyOf(&msgs[i])]
		if r != nil && !r.fits(&msgs[i]) {
			r = nil
		}
		found = append(found, r)
	}
	return found
}

// keep adds renderings made for a get's messages that the cache lacked.
func (c *renderCache) keep(made []*renderedSend, msgs []store.Message, at []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, i := range at {
		if c.m == nil || len(c.m) >= maxRendered {
			c.m = make(map[sendKey]*renderedSend)
		}
		c.m[keyOf(&msgs[i])] = made[k]
	}
}
