package server

// SetFetchHook makes fetch call hook at its stages (Server.fetchHook).
func SetFetchHook(s *Server, hook func(stage string)) { s.fetchHook.Store(&hook) }

// HeldReads is how many connection reads have waited for a release
// (conn.go), by every server of the test binary.
func HeldReads() int64 { return heldReads.Load() }

// InFlight is how many requests hold an in-flight slot of s.
func InFlight(s *Server) int { return int(s.slots.inUse()) }
