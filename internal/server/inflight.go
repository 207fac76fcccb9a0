package server

import "sync/atomic"

// slots counts the requests the server is working on, against
// -max-inflight. A request takes its slot once its head has arrived (its
// body is read first, holding none), and gives it back for as long as it
// waits for something other than the server: the rest of its body from the
// client (clientBody) or, as a long-poll, a message or a call's change
// (await). A slow or stalled client thus never holds one, however many
// there are.
//
// Only taking a slot can fail: a request that gave its slot back takes it
// again whatever the count, since it is already under way and may hold
// what others wait for (a send streaming its data holds blobMu). The count
// may then pass the limit for as long as such requests work.
type slots struct {
	max int64
	n   atomic.Int64
}

// take takes a slot for a new request; false when all are taken.
func (s *slots) take() bool {
	for {
		n := s.n.Load()
		if n >= s.max {
			return false
		}
		if s.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// give gives a slot back.
func (s *slots) give() { s.n.Add(-1) }

// retake takes back a slot given while waiting; it never fails.
func (s *slots) retake() { s.n.Add(1) }

// inUse is how many requests hold a slot.
func (s *slots) inUse() int64 { return s.n.Load() }
