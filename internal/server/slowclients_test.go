package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
)

// attackers is how many connections the tests below open at once: more
// than the default -max-inflight (4096).
const attackers = 4100

// needDescriptors fails the test unless the process may hold n more
// descriptors: both ends of every connection live in the test's process.
func needDescriptors(t *testing.T, n int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("RLIMIT_NOFILE: %v", err)
	}
	if lim.Cur < uint64(n)+512 {
		t.Fatalf("RLIMIT_NOFILE is %d; this test needs %d descriptors (raise the limit)", lim.Cur, n+512)
	}
}

// dialN opens n connections to s, each written prefix, and closes them
// when the test ends.
func dialN(t *testing.T, s *ringtest.Server, n int, prefix func(i int) []byte) []net.Conn {
	t.Helper()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	addr := s.HTTP.Listener.Addr().String()
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := c.Write(prefix(i)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	return conns
}

// serverTookAll waits until the server runs a goroutine for each of n
// connections more than the goroutines at base, but for a few that may
// have ended since (those of the test's own idle connections).
func serverTookAll(t *testing.T, base, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the server to take %d connections", n), func() bool { return runtime.NumGoroutine() >= base+n-16 })
}

// normalClient makes n requests as a well-behaved client does, a send from
// alice to bob and a get of bob's in turn, each of which must be answered
// 10000, and returns how long each took.
func normalClient(t *testing.T, s *ringtest.Server, alice, bob ringtest.User, n int) []time.Duration {
	t.Helper()
	took := make([]time.Duration, 0, n)
	for i := range n {
		head := map[string]any{"req": "get", "uuid": []string{bob.UUID}}
		var data []byte
		if i%2 == 0 {
			text := fmt.Sprint("normal ", i)
			head = map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(text)}
			data = []byte(text)
		}
		start := time.Now()
		a, _ := s.Post(t, head, data)
		took = append(took, time.Since(start))
		if a.Code() != 10000 {
			t.Fatalf("normal client's request %d (%s): answer %v", i, head["req"], a)
		}
	}
	return took
}

// p99 is the 99th percentile of d.
func p99(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}

// checkNormalClient runs the normal client: every one of its requests must
// be answered 10000, where a server out of in-flight slots answers 10009.
// Its latency is logged, not asserted: on a shared machine a bound on time
// fails for reasons of its own.
func checkNormalClient(t *testing.T, s *ringtest.Server, alice, bob ringtest.User, under string) {
	t.Helper()
	const n = 200
	took := normalClient(t, s, alice, bob, n)
	t.Logf("under %s: %d requests of a normal client all answered 10000, p99 %v, max %v",
		under, n, p99(took), slices.Max(took))
}

// TestStalledBodiesHoldNoSlots: connections that send a request's headers
// and one byte of its body, then nothing, take no in-flight slot while
// they wait: more of them than -max-inflight leave a normal client served
// as usual.
func TestStalledBodiesHoldNoSlots(t *testing.T) {
	needDescriptors(t, 2*attackers)
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	base := runtime.NumGoroutine()
	stalled := []byte("POST / HTTP/1.1\r\nHost: ringd\r\nContent-Length: 10\r\n\r\n{")
	dialN(t, s, attackers, func(int) []byte { return stalled })
	serverTookAll(t, base, attackers)
	checkNormalClient(t, s, alice, bob, fmt.Sprintf("%d stalled bodies", attackers))
}

// readAnswer reads resp's JSON head.
func readAnswer(resp *http.Response) (ringtest.Answer, error) {
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	var a ringtest.Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("answer %q: %v", raw, err)
	}
	return a, nil
}
