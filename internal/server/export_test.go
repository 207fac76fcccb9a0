package server

import (
	"sync/atomic"

	"github.com/ringd/ringd/internal/notify"
)

// SetFetchHook makes the fetches of s call hook before they look the data
// up ("lookup") and once it is open ("read"); one server of the test
// binary at a time has one.
func SetFetchHook(s *Server, hook func(stage string)) {
	testHooks.fetch.Store(&fetchHook{s: s, fn: hook})
}

// heldReads counts the connection reads that waited for a release.
var heldReads atomic.Int64

func init() {
	count := func() { heldReads.Add(1) }
	testHooks.heldRead.Store(&count)
}

// HeldReads is how many connection reads have waited for a release
// (conn.go), by every server of the test binary.
func HeldReads() int64 { return heldReads.Load() }

// InFlight is how many requests hold an in-flight slot of s.
func InFlight(s *Server) int { return int(s.slots.inUse()) }

// LongPolls is how many long-polls wait in s.
func LongPolls(s *Server) int { return s.polls.count() }

// Waiters is how many requests wait in s for a message to number (a get
// with wait): the subscribers of its topic, less the one of a watched
// entry of the empty gets (emptygets.go).
func Waiters(s *Server, number string) int {
	n := s.notifier.(*notify.Local).Subscribers(notify.Messages(number))
	s.empties.mu.Lock()
	defer s.empties.mu.Unlock()
	if en := s.empties.m[number]; en != nil && en.woke != nil {
		n--
	}
	return n
}
