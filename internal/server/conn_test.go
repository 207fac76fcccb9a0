package server

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// holdPair is a connection accepted through Listener and its client end.
func holdPair(t *testing.T) (*holdConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl := Listener(ln)
	defer hl.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := hl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hc, ok := c.(*holdConn)
	if !ok {
		t.Fatalf("Listener accepted a %T", c)
	}
	return hc, client
}

type readResult struct {
	b   []byte
	err error
}

// readAsync reads once into a buffer of n bytes on its own goroutine.
func readAsync(c net.Conn, n int) <-chan readResult {
	out := make(chan readResult, 1)
	go func() {
		buf := make([]byte, n)
		k, err := c.Read(buf)
		out <- readResult{buf[:k], err}
	}()
	return out
}

// untilWaiting returns once a Read of hc waits for a release.
func untilWaiting(t *testing.T, hc *holdConn) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		hc.mu.Lock()
		w := hc.waiting
		hc.mu.Unlock()
		if w {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the held read never waited")
		}
	}
}

// heldRead holds hc and starts a one-byte read, which it returns once that
// read waits for a release.
func heldRead(t *testing.T, hc *holdConn) <-chan readResult {
	t.Helper()
	hc.hold()
	got := readAsync(hc, 1)
	untilWaiting(t, hc)
	return got
}

func result(t *testing.T, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the read never returned")
		return readResult{}
	}
}

// TestHoldConnDeadlineReleases: a held one-byte read leaves bytes already
// sent where they are, and a deadline in the past (net/http's abort) ends
// it as a timeout; the bytes are then read as usual.
func TestHoldConnDeadlineReleases(t *testing.T) {
	hc, client := holdPair(t)
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	got := heldRead(t, hc)
	if err := hc.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	r := result(t, got)
	var ne net.Error
	if len(r.b) != 0 || !errors.As(r.err, &ne) || !ne.Timeout() || !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("held read released by a past deadline: %q, %v; want nothing and a timeout", r.b, r.err)
	}
	// Every read fails so until another deadline is set, as on any
	// connection.
	if r := result(t, readAsync(hc, 16)); len(r.b) != 0 || !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %q, %v", r.b, r.err)
	}
	if err := hc.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if r := result(t, readAsync(hc, 1)); string(r.b) != "x" || r.err != nil {
		t.Fatalf("read after the release: %q, %v", r.b, r.err)
	}
}

// TestHoldConnOtherReadsGoOn: a hold applies to a one-byte read only (net/
// http's background read); a read through a buffer, a body's, goes on at
// once, and takes the hold away.
func TestHoldConnOtherReadsGoOn(t *testing.T) {
	hc, client := holdPair(t)
	if _, err := client.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	hc.hold()
	if r := result(t, readAsync(hc, 16)); string(r.b) != "abc" || r.err != nil {
		t.Fatalf("buffered read under a hold: %q, %v", r.b, r.err)
	}
	if _, err := client.Write([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if r := result(t, readAsync(hc, 1)); string(r.b) != "d" || r.err != nil {
		t.Fatalf("one-byte read after the buffered one: %q, %v", r.b, r.err)
	}
}

// TestHoldConnCloseReleases: closing the connection ends a held read with
// the error of a closed connection.
func TestHoldConnCloseReleases(t *testing.T) {
	hc, _ := holdPair(t)
	got := heldRead(t, hc)
	hc.Close()
	if r := result(t, got); !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("held read at close: %q, %v", r.b, r.err)
	}
}

// TestHoldConnClientGone: a held read released by a deadline that is not
// past reads on, and learns that the client has gone.
func TestHoldConnClientGone(t *testing.T) {
	hc, client := holdPair(t)
	got := heldRead(t, hc)
	client.Close()
	if err := hc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r := result(t, got); r.err != io.EOF {
		t.Fatalf("held read of a client gone: %q, %v", r.b, r.err)
	}
}

// TestHoldConnEndHold: a hold no read took ends with its request, so the
// next request's background read (a long-poll's) is made at once; one a
// read took stays held until the deadline.
func TestHoldConnEndHold(t *testing.T) {
	hc, client := holdPair(t)
	hc.hold()
	hc.endHold()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if r := result(t, readAsync(hc, 1)); string(r.b) != "x" || r.err != nil {
		t.Fatalf("one-byte read after an ended hold: %q, %v", r.b, r.err)
	}

	got := heldRead(t, hc)
	hc.endHold()
	hc.mu.Lock()
	waiting := hc.waiting
	hc.mu.Unlock()
	if !waiting {
		t.Fatal("endHold let a held read go")
	}
	if err := hc.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if r := result(t, got); !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("held read after endHold, released by the deadline: %q, %v", r.b, r.err)
	}
	var nilConn *holdConn
	nilConn.endHold() // a connection not from Listener
}
