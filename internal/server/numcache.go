package server

import (
	"sync"

	"github.com/ringd/ringd/internal/store"
)

// numberCache maps uuid hashes to their numbers for get, which needs only
// the number, and to their names as last seen, for the rendering of a
// send (get.go, renderSend). The number is immutable once committed: no
// request deletes a number or changes its uuid (register inserts, login and
// logout change only name and token), so it never goes stale. The name is a
// hint only: login changes it (and updates it here), and the store keeps a
// send's rendering only if the name it commits is the one rendered, so a
// stale name costs that message the fast path of get, never a wrong answer.
// Only numbers that were found are kept (a uuid unknown now may be
// registered later). It is keyed by the SHA-256 of the uuid, as the numbers
// table is, so a lookup's timing says nothing usable about a uuid.
type numberCache struct {
	mu sync.RWMutex // guards the following
	m  map[store.UUIDHash]cachedNumber
}

type cachedNumber struct{ number, name string }

// maxCachedNumbers bounds the cache; past it, it starts over.
const maxCachedNumbers = 1 << 16

func (c *numberCache) get(h store.UUIDHash) (string, bool) {
	n, _, ok := c.sender(h)
	return n, ok
}

// sender returns the number of h and its name as last seen.
func (c *numberCache) sender(h store.UUIDHash) (number, name string, ok bool) {
	c.mu.RLock()
	e, ok := c.m[h]
	c.mu.RUnlock()
	return e.number, e.name, ok
}

func (c *numberCache) put(h store.UUIDHash, number, name string) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedNumbers {
		c.m = make(map[store.UUIDHash]cachedNumber)
	}
	c.m[h] = cachedNumber{number, name}
	c.mu.Unlock()
}

// renamed records that a login named the numbers of hashes name.
func (c *numberCache) renamed(hashes []store.UUIDHash, name string) {
	c.mu.Lock()
	for _, h := range hashes {
		if e, ok := c.m[h]; ok {
			e.name = name
			c.m[h] = e
		}
	}
	c.mu.Unlock()
}
