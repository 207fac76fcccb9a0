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

// rawClient is a kept-alive connection of the test's own to a server,
// written and read as bytes.
type rawClient struct {
	c  net.Conn
	br *bufio.Reader
}

func newRawClient(t *testing.T, s *ringtest.Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", s.HTTP.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{c: c, br: bufio.NewReader(c)}
}

// post writes a POST of each body, all in one write.
func (rc *rawClient) post(t *testing.T, bodies ...[]byte) {
	t.Helper()
	var b bytes.Buffer
	for _, body := range bodies {
		fmt.Fprintf(&b, "POST / HTTP/1.1\r\nHost: ringd\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
		b.Write(body)
	}
	if _, err := rc.c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// answer reads the next HTTP answer and returns its JSON head.
func (rc *rawClient) answer(t *testing.T) ringtest.Answer {
	t.Helper()
	resp, err := http.ReadResponse(rc.br, nil)
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

// sendBody is the body of a send of text from one user to a number.
func sendBody(from ringtest.User, to, text string) []byte {
	return ringtest.Body(map[string]any{"req": "send", "uuid": from.UUID, "callee": to, "length": len(text)}, []byte(text))
}

// TestSendHoldsBackgroundRead: on a kept-alive connection, sends, which
// wait for the disk, hold net/http's background read (conn.go), and every
// answer is still right, including requests sent before the answer to the
// one before them (pipelined) and a get that marks.
func TestSendHoldsBackgroundRead(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	rc := newRawClient(t, s)

	before := server.HeldReads()
	const n = 20
	for i := range n {
		rc.post(t, sendBody(alice, bob.Number, fmt.Sprint("one by one ", i)))
		if a := rc.answer(t); a.Code() != 10000 {
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
	rc.post(t, sendBody(alice, bob.Number, "piped 1"), sendBody(alice, bob.Number, "piped 2"),
		ringtest.Body(map[string]any{"req": "get", "uuid": []string{bob.UUID}}, nil))
	for i := range 2 {
		if a := rc.answer(t); a.Code() != 10000 {
			t.Fatalf("piped send %d: %v", i, a)
		}
	}
	a := rc.answer(t)
	msgs := ringtest.Messages(a)
	if a.Code() != 10000 || len(msgs) != n+2 || msgs[n]["text"] != "piped 1" || msgs[n+1]["text"] != "piped 2" {
		t.Fatalf("piped get: code %d, %d messages", a.Code(), len(msgs))
	}
	// The get marked them: they are not answered again.
	if got := s.Get(t, bob); len(got) != 0 {
		t.Fatalf("after the piped get: %d messages", len(got))
	}
}

// TestGetHoldsNoRead: a get, even one that waits for the disk to mark
// what it answers, never holds its connection's background read: only
// sends do.
func TestGetHoldsNoRead(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	rc := newRawClient(t, s)
	for i := range 20 {
		if a := s.Send(t, alice, bob.Number, fmt.Sprint("to mark ", i)); a.Code() != 10000 {
			t.Fatalf("send: %v", a)
		}
		before := server.HeldReads()
		rc.post(t, ringtest.Body(map[string]any{"req": "get", "uuid": []string{bob.UUID}}, nil))
		if a := rc.answer(t); a.Code() != 10000 || len(ringtest.Messages(a)) != 1 {
			t.Fatalf("get %d: %v", i, a)
		}
		if server.HeldReads() != before {
			t.Fatalf("get %d held its connection's read", i)
		}
	}
}

// TestLongPollAfterHeldSendSeesClientGo: a long-poll on a connection whose
// send before it held its read still learns that its client has gone, and
// ends then rather than when its wait does.
func TestLongPollAfterHeldSendSeesClientGo(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	rc := newRawClient(t, s)
	before := server.HeldReads()
	for i := 0; server.HeldReads() == before; i++ {
		if i == 100 {
			t.Fatal("100 sends held no read")
		}
		rc.post(t, sendBody(alice, bob.Number, fmt.Sprint("before the poll ", i)))
		if a := rc.answer(t); a.Code() != 10000 {
			t.Fatalf("send: %v", a)
		}
	}
	// Alice has nothing waiting: the get waits up to 60 s.
	rc.post(t, ringtest.Body(map[string]any{"req": "get", "uuid": []string{alice.UUID}, "wait": 60}, nil))
	waitFor(t, "the long-poll to start", func() bool { return server.LongPolls(s.Server) == 1 })
	rc.c.Close()
	waitFor(t, "the long-poll to end with its client", func() bool { return server.LongPolls(s.Server) == 0 })
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
