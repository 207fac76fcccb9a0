package server

// SweepRateLimits forgets, now, the client addresses whose rate-limit
// buckets are full at s's clock, as the sweep every rateSweepEvery does.
func SweepRateLimits(s *Server) { s.limits.sweep(s.clock.Now()) }
