package server

import "sync/atomic"

// testHooks run at points of the server's work for tests (export_test.go
// sets them); production code never sets any, and pays one atomic load at
// each point.
var testHooks struct {
	// fetch runs in fetches of one server, before the data is looked up
	// ("lookup") and once it is open ("read").
	fetch atomic.Pointer[fetchHook]
	// heldRead runs when a connection's read waits for its release
	// (conn.go).
	heldRead atomic.Pointer[func()]
}

type fetchHook struct {
	s  *Server
	fn func(stage string)
}

// runFetchHook runs the fetch hook of s, if any, at stage.
func (s *Server) runFetchHook(stage string) {
	if h := testHooks.fetch.Load(); h != nil && h.s == s {
		h.fn(stage)
	}
}
