package server

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/store"
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
	if f, ok := s.store.(pushFilterer); ok {
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

// prefixReader passes data through, keeping its first bytes: enough for
// the preview of a text too large to be kept inline.
type prefixReader struct {
	r    io.Reader
	head []byte
}

// prefixMax holds store.PreviewChars characters of up to 4 bytes each.
const prefixMax = store.PreviewChars * utf8.UTFMax

func (p *prefixReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if room := prefixMax - len(p.head); room > 0 && n > 0 {
		p.head = append(p.head, b[:min(n, room)]...)
	}
	return n, err
}

// preview is the first store.PreviewChars characters of what was read,
// without a character cut at the end.
func (p *prefixReader) preview() string {
	return store.Preview(strings.ToValidUTF8(string(p.head), ""))
}
