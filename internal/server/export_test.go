package server

// SetFetchHook makes fetch call hook at its stages (Server.fetchHook).
func SetFetchHook(s *Server, hook func(stage string)) { s.fetchHook.Store(&hook) }
