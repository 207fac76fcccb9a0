package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Pusher delivers the pushes the store queues in its outbox
// (push.Dispatcher). Its owner starts and closes it; the server only wakes
// it and shows its metrics.
type Pusher interface {
	// Kick says pushes may be waiting; it never blocks.
	Kick()
	// Wants reports whether appid has a provider: the store queues pushes
	// only for those.
	Wants(appid string) bool
	// Collectors are its metrics.
	Collectors() []prometheus.Collector
}

// pushFilterer is a store that can be told which appids to queue pushes
// for, and whom to wake when it has committed some (sqlite.DB).
type pushFilterer interface {
	SetPushFilter(wanted func(appid string) bool)
	SetPushKick(kick func())
}

// initPush connects the configured Pusher, if any, to the store and the
// metrics.
func (s *Server) initPush() {
	p := s.cfg.Pusher
	if p == nil {
		return
	}
	if f, ok := s.st.(pushFilterer); ok {
		f.SetPushFilter(p.Wants)
		f.SetPushKick(p.Kick)
	} else {
		s.log.Warn("push configured, but the store keeps no outbox: no pushes will be sent")
	}
	s.metrics.reg.MustRegister(p.Collectors()...)
}

// KickPush wakes the push dispatcher. The store already does after each
// commit that queued a push; this is for code that knows more is due.
// Cheap; never blocks.
func (s *Server) KickPush() {
	if s.cfg.Pusher != nil {
		s.cfg.Pusher.Kick()
	}
}
