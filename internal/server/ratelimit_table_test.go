package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/notify"
)

// These tests drive the limiter table alone, with a clock of their own, to
// hold more addresses than HTTP requests could bring in a test's time.

type testClock struct {
	mu sync.Mutex // guards the following
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimits(request Rate) (*rateLimits, *testClock) {
	clock := &testClock{t: time.Unix(1_900_000_000, 0)}
	cfg := RateConfig{RegisterRate: DefaultRegisterRate, RequestRate: request, RateExempt: []netip.Prefix{}}
	cfg.setDefaults()
	return newRateLimits(cfg, clock, prometheus.NewRegistry(), notify.NewLocal()), clock
}

// addr is the i-th of many distinct IPv4 addresses.
func addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// 100,000 addresses, one request each: all held until their buckets have
// refilled, then all forgotten; the log says what they weighed.
func TestRateTableForgetsIdleAddresses(t *testing.T) {
	const n = 100_000
	l, clock := newTestLimits(DefaultRequestRate)
	before := heapInUse()
	for i := range n {
		if wait := l.take(addr(i), false); wait != 0 {
			t.Fatalf("address %d refused its first request", i)
		}
	}
	after := heapInUse()
	if got := l.clients(); got != n {
		t.Fatalf("%d addresses held, want %d", got, n)
	}
	t.Logf("%d addresses held: heap %.1f MiB more, %d bytes each",
		n, float64(after-before)/(1<<20), (after-before)/n)
	// One of 100 tokens refills in 20 ms at 50 a second: a millisecond
	// short, every address is held; at the refill time, none is.
	clock.advance(DefaultRequestRate.Per/100 - time.Millisecond)
	l.sweep(clock.Now())
	if got := l.clients(); got != n {
		t.Fatalf("%d addresses held before their buckets refilled, want %d", got, n)
	}
	clock.advance(time.Millisecond)
	l.sweep(clock.Now())
	if got := l.clients(); got != 0 {
		t.Fatalf("%d addresses held once idle, want 0", got)
	}
	runtime.KeepAlive(l)
}

// A flood of new addresses, with no periodic sweep, holds at most what
// the shards' own sweeps leave: those whose buckets have not refilled.
func TestRateTableBoundedUnderFlood(t *testing.T) {
	const n = 200_000
	l, clock := newTestLimits(DefaultRequestRate)
	most := 0
	for i := range n {
		l.take(addr(i), false)
		clock.advance(time.Millisecond) // 1000 new addresses a second
		if i%64 == 0 {
			most = max(most, l.clients())
		}
	}
	if limit := rateShards * minSweepSize; most > limit {
		t.Fatalf("the flood of %d addresses held up to %d at once, want at most %d", n, most, limit)
	}
	t.Logf("a flood of %d addresses held at most %d at once", n, most)
}

// BenchmarkRateCheck is the check every request pays: the client address
// from the peer, the exempt list, one shard's lookup, the bucket.
func BenchmarkRateCheck(b *testing.B) { benchRateCheck(b, false) }

// BenchmarkRateCheckShared is the same with the share on, as on one of
// several nodes: each admitted request counted, shared every
// rateShareEvery (to a Notifier that drops it).
func BenchmarkRateCheckShared(b *testing.B) { benchRateCheck(b, true) }

func benchRateCheck(b *testing.B, shared bool) {
	l, _ := newTestLimits(Rate{Burst: 1 << 30, Per: time.Second})
	l.clock = realClock{}
	if shared {
		l.share.on = true
		var wg sync.WaitGroup
		stop := make(chan struct{})
		l.runShare(&wg, stop)
		defer wg.Wait()
		defer close(stop)
	}
	reqs := make([]*http.Request, 1024)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodPost, "/", nil)
		reqs[i].RemoteAddr = fmt.Sprintf("%s:%d", addr(i), 40000+i)
	}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if !l.allowRequest(w, reqs[i%len(reqs)]) {
				b.Fatal("refused")
			}
			i++
		}
	})
}
