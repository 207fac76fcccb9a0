package server

import (
	"context"
	"time"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/store"
)

// arrived wakes the long-polls of the callees a send has just committed
// messages for.
func (s *Server) arrived(res store.SendResult) {
	for callee := range res.MsgIDs {
		s.notifier.Notify(notify.Messages(callee))
	}
}

// takeWaiting is get's TakeUndelivered with its optional wait: when nothing
// is waiting it holds the answer until a message for one of the numbers
// commits (a send, a missed call), the wait ends, the server closes, or
// newer long-polls of the numbers take its place (longpoll.go). It
// subscribes before it looks, so a message that commits in between wakes it.
func (s *Server) takeWaiting(ctx context.Context, q store.GetQuery, wait *int64, dst []store.Message) ([]store.Message, bool, error) {
	d, err := waitOf(wait)
	if err != nil || d == 0 {
		if err != nil {
			return nil, false, err
		}
		return s.empties.take(ctx, s.msgs, q, dst)
	}
	topics := make([]notify.Topic, len(q.Callees))
	for i, c := range q.Callees {
		topics[i] = notify.Messages(c)
	}
	woke, cancel := s.notifier.Subscribe(topics...)
	defer cancel()
	t := time.NewTimer(d)
	defer t.Stop()
	var p *longPoll
	for {
		msgs, more, err := s.empties.take(ctx, s.msgs, q, dst)
		if err != nil || len(msgs) > 0 {
			return msgs, more, err
		}
		if p == nil {
			p = s.polls.start(getPollKeys(q.Callees)...)
			defer s.polls.done(p)
		}
		if woken, err := s.await(ctx, woke, p, t); !woken {
			return nil, false, err
		}
	}
}
