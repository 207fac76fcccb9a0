package server

import (
	"io"
	"net/http"
	"time"
)

// A request must arrive at a minimum pace, or it is cut off: its headers
// and the start of its body within ReadTimeout of its first byte, and its
// body on, at least one second more for every MinBodyRate bytes received.
// The rule is on the whole body, not on each read: a client that sends a
// byte now and then falls behind it however short its pauses, while one
// whose link stalls for a while keeps the time it has earned by sending
// faster than the floor before.
//
// The first deadlines are net/http's own, from the http.Server's
// ReadHeaderTimeout and ReadTimeout, both Server.ReadTimeout: when the
// request's first byte comes, net/http gives its headers that long, and
// once they are in, the request as a whole from when they began. A body of
// MinBodyRate bytes or more moves that deadline on as it arrives
// (clientBody). Once the body has been read to its end, net/http clears
// the deadline itself, before its background read (conn.go): a long-poll's
// wait is not cut off.

// clientBody is a request's body as the server reads it: it moves the
// read deadline on as the body arrives, and gives the request's in-flight
// slot back while a read waits for the client.
type clientBody struct {
	body  io.Reader
	w     http.ResponseWriter // for its http.ResponseController
	start time.Time           // when the request's handler began
	base  time.Duration       // Config.ReadTimeout
	rate  int64               // Config.MinBodyRate
	got   int64               // bytes read
	// earned is the seconds past base the deadline was last moved by.
	earned int64
	// slots, once the request holds a slot, is where to give it back
	// during a read.
	slots *slots
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.slots != nil {
		b.slots.give()
		defer b.slots.retake()
	}
	n, err := b.body.Read(p)
	b.got += int64(n)
	// After an error (io.EOF included) the deadline is not touched: at
	// the end of the body net/http has cleared it for its background
	// read, which must not be cut off.
	if err == nil && b.got/b.rate > b.earned {
		b.earned = b.got / b.rate
		deadline := b.start.Add(b.base + time.Duration(b.earned)*time.Second)
		// A connection that cannot take a deadline keeps net/http's.
		_ = http.NewResponseController(b.w).SetReadDeadline(deadline)
	}
	return n, err
}

// ReadTimeout is the http.Server's ReadTimeout and ReadHeaderTimeout that s
// is to be served with: how long a request's headers and the start of its
// body have to arrive (see above).
func (s *Server) ReadTimeout() time.Duration { return s.cfg.ReadTimeout }
