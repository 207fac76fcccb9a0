package server

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/notify/pgnotify"
	"github.com/ringd/ringd/internal/testsrv"
)

// sharingNode is one node's rate limits, sharing through a pgnotify
// Notifier on url, with clock (frozen: no bucket refills).
func sharingNode(t *testing.T, url string, clock Clock, register, request Rate) *rateLimits {
	t.Helper()
	n, err := pgnotify.Open(context.Background(), url, pgnotify.Options{Recheck: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg := RateConfig{RegisterRate: register, RequestRate: request, RateExempt: []netip.Prefix{}}
	cfg.setDefaults()
	l := newRateLimits(cfg, clock, prometheus.NewRegistry(), n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	l.run(&wg, stop)
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		n.Close()
	})
	return l
}

// tokens is what key's request (or register) bucket holds now.
func (l *rateLimits) tokens(key netip.Addr, register bool) float64 {
	sh := &l.shards[shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.clients[key]
	r, lim := l.request, c.request
	if register {
		r, lim = l.register, c.register
	}
	if lim == nil {
		return float64(r.Burst)
	}
	return lim.TokensAt(l.clock.Now())
}

// waitTokens waits until l's bucket of key holds want tokens.
func waitTokens(t *testing.T, l *rateLimits, key netip.Addr, register bool, want float64, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.tokens(key, register) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the other node's bucket holds %v tokens, want %v", what, l.tokens(key, register), want)
		}
		time.Sleep(10 * time.Millisecond) // another node's message: nothing here to wait on
	}
}

// What one node admits is taken from the other's buckets: requests once
// an address has taken a sixteenth of the burst, registers at once; so
// the two together admit one limit, not two.
func TestRateShareAcrossNodes(t *testing.T) {
	url := testsrv.Postgres(t)
	clock := &testClock{t: time.Unix(1_900_000_000, 0)}
	register, request := Rate{Burst: 3, Per: time.Hour}, Rate{Burst: 32, Per: time.Hour} // shared at 2
	a := sharingNode(t, url, clock, register, request)
	b := sharingNode(t, url, clock, register, request)
	key := netip.MustParseAddr("192.0.2.7")

	if a.take(key, false) != 0 {
		t.Fatal("first request refused")
	}
	a.shareRequests()
	time.Sleep(300 * time.Millisecond) // a message, were one sent, would be there
	if got := b.tokens(key, false); got != 32 {
		t.Fatalf("one request, under the share threshold, reached B: %v tokens left", got)
	}
	for range 19 {
		if a.take(key, false) != 0 {
			t.Fatal("request under the burst refused")
		}
	}
	waitTokens(t, b, key, false, 12, "20 requests admitted by A")
	for i := range 12 {
		if w := b.take(key, false); w != 0 {
			t.Fatalf("B refused request %d of the 12 left: wait %v", i+1, w)
		}
	}
	if w := b.take(key, false); w <= 0 {
		t.Fatalf("B past the shared limit: wait %v, want refused", w)
	}
	waitTokens(t, a, key, false, 0, "12 requests admitted by B")
	if w := a.take(key, false); w <= 0 {
		t.Fatal("A admitted a request past the limit both nodes shared")
	}

	req := httptest.NewRequest("POST", "/", nil)
	req.RemoteAddr = "192.0.2.8:4711"
	for range 2 {
		if err := a.allowRegister(req); err != nil {
			t.Fatal(err)
		}
	}
	waitTokens(t, b, netip.MustParseAddr("192.0.2.8"), true, 1, "2 registers admitted by A")
	if err := b.allowRegister(req); err != nil {
		t.Fatal(err)
	}
	if err := b.allowRegister(req); err == nil {
		t.Fatal("B admitted a fourth register of a burst of 3 across both nodes")
	}
}

// A message that is not a share changes nothing.
func TestRateShareIgnoresBadMessages(t *testing.T) {
	l, _ := newTestLimits(Rate{Burst: 10, Per: time.Hour})
	key := netip.MustParseAddr("192.0.2.9")
	for _, msg := range []string{"", "r", "r 192.0.2.9", "r 192.0.2.9 x", "r 192.0.2.9 0", "r 192.0.2.9 -3",
		"x 192.0.2.9 3", "r 192.0.2.999 3", "r 192.0.2.9 3 4"} {
		l.debitMessage(msg)
	}
	if got := l.tokens(key, false); got != 10 || l.clients() != 0 {
		t.Fatalf("bad messages took tokens: %v left, %d addresses held", got, l.clients())
	}
	l.debitMessage("r 192.0.2.9 1000")
	if got := l.tokens(key, false); got != -10 {
		t.Fatalf("a debit past the burst left %v tokens, want -10 (twice the burst taken)", got)
	}
}
