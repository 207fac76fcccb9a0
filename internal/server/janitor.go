package server

import (
	"context"
	"time"
)

// janitorEvery is how often expired messages are deleted.
const janitorEvery = time.Minute

func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	for {
		if s.runsJanitor() { // one node of several at a time (lease.go)
			if err := s.Sweep(context.Background()); err != nil {
				s.log.Warn("janitor", "err", err)
			}
		}
		s.disk.isFull() // ends refusals for lack of space once it is back
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.janitorWake:
		}
	}
}

// Sweep deletes calls and messages older than the retention window; the
// store frees the data no live message refers to any more.
func (s *Server) Sweep(ctx context.Context) error {
	before := s.clock.Now().Add(-s.cfg.Retention)
	if err := s.callStore.ExpireCalls(ctx, before); err != nil { // calls live as long as messages
		return err
	}
	return s.retention.Expire(ctx, before)
}
