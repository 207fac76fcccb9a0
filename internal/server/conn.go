package server

import (
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Connections that hold net/http's background read while a request waits
// for the disk (issue 5).
//
// Once a handler has read its request's body to the end, net/http starts a
// goroutine that reads one byte from the connection, to learn early that
// the client has gone (or sent its next request). A handler that answers
// at once is done before that goroutine runs: net/http then sets a read
// deadline in the past, and the read returns without a system call. A send
// waits ~1 ms for the fdatasync that makes it durable, so under load that
// read always reaches the kernel, finds nothing (the client waits for the
// answer), parks in the network poller, and is woken by the deadline: a
// system call and a poller round per request that a server answering at
// once does not pay, ~4 % of ringd's CPU per text send in profiles.
//
// A handler about to wait for the disk, with its body read to the end,
// calls holdRead: the connection's next one-byte read waits in Go, without
// a system call, until a read deadline is set (net/http's abort, when the
// handler is done) or the connection closes, and is then made as asked.
// Any read made late is still a correct read (the bytes wait in the
// kernel); what the hold gives up is learning, during the wait, that the
// client has gone, which a send does not use (it completes either way).
// Long-polls, which do use it, never hold. net/http's abort of a held read
// (a deadline long past, then none once the read has returned) is kept in
// the holdConn, not set on the socket: two fewer rounds of the poller's
// timer work per request.

// Listener wraps ln so that its connections can hold their background
// read (holdRead). http.Server's ConnContext must be ConnContext.
func Listener(ln net.Listener) net.Listener { return holdListener{ln} }

// ConnContext is http.Server's ConnContext for a Listener's connections: it
// lets a handler reach its connection (holdRead).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*holdConn); ok {
		return context.WithValue(ctx, holdConnKey{}, hc)
	}
	return ctx
}

type holdConnKey struct{}

// holdRead holds the next one-byte read of ctx's connection (see above),
// and returns the connection (nil if it is not a holdConn) for endHold
// once the wait is over. The request's body must have been read to its
// end: a read of the body itself must never wait.
func holdRead(ctx context.Context) *holdConn {
	hc, ok := ctx.Value(holdConnKey{}).(*holdConn)
	if !ok {
		return nil
	}
	hc.hold()
	return hc
}

// heldReads counts the reads that waited for a release, for tests.
var heldReads atomic.Int64

type holdListener struct{ net.Listener }

func (l holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return &holdConn{TCPConn: tc, zeroDeadline: true, wake: make(chan struct{}, 1)}, nil
}

// holdConn is a TCP connection whose one-byte reads can be held. It embeds
// *net.TCPConn so that net/http still finds ReadFrom (sendfile for a
// fetch's answer) and CloseWrite.
type holdConn struct {
	*net.TCPConn

	wake chan struct{} // release's token to a waiting Read

	mu           sync.Mutex // guards the following
	holding      bool       // the next one-byte Read waits for release
	waiting      bool       // a Read waits for a token on wake
	zeroDeadline bool       // the TCPConn's read deadline is none
	// expired: a read deadline in the past was set while a Read waited,
	// and is kept here rather than in the TCPConn (whose deadline stays
	// none): reads fail as past their deadline until the next one is set.
	expired bool
}

var _ net.Conn = (*holdConn)(nil)

func (c *holdConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// endHold ends a hold no read has taken, so that it never outlives its
// request (the next request might be a long-poll); a read that took it
// stays held until net/http's abort. c may be nil.
func (c *holdConn) endHold() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.holding = false
	c.mu.Unlock()
}

// release ends the hold and lets a waiting Read go on; c.mu is held. Only
// one Read waits at a time (net/http reads a connection from one goroutine
// at a time), so wake, with room for one token, never blocks.
func (c *holdConn) release() {
	c.holding = false
	if c.waiting {
		c.waiting = false
		c.wake <- struct{}{}
	}
}

func (c *holdConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.expired {
		c.mu.Unlock()
		return 0, errExpired
	}
	if c.holding {
		c.holding = false
		// Only a one-byte read is net/http's background read; any other
		// read (a body's, through a buffer) goes on at once, so a hold
		// set by mistake can never stall a request.
		if len(p) == 1 {
			heldReads.Add(1)
			c.waiting = true
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
			expired := c.expired
			c.mu.Unlock()
			if expired {
				return 0, errExpired
			}
			return c.TCPConn.Read(p)
		}
	}
	c.mu.Unlock()
	return c.TCPConn.Read(p)
}

// errExpired is a read's error past its deadline, as the TCPConn's would be.
var errExpired error = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}

func (c *holdConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting && c.zeroDeadline && !t.IsZero() && !t.After(time.Now()) {
		// net/http's abort of a held read (a deadline long past, then
		// none again once the read has returned): kept here, so that
		// neither touches the poller's timers.
		c.expired = true
		c.release()
		return nil
	}
	c.expired = false
	if t.IsZero() && c.zeroDeadline {
		// Already none (net/http clears it before each background read,
		// and after its abort).
		return nil
	}
	// The deadline first: the Read released then finds it.
	err := c.TCPConn.SetReadDeadline(t)
	c.zeroDeadline = t.IsZero()
	if !t.IsZero() {
		c.release()
	}
	return err
}

func (c *holdConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expired = false
	err := c.TCPConn.SetDeadline(t)
	c.zeroDeadline = t.IsZero()
	if !t.IsZero() {
		c.release()
	}
	return err
}

func (c *holdConn) Close() error {
	c.mu.Lock()
	c.release()
	c.mu.Unlock()
	return c.TCPConn.Close()
}
