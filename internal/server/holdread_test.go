package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

// rawPost is a POST of body to s as bytes on a connection of the test's own.
func rawPost(s *ringtest.Server, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST / HTTP/1.1\r\nHost: ringd\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}

// readAnswer reads one HTTP answer from br and returns its JSON head.
func readAnswer(t *testing.T, br *bufio.Reader) ringtest.Answer {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	var a ringtest.Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	return a
}

// TestSendHoldsBackgroundRead: on a kept-alive connection, sends and gets
// that wait for the disk hold net/http's background read (conn.go), and
// every answer is still right, including requests sent before the answer
// to the one before them (pipelined) and a get that marks.
func TestSendHoldsBackgroundRead(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	c, err := net.Dial("tcp", s.HTTP.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	send := func(text string) []byte {
		return rawPost(s, ringtest.Body(map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(text)}, []byte(text)))
	}

	before := server.HeldReads()
	const n = 20
	for i := range n {
		if _, err := c.Write(send(fmt.Sprint("one by one ", i))); err != nil {
			t.Fatal(err)
		}
		if a := readAnswer(t, br); a.Code() != 10000 {
			t.Fatalf("send %d: %v", i, a)
		}
	}
	// Each send's handler waits for an fdatasync, long after net/http
	// started its background read: some of those reads must have waited.
	if server.HeldReads() == before {
		t.Fatalf("%d sends on one connection held no read", n)
	}

	// Two sends and a get in one write: the bytes of the next request are
	// there while each waits for the disk.
	var pipe []byte
	pipe = append(pipe, send("piped 1")...)
	pipe = append(pipe, send("piped 2")...)
	pipe = append(pipe, rawPost(s, ringtest.Body(map[string]any{"req": "get", "uuid": []string{bob.UUID}}, nil))...)
	if _, err := c.Write(pipe); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if a := readAnswer(t, br); a.Code() != 10000 {
			t.Fatalf("piped send %d: %v", i, a)
		}
	}
	a := readAnswer(t, br)
	msgs := ringtest.Messages(a)
	if a.Code() != 10000 || len(msgs) != n+2 || msgs[n]["text"] != "piped 1" || msgs[n+1]["text"] != "piped 2" {
		t.Fatalf("piped get: code %d, %d messages", a.Code(), len(msgs))
	}
	// The get marked them: they are not answered again.
	if got := s.Get(t, bob); len(got) != 0 {
		t.Fatalf("after the piped get: %d messages", len(got))
	}
}

// TestLongPollAfterHeldSendSeesClientGo: a long-poll on a connection whose
// send before it held its read still learns that its client has gone, and
// ends then rather than when its wait does.
func TestLongPollAfterHeldSendSeesClientGo(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	c, err := net.Dial("tcp", s.HTTP.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	before := server.HeldReads()
	for i := 0; server.HeldReads() == before; i++ {
		if i == 100 {
			t.Fatal("100 sends held no read")
		}
		text := fmt.Sprint("before the poll ", i)
		if _, err := c.Write(rawPost(s, ringtest.Body(map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(text)}, []byte(text)))); err != nil {
			t.Fatal(err)
		}
		if a := readAnswer(t, br); a.Code() != 10000 {
			t.Fatalf("send: %v", a)
		}
	}
	// Alice has nothing waiting: the get waits up to 60 s.
	if _, err := c.Write(rawPost(s, ringtest.Body(map[string]any{"req": "get", "uuid": []string{alice.UUID}, "wait": 60}, nil))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the long-poll to start", func() bool { return server.InFlight(s.Server) == 1 })
	c.Close()
	waitFor(t, "the long-poll to end with its client", func() bool { return server.InFlight(s.Server) == 0 })
}

// waitFor polls cond until it holds, for at most 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s", what)
		}
	}
}
