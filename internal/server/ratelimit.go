package server

import (
	"encoding/binary"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/wire"
)

// Per-client-address rate limits. Each client address has a token bucket
// for all its requests (RequestRate) and, from its first register, one for
// register (RegisterRate); a request past either is answered 10009 with a
// Retry-After saying when its bucket holds a token again. An IPv6 client is
// limited by its /64: that is the block one host or one home is given, and
// a host picks addresses inside it at will. Addresses in RateExempt are
// never limited.
//
// The client address is the TCP peer's, unless the peer is a trusted proxy:
// then it is the right-most X-Forwarded-For entry that is not itself a
// trusted proxy, the last hop a trusted proxy vouches for. Entries left of
// it are whatever the client wrote, and count for nothing.
//
// A client's buckets are forgotten once they are full again: a full bucket
// is what a new client starts with, so forgetting it changes no answer. The
// table is swept every rateSweepEvery, and a shard sweeps itself whenever
// it has doubled since its last sweep, so a flood of new addresses holds
// only those whose buckets have not refilled yet.
//
// Nodes sharing one store share what they admit (rateshare.go), so that a
// client spread over them is held to about one limit, not one per node.

// Rate is a limit on one client address: Burst requests at once, refilled
// at Burst per Per. The zero Rate takes the default; Off means no limit.
type Rate struct {
	Burst int
	Per   time.Duration
	Off   bool
}

func (r Rate) limit() rate.Limit { return rate.Limit(float64(r.Burst) / r.Per.Seconds()) }

// RateConfig is the per-client-address rate limits of Config.
type RateConfig struct {
	RegisterRate Rate // register requests of one address; default DefaultRegisterRate
	RequestRate  Rate // all requests of one address; default DefaultRequestRate
	// RateExempt are the client addresses never limited; nil: loopback
	// (DefaultRateExempt), empty: none.
	RateExempt []netip.Prefix
	// TrustedProxies are the peers whose X-Forwarded-For names the client;
	// none by default.
	TrustedProxies []netip.Prefix
}

// Defaults of RateConfig: a phone registers once, so 30 an hour is plenty
// for one address (a few behind one NAT included); a busy phone sends a
// few requests a second, far from 100 at once and 50 a second after.
var (
	DefaultRegisterRate = Rate{Burst: 30, Per: time.Hour}
	DefaultRequestRate  = Rate{Burst: 100, Per: 2 * time.Second}
)

// DefaultRateExempt is loopback: 127.0.0.0/8 and ::1/128.
func DefaultRateExempt() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

func (c *RateConfig) setDefaults() {
	if !c.RegisterRate.Off && (c.RegisterRate.Burst <= 0 || c.RegisterRate.Per <= 0) {
		c.RegisterRate = DefaultRegisterRate
	}
	if !c.RequestRate.Off && (c.RequestRate.Burst <= 0 || c.RequestRate.Per <= 0) {
		c.RequestRate = DefaultRequestRate
	}
	if c.RateExempt == nil {
		c.RateExempt = DefaultRateExempt()
	}
}

const (
	rateShardBits = 5
	rateShards    = 1 << rateShardBits
	// rateSweepEvery is how often the whole table drops full buckets.
	rateSweepEvery = 10 * time.Second
	// minSweepSize is the size below which a shard's growth does not make
	// it sweep.
	minSweepSize = 1024
)

// rateLimits holds every client address's buckets, in shards so that
// requests of different addresses seldom wait for one lock.
type rateLimits struct {
	register, request Rate
	exempt, trusted   []netip.Prefix
	clock             Clock
	refusedRegister   prometheus.Counter
	refusedRequest    prometheus.Counter
	shards            [rateShards]rateShard
	share             rateShare // with the other nodes (rateshare.go)
}

type rateShard struct {
	mu      sync.Mutex // guards the following
	clients map[netip.Addr]clientLimits
	sweepAt int // the size at which a new address first sweeps the shard
	// unshared are the addresses whose unshared count is above 0, when
	// the share is on.
	unshared map[netip.Addr]struct{}
}

// clientLimits are one address's buckets; nil: that limit is off or, for
// register, the address has not registered since its buckets were last
// full. unshared is how many requests this node admitted from it that it
// has not yet told the other nodes of (rateshare.go).
type clientLimits struct {
	request, register *rate.Limiter
	unshared          int
}

func newRateLimits(c RateConfig, clock Clock, reg *prometheus.Registry, n notify.Notifier) *rateLimits {
	l := &rateLimits{register: c.RegisterRate, request: c.RequestRate,
		exempt: c.RateExempt, trusted: c.TrustedProxies, clock: clock}
	for i := range l.shards {
		l.shards[i].clients = map[netip.Addr]clientLimits{}
		l.shards[i].sweepAt = minSweepSize
		l.shards[i].unshared = map[netip.Addr]struct{}{}
	}
	l.share.init(n, c.RequestRate)
	// Labelled by limit only: an address never becomes a label.
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_rate_limited_total",
		Help: "Requests answered 10009 by a per-client-address rate limit, by limit (register or request).",
	}, []string{"limit"})
	l.refusedRegister = refused.WithLabelValues("register")
	l.refusedRequest = refused.WithLabelValues("request")
	reg.MustRegister(refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ringd_rate_limit_clients",
		Help: "Client addresses (IPv6: /64s) whose rate-limit buckets are held: those not yet refilled.",
	}, func() float64 { return float64(l.clients()) }))
	return l
}

// allowRequest counts r against its client's RequestRate. Past it, it
// answers 10009 itself and returns false.
func (l *rateLimits) allowRequest(w http.ResponseWriter, r *http.Request) bool {
	if l.request.Off {
		return true
	}
	key, limited := l.clientKey(r)
	if !limited {
		return true
	}
	wait := l.take(key, false)
	if wait == 0 {
		return true
	}
	l.refusedRequest.Inc()
	w.Header().Set("Retry-After", retryAfterSeconds(wait))
	wire.WriteError(w, http.StatusOK, wire.ServerBusy)
	return false
}

// allowRegister counts a register request r against its client's
// RegisterRate; past it, the error answers 10009 (setRetryAfter).
func (l *rateLimits) allowRegister(r *http.Request) error {
	if l.register.Off {
		return nil
	}
	key, limited := l.clientKey(r)
	if !limited {
		return nil
	}
	if wait := l.take(key, true); wait > 0 {
		l.refusedRegister.Inc()
		return &wire.Error{Code: wire.ServerBusy, Detail: "register rate limit", Err: &rateLimited{wait}}
	}
	l.share.registered(key)
	return nil
}

// rateLimited is why a request was refused by a rate limit: it may be
// made again after wait.
type rateLimited struct{ wait time.Duration }

func (e *rateLimited) Error() string { return "rate limited" }

// setRetryAfter sets the Retry-After of an answer refused by a rate limit
// to its wait, so that WriteError keeps it.
func setRetryAfter(w http.ResponseWriter, err error) {
	var rl *rateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", retryAfterSeconds(rl.wait))
	}
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// take counts one request of key against its request bucket, or its
// register bucket, and returns how long until that bucket holds a token
// again if it holds none now (the request is refused), else 0.
func (l *rateLimits) take(key netip.Addr, register bool) time.Duration {
	now := l.clock.Now()
	sh := &l.shards[shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	lim, c := l.bucketLocked(sh, key, register, now)
	if lim.AllowN(now, 1) {
		if !register && l.share.on {
			l.share.count(sh, key, c)
		}
		return 0
	}
	return time.Duration((1 - lim.TokensAt(now)) / float64(lim.Limit()) * float64(time.Second))
}

// bucketLocked is key's request bucket, or its register bucket, made full
// if key has none, and key's buckets; the caller holds sh's lock.
func (l *rateLimits) bucketLocked(sh *rateShard, key netip.Addr, register bool, now time.Time) (*rate.Limiter, clientLimits) {
	c, known := sh.clients[key]
	if !known && len(sh.clients) >= sh.sweepAt {
		l.sweepLocked(sh, now)
	}
	lim, r := &c.request, l.request
	if register {
		lim, r = &c.register, l.register
	}
	if *lim == nil {
		*lim = rate.NewLimiter(r.limit(), r.Burst)
		sh.clients[key] = c
	}
	return *lim, c
}

// sweep forgets every address whose buckets are full at now.
func (l *rateLimits) sweep(now time.Time) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		l.sweepLocked(sh, now)
		sh.mu.Unlock()
	}
}

// sweepLocked sweeps sh, whose lock the caller holds.
func (l *rateLimits) sweepLocked(sh *rateShard, now time.Time) {
	for k, c := range sh.clients {
		if full(c.request, l.request, now) && full(c.register, l.register, now) {
			delete(sh.clients, k)
		}
	}
	sh.sweepAt = max(2*len(sh.clients), minSweepSize)
}

// full reports whether lim, a bucket of r, is as a new one would be.
func full(lim *rate.Limiter, r Rate, now time.Time) bool {
	return lim == nil || lim.TokensAt(now) >= float64(r.Burst)
}

// clients is how many addresses the table holds.
func (l *rateLimits) clients() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.clients)
		sh.mu.Unlock()
	}
	return n
}

// run sweeps the table every rateSweepEvery, and shares with the other
// nodes (rateshare.go), until stop closes.
func (l *rateLimits) run(wg *sync.WaitGroup, stop <-chan struct{}) {
	if l.request.Off && l.register.Off {
		return
	}
	everyUntil(wg, stop, rateSweepEvery, func() { l.sweep(l.clock.Now()) }, func() {})
	l.runShare(wg, stop)
}

// everyUntil runs f every d in a goroutine of wg until stop closes, and
// then done.
func everyUntil(wg *sync.WaitGroup, stop <-chan struct{}, d time.Duration, f, done func()) {
	wg.Go(func() {
		defer done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				f()
			}
		}
	})
}

// shardOf spreads addresses over the shards (Fibonacci hashing of their
// 16 bytes folded to 8).
func shardOf(a netip.Addr) int {
	b := a.As16()
	h := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	return int((h * 0x9e3779b97f4a7c15) >> (64 - rateShardBits))
}

// clientKey is the address r's buckets are kept under: its client's
// address, or for IPv6 its /64. It is false when r is not limited: its
// client is exempt, or its peer has no IP address (ringd serves TCP, whose
// peers always have one).
func (l *rateLimits) clientKey(r *http.Request) (netip.Addr, bool) {
	a, ok := l.clientAddr(r)
	if !ok || inPrefixes(l.exempt, a) {
		return netip.Addr{}, false
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a, true
}

// clientAddr is r's client address: the peer's, or, when the peer is a
// trusted proxy, the one its X-Forwarded-For names.
func (l *rateLimits) clientAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().Unmap().WithZone("")
	if len(l.trusted) == 0 || !inPrefixes(l.trusted, a) {
		return a, true
	}
	return l.forwardedFor(r.Header.Values("X-Forwarded-For"), a), true
}

// forwardedFor walks X-Forwarded-For from the right, starting at peer, a
// trusted proxy: each entry is the peer of the hop to its right, and the
// first one that is no trusted proxy is the client. When every entry is a
// trusted proxy, or an entry is no address, the last address reached is
// the client: nothing trusted vouches for anything further left.
func (l *rateLimits) forwardedFor(headers []string, peer netip.Addr) netip.Addr {
	for i := len(headers) - 1; i >= 0; i-- {
		rest := headers[i]
		for rest != "" {
			entry := rest
			rest = ""
			if j := strings.LastIndexByte(entry, ','); j >= 0 {
				entry, rest = entry[j+1:], entry[:j]
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a, ok := parseForwarded(entry)
			if !ok {
				return peer
			}
			if !inPrefixes(l.trusted, a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

// parseForwarded parses an X-Forwarded-For entry: an address, or an
// address and port as some proxies write it ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseForwarded(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
