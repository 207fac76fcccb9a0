package server

import (
	"sync"

	"github.com/ringd/ringd/internal/store"
)

// numberCache maps uuid hashes to their numbers, for get, which needs only
// the number, and for the sender check of a send. A number is immutable
// once committed: no request deletes a number or changes its uuid
// (register inserts, login and logout change only name and token), so it
// never goes stale. Only numbers that were found are kept (a uuid unknown
// now may be registered later). It is keyed by the SHA-256 of the uuid, as
// the store keeps it, so a lookup's timing says nothing usable about a
// uuid.
type numberCache struct {
	mu sync.RWMutex // guards the following
	m  map[store.UUIDHash]string
}

// maxCachedNumbers bounds the cache; past it, it starts over.
const maxCachedNumbers = 1 << 16

func (c *numberCache) get(h store.UUIDHash) (string, bool) {
	c.mu.RLock()
	n, ok := c.m[h]
	c.mu.RUnlock()
	return n, ok
}

func (c *numberCache) put(h store.UUIDHash, number string) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedNumbers {
		c.m = make(map[store.UUIDHash]string)
	}
	c.m[h] = number
	c.mu.Unlock()
}
