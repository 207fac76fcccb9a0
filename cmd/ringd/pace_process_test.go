package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStalledBodyCutOff: ringd cuts off a request whose body stops coming
// once -read-timeout has passed (the body is too short to have earned
// more), answering 10009 and closing the connection.
func TestStalledBodyCutOff(t *testing.T) {
	p := startRingd(t, t.TempDir(), "-read-timeout", "1s")
	host := strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/")
	// From before the dial: the server's timeout runs from its accept.
	start := time.Now()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\n{", host)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if string(b) != `{"answer":10009,"error":"server busy, try again"}` {
		t.Fatalf("answer %s", b)
	}
	if took < time.Second {
		t.Fatalf("cut off after %v, before -read-timeout", took)
	}
	if n, err := br.ReadByte(); err == nil {
		t.Fatalf("the connection stays open after the cut: read %q", n)
	}
	t.Logf("a stalled body was answered 10009 after %v and its connection closed", took)
}
