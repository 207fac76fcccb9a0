package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Connections that can hold net/http's background read while a send waits
// for the disk.
//
// Once a handler has read its request's body to the end, net/http starts a
// goroutine that reads one byte from the connection, to learn early that
// the client has gone, and aborts that read with a read deadline in the
// past when the handler is done. A send waiting for the disk lets the read
// reach the kernel, find nothing and park in the network poller until the
// abort wakes it: a system call and a poller round per request.
//
// A send whose body is read to its end calls holdRead before it waits: the
// connection's next one-byte read then waits in Go, without a system call,
// until a read deadline is set (net/http's abort, kept in the holdConn
// rather than set on the socket) or the connection closes, and is then
// made as asked.
//
// Invariant: only a one-byte read is ever held, so a body's read never
// waits; a read made late is still a correct read (the bytes wait in the
// kernel); a hold no read took ends with its request (endHold), so a
// long-poll, which must learn that its client has gone, never holds.

// Listener wraps ln so that its connections can hold their background
// read (holdRead), and so that running out of file descriptors is logged
// once, not at every accept (see below), through slog.Default() as it is
// when Listener is called. http.Server's ConnContext must be ConnContext.
func Listener(ln net.Listener) net.Listener {
	return &holdListener{Listener: ln, log: slog.Default(), done: make(chan struct{})}
}

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

type holdListener struct {
	net.Listener
	log       *slog.Logger
	done      chan struct{} // closed by Close: ends a wait for descriptors
	closeOnce sync.Once

	out         atomic.Bool // accepts have failed for want of descriptors (below)
	mu          sync.Mutex  // guards the following
	outSince    time.Time   // the first of those failures
	lastFailure time.Time   // the last
	failures    int         // how many
}

func (l *holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if outOfDescriptors(err) {
		c, err = l.acceptWhenFree(err)
	}
	if err != nil {
		return nil, err
	}
	if l.out.Load() {
		l.accepted()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return &holdConn{TCPConn: tc, zeroDeadline: true, wake: make(chan struct{}, 1)}, nil
}

func (l *holdListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Running out of file descriptors. An accept that fails for want of one,
// returned to net/http, is logged and retried by it at every accept, up to
// a second apart. The listener keeps it instead: it logs that accepts fail
// when the first does, waits (the connections stay in the listen queue)
// and tries again, from acceptRetryMin apart up to acceptRetryMax, so a
// connection waits at most that long once a descriptor is free. It logs
// that accepts work again once they have for quietAccepts since the last
// failure: under an attack that holds the process at its limit, accepts
// fail and work by turns, and that is one trouble, logged twice, not a
// pair of lines per free descriptor.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = 100 * time.Millisecond
	quietAccepts   = time.Second
)

// outOfDescriptors is whether err is an accept's failure for want of a
// file descriptor, the process's (EMFILE) or the system's (ENFILE).
func outOfDescriptors(err error) bool {
	return err != nil && (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE))
}

// acceptWhenFree accepts once a file descriptor is free, after an accept
// failed with err for want of one. A Close ends the wait: the next accept
// fails as closed.
func (l *holdListener) acceptWhenFree(err error) (net.Conn, error) {
	delay := acceptRetryMin
	t := time.NewTimer(delay)
	defer t.Stop()
	var c net.Conn
	for outOfDescriptors(err) {
		l.failed(err)
		select {
		case <-t.C:
		case <-l.done:
		}
		c, err = l.Listener.Accept()
		delay = min(2*delay, acceptRetryMax)
		t.Reset(delay)
	}
	return c, err
}

// failed notes an accept that failed with err for want of a descriptor,
// and logs it if accepts worked until then.
func (l *holdListener) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.out.Load() {
		l.out.Store(true)
		l.outSince, l.failures = now, 0
		l.log.Error("out of file descriptors: new connections wait until some are free", "err", err)
	}
	l.lastFailure = now
	l.failures++
}

// accepted notes an accept that worked after some failed, and logs that
// accepts work again once none has failed for quietAccepts.
func (l *holdListener) accepted() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.out.Load() && time.Since(l.lastFailure) >= quietAccepts {
		l.out.Store(false)
		l.log.Info("accepting connections again", "failed_accepts", l.failures,
			"for", l.lastFailure.Sub(l.outSince).Round(time.Millisecond))
	}
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
			if h := testHooks.heldRead.Load(); h != nil {
				(*h)()
			}
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
