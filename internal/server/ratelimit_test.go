package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

// rateServer starts a server whose rate limits apply to loopback (no
// address is exempt), with register and request limits of its own, and a
// clock fixed at a whole second so that waits are exact.
func rateServer(t *testing.T, register, request server.Rate, trusted ...string) *ringtest.Server {
	t.Helper()
	cfg := ringtest.NewConfig(t)
	cfg.RegisterRate, cfg.RequestRate = register, request
	cfg.RateExempt = []netip.Prefix{}
	for _, p := range trusted {
		cfg.TrustedProxies = append(cfg.TrustedProxies, netip.MustParsePrefix(p))
	}
	s := ringtest.New(t, cfg)
	s.Clock.Set(time.Unix(1_900_000_000, 0))
	return s
}

// postFrom POSTs body with an X-Forwarded-For (none when xff is "") and
// returns the whole answer and its Retry-After.
func postFrom(t *testing.T, s *ringtest.Server, xff string, body []byte) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d %s", resp.StatusCode, b)
	}
	return string(b), resp.Header.Get("Retry-After")
}

// badLogin is a cheap request that changes nothing: 10004.
var badLogin = body(obj{"req": "login", "appid": "test.app", "build": "1.0", "name": "Al", "locale": "en_US",
	"token": "token-rate", "uuid": []string{"00000000-0000-4000-8000-000000000000"}}, nil)

// wantAllowed posts n requests from xff and fails unless none is refused.
func wantAllowed(t *testing.T, s *ringtest.Server, xff string, n int) {
	t.Helper()
	for i := range n {
		if got, _ := postFrom(t, s, xff, badLogin); errAnswerProblem([]byte(got), 10004) != "" {
			t.Fatalf("request %d from %q: %s", i+1, xff, got)
		}
	}
}

// wantLimited posts one request from xff and fails unless it is refused
// with 10009 and a Retry-After of retryAfter seconds.
func wantLimited(t *testing.T, s *ringtest.Server, xff string, retryAfter string) {
	t.Helper()
	got, ra := postFrom(t, s, xff, badLogin)
	if got != errBody(10009) || ra != retryAfter {
		t.Fatalf("request from %q past the limit: %s, Retry-After %q; want 10009, %q", xff, got, ra, retryAfter)
	}
}

// metric reads one series of the admin listener's /metrics; absent is -1.
func metric(t *testing.T, s *ringtest.Server, series string) float64 {
	t.Helper()
	res, err := http.Get(s.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return -1
}

func TestRegisterRateLimit(t *testing.T) {
	s := rateServer(t, server.Rate{Burst: 3, Per: time.Hour}, server.Rate{Burst: 100, Per: time.Second})
	db := rawDB(t, s)
	for range 3 {
		s.Register(t)
	}
	before := snapshot(t, db, s)
	// Past the burst: 10009, with Retry-After the time one register takes
	// to come back (an hour over 3), and nothing stored.
	for _, head := range []obj{{"req": "register"}, {"req": "register", "number": "55501234"}} {
		got, ra := postFrom(t, s, "", body(head, nil))
		if got != errBody(10009) || ra != "1200" {
			t.Fatalf("register past the limit: %s, Retry-After %q", got, ra)
		}
	}
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("a refused register changed the store:\n%s\nbecame\n%s", before, after)
	}
	// Other requests of the address are not register's to refuse.
	wantAllowed(t, s, "", 3)
	// The wait goes down as the clock moves, rounded up to whole seconds.
	s.Clock.Advance(1199*time.Second + time.Millisecond)
	if got, ra := postFrom(t, s, "", body(obj{"req": "register"}, nil)); got != errBody(10009) || ra != "1" {
		t.Fatalf("register just before its token is back: %s, Retry-After %q", got, ra)
	}
	s.Clock.Advance(time.Second)
	s.Register(t)
	if got := metric(t, s, `ringd_rate_limited_total{limit="register"}`); got != 3 {
		t.Errorf("register refusals counted %v, want 3", got)
	}
	if got := metric(t, s, `ringd_requests_total{answer="10009",req="register"}`); got != 3 {
		t.Errorf("register's 10009 answers counted %v, want 3", got)
	}
}

func TestRequestRateLimit(t *testing.T) {
	s := rateServer(t, server.Rate{Burst: 100, Per: time.Hour}, server.Rate{Burst: 5, Per: 10 * time.Second})
	db := rawDB(t, s)
	alice := s.User(t, "Alice") // register and login: 2 of the 5
	before := snapshot(t, db, s)
	wantAllowed(t, s, "", 3)
	// Every kind of request counts, and each past the limit is refused,
	// changing nothing: 2 seconds until a token is back.
	wantLimited(t, s, "", "2")
	for _, head := range []obj{{"req": "register"}, {"req": "get", "uuid": []string{alice.UUID}}} {
		if got, ra := postFrom(t, s, "", body(head, nil)); got != errBody(10009) || ra != "2" {
			t.Fatalf("%v past the limit: %s, Retry-After %q", head["req"], got, ra)
		}
	}
	send := body(obj{"req": "send", "uuid": alice.UUID, "callee": alice.Number, "length": 5}, []byte("hello"))
	if got, _ := postFrom(t, s, "", send); got != errBody(10009) {
		t.Fatalf("send past the limit: %s", got)
	}
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("refused requests changed the store:\n%s\nbecame\n%s", before, after)
	}
	if got := metric(t, s, `ringd_rate_limited_total{limit="request"}`); got != 4 {
		t.Errorf("request refusals counted %v, want 4", got)
	}
	if got := metric(t, s, `ringd_rate_limited_total{limit="register"}`); got != 0 {
		t.Errorf("register refusals counted %v, want 0: the request limit refused them", got)
	}
	// Two seconds on, one token is back, and one request passes.
	s.Clock.Advance(2 * time.Second)
	wantAllowed(t, s, "", 1)
	wantLimited(t, s, "", "2")
}

// Loopback is exempt by default, and any exempt range is never limited,
// whatever the limit.
func TestRateExempt(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.RegisterRate = server.Rate{Burst: 1, Per: time.Hour}
	cfg.RequestRate = server.Rate{Burst: 2, Per: time.Hour}
	s := ringtest.New(t, cfg)
	for range 5 {
		s.Register(t)
	}
	wantAllowed(t, s, "", 20)

	// A trusted proxy's client in an exempt range is exempt; one outside
	// is limited.
	cfg = ringtest.NewConfig(t)
	cfg.RequestRate = server.Rate{Burst: 2, Per: time.Hour}
	cfg.RateExempt = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	s = ringtest.New(t, cfg)
	wantAllowed(t, s, "10.1.2.3", 20)
	wantAllowed(t, s, "192.0.2.1", 2)
	wantLimited(t, s, "192.0.2.1", "1800")
	if got := metric(t, s, "ringd_rate_limit_clients"); got != 1 {
		t.Errorf("%v addresses held, want 1: the exempt one is not", got)
	}
}

// From a peer that is no trusted proxy, X-Forwarded-For is the client's
// own word, and changes nothing.
func TestForgedForwardedForIgnored(t *testing.T) {
	s := rateServer(t, server.Rate{Burst: 30, Per: time.Hour}, server.Rate{Burst: 3, Per: time.Minute})
	wantAllowed(t, s, "192.0.2.1", 1)
	wantAllowed(t, s, "192.0.2.2", 1)
	wantAllowed(t, s, "", 1)
	wantLimited(t, s, "192.0.2.3", "20")
	if got := metric(t, s, "ringd_rate_limit_clients"); got != 1 {
		t.Errorf("%v addresses held, want 1 (the peer's)", got)
	}
}

// Behind a trusted proxy, the client is the right-most X-Forwarded-For
// entry that is no trusted proxy; an IPv6 client is limited by its /64.
func TestTrustedProxyForwardedFor(t *testing.T) {
	s := rateServer(t, server.Rate{Burst: 30, Per: time.Hour}, server.Rate{Burst: 2, Per: time.Minute},
		"127.0.0.1/32", "10.0.0.0/8")
	for _, c := range []struct {
		name     string
		xffs     []string // each the X-Forwarded-For of one request of the same client
		refusedX string   // then one more request, refused
	}{
		{"one address", []string{"192.0.2.1", "192.0.2.1"}, "192.0.2.1"},
		// What the client wrote left of the proxy's entry is not believed.
		{"forged left", []string{"203.0.113.9, 192.0.2.2", "198.51.100.1,192.0.2.2"}, "192.0.2.2"},
		// A chain of trusted proxies is walked through.
		{"proxy chain", []string{"192.0.2.3, 10.0.0.7", "192.0.2.3,10.9.9.9, 10.0.0.7"}, "192.0.2.3"},
		{"ipv6 /64", []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}, "[2001:db8:1:2::abc]:443"},
		{"mapped ipv4", []string{"::ffff:192.0.2.5", "192.0.2.5"}, "192.0.2.5:80"},
	} {
		for _, xff := range c.xffs {
			wantAllowed(t, s, xff, 1)
		}
		wantLimited(t, s, c.refusedX, "30")
	}
	// The peer itself, and other clients, still have their own buckets.
	wantAllowed(t, s, "", 2)
	wantAllowed(t, s, "2001:db8:1:3::1", 2)
	if got := metric(t, s, `ringd_rate_limited_total{limit="request"}`); got != 5 {
		t.Errorf("refusals counted %v, want 5", got)
	}
}

// Several X-Forwarded-For headers are one list, in order.
func TestForwardedForHeadersJoin(t *testing.T) {
	s := rateServer(t, server.Rate{Burst: 30, Per: time.Hour}, server.Rate{Burst: 1, Per: time.Minute}, "127.0.0.1/32")
	for i, hs := range [][]string{{"198.51.100.1", "192.0.2.1"}, {"192.0.2.1"}} {
		req, _ := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(badLogin))
		for _, h := range hs {
			req.Header.Add("X-Forwarded-For", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := []int{10004, 10009}[i]; errAnswerProblem(b, want) != "" {
			t.Fatalf("request %d with %q: %s, want %s", i, hs, b, errBody(want))
		}
	}
}

// A client's buckets are forgotten once full again; until then they are
// held, and the refusal stands.
func TestIdleLimitersForgotten(t *testing.T) {
	s := rateServer(t, server.Rate{Burst: 2, Per: time.Hour}, server.Rate{Burst: 2, Per: 10 * time.Second}, "127.0.0.1/32")
	const n = 300
	for i := range n {
		wantAllowed(t, s, fmt.Sprintf("198.51.%d.%d", i/256, i%256), 2)
	}
	postFrom(t, s, "192.0.2.1", body(obj{"req": "register"}, nil))
	if got := metric(t, s, "ringd_rate_limit_clients"); got != n+1 {
		t.Fatalf("%v addresses held, want %d", got, n+1)
	}
	// Half a refill: nothing is forgotten, and the buckets still refuse.
	s.Clock.Advance(5 * time.Second)
	server.SweepRateLimits(s.Server)
	if got := metric(t, s, "ringd_rate_limit_clients"); got != n+1 {
		t.Fatalf("%v addresses held after half a refill, want %d", got, n+1)
	}
	wantAllowed(t, s, "198.51.0.0", 1)
	wantLimited(t, s, "198.51.0.0", "5")
	// The request buckets are full again; the one register bucket is not.
	s.Clock.Advance(10 * time.Second)
	server.SweepRateLimits(s.Server)
	if got := metric(t, s, "ringd_rate_limit_clients"); got != 1 {
		t.Fatalf("%v addresses held once the request buckets refilled, want 1", got)
	}
	s.Clock.Advance(30 * time.Minute)
	server.SweepRateLimits(s.Server)
	if got := metric(t, s, "ringd_rate_limit_clients"); got != 0 {
		t.Fatalf("%v addresses held once every bucket refilled, want 0", got)
	}
}

// A limit that is off limits nothing.
func TestRateOff(t *testing.T) {
	s := rateServer(t, server.Rate{Off: true}, server.Rate{Off: true})
	for range 5 {
		s.Register(t)
	}
	wantAllowed(t, s, "", 5)
	if got := metric(t, s, "ringd_rate_limit_clients"); got != 0 {
		t.Errorf("%v addresses held with both limits off", got)
	}
}

// BenchmarkGetEmptyRateLimited is BenchmarkGetEmpty with loopback limited
// (by limits it never reaches): what the rate check adds to a request.
func BenchmarkGetEmptyRateLimited(b *testing.B) {
	cfg := ringtest.NewConfig(b)
	cfg.RequestRate = server.Rate{Burst: 1 << 30, Per: time.Second}
	cfg.RateExempt = []netip.Prefix{}
	s := ringtest.New(b, cfg)
	bob := s.User(b, "Bob")
	body := ringtest.Body(map[string]any{"req": "get", "uuid": []string{bob.UUID}}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, a, _ := s.PostRaw(b, body); a.Code() != 10000 {
			b.Fatalf("get: %v", a)
		}
	}
}
