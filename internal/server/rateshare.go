package server

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringd/ringd/internal/notify"
)

// Rate limits across nodes. Each node enforces the limits with its own
// buckets, as one node does, and tells the other nodes what it admitted,
// through the Notifier (Publish): each node takes what the others admitted
// from its own bucket for that address too. So a client whose requests a
// balancer spreads over N nodes is held to one limit, give or take what
// the nodes admitted before hearing of each other, and no request waits
// on the database or on another node.
//
// A register is told at once: registers are few, each already writes to
// the store, and their limit is a burst an hour, which N nodes each
// admitting it in full before hearing of the others would multiply. A
// request is counted, and every rateShareEvery the addresses that took at
// least shareAt requests since they were last told are told, so that the
// messages stay few: over-admission across nodes is then at most, from
// each other node, what it admitted in the last rateShareEvery (and the
// time its message takes) and shareAt-1 more.
//
// A message is one line, "r ADDR N" (N requests) or "g ADDR N" (N
// registers). Like every notification it is a hint: one lost (a
// connection drops) lets that many through once more, never refuses one.

const (
	// rateShareKind is the kind of the published messages.
	rateShareKind = "rate"
	// rateShareEvery is how often a node tells the others of the requests
	// it admitted.
	rateShareEvery = 250 * time.Millisecond
)

// rateShare is what a node shares of its rate limits.
type rateShare struct {
	on       bool // there are other nodes to tell: not notify.Local
	notifier notify.Notifier
	// shareAt is how many requests of one address a node admits before
	// it tells the other nodes: a sixteenth of the burst.
	shareAt int
}

func (s *rateShare) init(n notify.Notifier, request Rate) {
	_, alone := n.(*notify.Local) // one process's Notifier reaches no other node
	s.on, s.notifier = !alone, n
	s.shareAt = max(1, (request.Burst+15)/16)
}

// count counts one request admitted from key, whose buckets c the caller
// holds with sh locked, to be told at the next share.
func (s *rateShare) count(sh *rateShard, key netip.Addr, c clientLimits) {
	c.unshared++
	sh.clients[key] = c
	if c.unshared == 1 {
		sh.unshared[key] = struct{}{}
	}
}

// registered tells the other nodes at once of a register admitted from key.
func (s *rateShare) registered(key netip.Addr) {
	if s.on {
		s.notifier.Publish(rateShareKind, "g "+key.String()+" 1")
	}
}

// shareRequests tells the other nodes of the addresses that took at least
// shareAt requests since they were last told, and forgets them.
func (l *rateLimits) shareRequests() {
	var lines []string
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for key := range sh.unshared {
			c, ok := sh.clients[key]
			switch {
			case !ok || c.unshared == 0: // swept meanwhile
				delete(sh.unshared, key)
			case c.unshared >= l.share.shareAt:
				lines = append(lines, "r "+key.String()+" "+strconv.Itoa(c.unshared))
				c.unshared = 0
				sh.clients[key] = c
				delete(sh.unshared, key)
			}
		}
		sh.mu.Unlock()
	}
	for _, line := range lines {
		l.share.notifier.Publish(rateShareKind, line)
	}
}

// runShare shares the requests this node admits every rateShareEvery, and
// takes what the other nodes admitted from its own buckets, until stop
// closes.
func (l *rateLimits) runShare(wg *sync.WaitGroup, stop <-chan struct{}) {
	if !l.share.on {
		return
	}
	cancel := l.share.notifier.Handle(rateShareKind, l.debitMessage)
	everyUntil(wg, stop, rateShareEvery, func() {
		if !l.request.Off {
			l.shareRequests()
		}
	}, cancel)
}

// debitMessage takes what another node admitted, as its message says,
// from this node's bucket of that address; a message it cannot read is
// dropped.
func (l *rateLimits) debitMessage(msg string) {
	f := strings.Fields(msg)
	if len(f) != 3 || (f[0] != "r" && f[0] != "g") {
		return
	}
	key, err := netip.ParseAddr(f[1])
	n, nerr := strconv.Atoi(f[2])
	if err != nil || nerr != nil || n < 1 || inPrefixes(l.exempt, key) {
		return
	}
	l.debit(key, f[0] == "g", n)
}

// debit takes n tokens from key's request bucket, or its register bucket,
// at once, below empty if need be: the other node admitted them. At most
// twice the burst is taken, so that no message locks an address out for
// more than two periods of its limit.
func (l *rateLimits) debit(key netip.Addr, register bool, n int) {
	r := l.request
	if register {
		r = l.register
	}
	if r.Off {
		return
	}
	now := l.clock.Now()
	sh := &l.shards[shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	lim, _ := l.bucketLocked(sh, key, register, now)
	for n = min(n, 2*r.Burst); n > 0; { // a reservation takes at most the burst
		k := min(n, r.Burst)
		lim.ReserveN(now, k)
		n -= k
	}
}
