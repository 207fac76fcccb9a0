package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

// cutOff is what became of a connection whose body fell behind.
type cutOff struct {
	after  time.Duration // from the request's start to the server closing
	answer string        // the server's answer, if it wrote one
	err    error         // anything but the connection's end
}

// watchClose reads c to its end in the background and reports when the
// server closed it, with the answer it wrote before. (A reset is an end
// too: the server closes a connection with bytes it did not read.)
func watchClose(c net.Conn, start time.Time, out chan<- cutOff) {
	go func() {
		b, _ := io.ReadAll(c)
		co := cutOff{after: time.Since(start)}
		if len(b) > 0 {
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
			if err != nil {
				co.err = fmt.Errorf("answer %q: %v", b, err)
			} else {
				body, _ := io.ReadAll(resp.Body)
				co.answer = string(body)
			}
		}
		out <- co
	}()
}

// TestTricklingBodiesAreCut: bodies that come a byte a second are cut off
// once they fall behind the minimum pace, answered 10009, and their
// connections closed.
func TestTricklingBodiesAreCut(t *testing.T) {
	const n = 500
	needDescriptors(t, 2*n)
	cfg := ringtest.NewConfig(t)
	cfg.ReadTimeout, cfg.MinBodyRate = 2*time.Second, 1024
	s := ringtest.New(t, cfg)
	head := []byte("POST / HTTP/1.1\r\nHost: ringd\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	conns := dialN(t, s, n, func(int) []byte { return head })
	closed := make(chan cutOff, n)
	for _, c := range conns {
		watchClose(c, start, closed)
	}
	// A byte a second to every connection, until the last is closed.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range conns {
				c.Write([]byte(" ")) // fails once the server has closed it
			}
		}
	}()
	var after []time.Duration
	deadline := time.After(20 * time.Second)
	for range n {
		select {
		case co := <-closed:
			if co.err != nil {
				t.Fatal(co.err)
			}
			if co.answer != errBody(10009) {
				t.Fatalf("a trickling body answered %q, want %s", co.answer, errBody(10009))
			}
			after = append(after, co.after)
		case <-deadline:
			t.Fatalf("after 20 s, %d of %d trickling connections are still open", n-len(after), n)
		}
	}
	slices.Sort(after)
	t.Logf("%d connections trickling a byte a second (read timeout %v, floor %d B/s): all closed, the first after %v, the last after %v",
		n, cfg.ReadTimeout, cfg.MinBodyRate, after[0], after[n-1])
	if after[0] < cfg.ReadTimeout {
		t.Fatalf("a trickling body was cut after %v, before the read timeout", after[0])
	}
}

// TestBodyKeepsEarnedTime: a body that comes faster than the floor earns
// time it may spend in a stall; a body sent at the floor's pace over many
// times the read timeout is taken; and a body that stalls past what it
// earned is cut off then, not before.
func TestBodyKeepsEarnedTime(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.ReadTimeout, cfg.MinBodyRate = 500*time.Millisecond, 2048
	s := ringtest.New(t, cfg)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<10/16) // 8 KiB: 4 s earned
	head := ringtest.Body(map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number,
		"length": len(data), "fname": "paced.bin"}, []byte{})
	post := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", s.HTTP.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: ringd\r\nContent-Length: %d\r\n\r\n%s", len(head)+len(data), head)
		return c, bufio.NewReader(c)
	}
	answer := func(br *bufio.Reader) string {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}

	// All but the last byte at once, then a stall of three read timeouts.
	c, br := post()
	c.Write(data[:len(data)-1])
	time.Sleep(3 * cfg.ReadTimeout) // the stall the body earned
	c.Write(data[len(data)-1:])
	if a := answer(br); !bytes.Contains([]byte(a), []byte(`"answer":10000`)) {
		t.Fatalf("a body that stalled within its earned time: %s", a)
	}

	// 4 KiB a second, twice the floor, for four read timeouts.
	c, br = post()
	for i := 0; i < len(data); i += 512 {
		c.Write(data[i : i+512])
		time.Sleep(cfg.ReadTimeout / 4)
	}
	if a := answer(br); !bytes.Contains([]byte(a), []byte(`"answer":10000`)) {
		t.Fatalf("a body at twice the floor: %s", a)
	}

	// 2 KiB at once, then nothing: cut off 1 s past the read timeout.
	start := time.Now()
	c, _ = post()
	c.Write(data[:2048])
	closed := make(chan cutOff, 1)
	watchClose(c, start, closed)
	var co cutOff
	select {
	case co = <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled body was not cut off in 20 s")
	}
	t.Logf("a body that stalled after 2 KiB was cut off after %v (%s)", co.after, co.answer)
	if co.err != nil || co.answer != errBody(10009) {
		t.Fatalf("a stalled body: %q %v", co.answer, co.err)
	}
	if earned := cfg.ReadTimeout + time.Second; co.after < earned {
		t.Fatalf("a stalled body was cut off after %v, before the %v it earned", co.after, earned)
	}
	if got := s.Get(t, bob); len(got) != 2 {
		t.Fatalf("bob got %d messages, want the 2 paced sends", len(got))
	}
}

// waitInStack waits until a goroutine of the test's process runs all of
// fns at once: the server is at a given point of a request.
func waitInStack(t *testing.T, fns ...string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	waitFor(t, fmt.Sprint(fns, " to run"), func() bool {
		n := runtime.Stack(buf, true)
		for g := range bytes.SplitSeq(buf[:n], []byte("\n\n")) {
			all := true
			for _, fn := range fns {
				all = all && bytes.Contains(g, []byte(fn))
			}
			if all {
				return true
			}
		}
		return false
	})
}

// TestSlowDataHoldsNoSlot: a send whose head has come but whose data is
// still coming holds no in-flight slot while it waits for the data, so
// other requests are served meanwhile; once the data is there it is
// stored as usual.
func TestSlowDataHoldsNoSlot(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxInFlight = 1
	s := ringtest.New(t, cfg)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	data := bytes.Repeat([]byte("x"), 100_000)
	head := ringtest.Body(map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number,
		"length": len(data), "fname": "slow.bin"}, []byte{})
	c, err := net.Dial("tcp", s.HTTP.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: ringd\r\nContent-Length: %d\r\n\r\n%s", len(head)+len(data), head)
	c.Write(data[:1000])
	// The send waits for the rest of its data.
	waitInStack(t, "server.(*Server).store1", "server.(*holdConn).Read")
	for i := range 10 {
		if a := s.Send(t, bob, alice.Number, fmt.Sprint("meanwhile ", i)); a.Code() != 10000 {
			t.Fatalf("a send while another's data is coming: %v", a)
		}
	}
	if n := server.InFlight(s.Server); n != 0 {
		t.Fatalf("%d slots held while the data is coming", n)
	}
	c.Write(data[1000:])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := readAnswer(resp); err != nil || a.Code() != 10000 {
		t.Fatalf("the slow send: %v %v", a, err)
	}
	if got := s.Get(t, bob); len(got) != 1 || got[0]["length"] != float64(len(data)) {
		t.Fatalf("bob got %v", got)
	}
}
