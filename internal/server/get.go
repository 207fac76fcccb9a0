package server

import (
	"context"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

type getHead struct {
	UUID       *wire.Strings `json:"uuid"`
	After      *int64        `json:"after"`
	AfterMsgID *string       `json:"after_msgid"` // history only: page after this msgid
	Wait       *int64        `json:"wait"`        // get only: seconds to hold an empty answer
}

// messageJSON is a message as get and history answer it.
type messageJSON struct {
	MsgID      string  `json:"msgid"`
	Caller     string  `json:"caller"`
	CallerName string  `json:"caller_name"`
	Callee     string  `json:"callee"`
	Time       int64   `json:"time"`
	URI        string  `json:"uri"`
	Length     int64   `json:"length"`
	Fname      string  `json:"fname,omitempty"`
	Text       *string `json:"text,omitempty"`
	CallID     string  `json:"callid,omitempty"`
	State      string  `json:"state,omitempty"` // history only
}

type getAnswer struct {
	Answer   wire.Code     `json:"answer"`
	Messages []messageJSON `json:"messages"`
	More     bool          `json:"more"`
}

// getQuery checks a get or history head and resolves its numbers.
func (s *Server) getQuery(ctx context.Context, r *wire.Request) (store.GetQuery, *getHead, error) {
	var h getHead
	var q store.GetQuery
	if err := r.Decode(&h); err != nil {
		return q, nil, err
	}
	if err := r.NoData(); err != nil {
		return q, nil, err
	}
	if h.UUID == nil || len(*h.UUID) == 0 {
		return q, nil, wire.Errorf(wire.FormatError, "uuid")
	}
	hashes, err := hashUUIDs(*h.UUID)
	if err != nil {
		return q, nil, err
	}
	if q.Callees, err = s.numbersOf(ctx, hashes); err != nil {
		return q, nil, err
	}
	// Nothing older than one day, whatever after says (seed).
	q.After = s.clock.Now().Add(-getWindow).Unix()
	if h.After != nil && *h.After > q.After {
		q.After = *h.After
	}
	q.Limit = s.cfg.MaxGet
	return q, &h, nil
}

// numbersOf resolves uuid hashes to their distinct numbers, in order,
// through the cache when it knows them all: one read less per get.
func (s *Server) numbersOf(ctx context.Context, hashes []store.UUIDHash) ([]string, error) {
	out := make([]string, 0, len(hashes))
	for _, h := range hashes {
		n, ok := s.numbers.get(h)
		if !ok {
			return s.resolveNumbers(ctx, hashes)
		}
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s *Server) resolveNumbers(ctx context.Context, hashes []store.UUIDHash) ([]string, error) {
	numbers, err := s.store.NumbersByUUID(ctx, hashes)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(numbers))
	for i, n := range numbers {
		s.numbers.put(hashes[i], n.Number)
		if !contains(out, n.Number) {
			out = append(out, n.Number)
		}
	}
	return out, nil
}

// get returns the undelivered messages of the numbers, marking them
// delivered in the same transaction (seed).
func (s *Server) get(ctx context.Context, r *wire.Request) (any, error) {
	q, h, err := s.getQuery(ctx, r)
	if err != nil {
		return nil, err
	}
	msgs, more, err := s.takeWaiting(ctx, q, h.Wait)
	if err != nil {
		return nil, err
	}
	return getAnswer{Answer: wire.OK, Messages: messagesJSON(msgs, false), More: more}, nil
}

// history returns every message of the window whatever its state, marking
// nothing: how a client recovers after a lost answer or on a new device.
func (s *Server) history(ctx context.Context, r *wire.Request) (any, error) {
	q, h, err := s.getQuery(ctx, r)
	if err != nil {
		return nil, err
	}
	if h.AfterMsgID != nil {
		if q.AfterID, err = parseID(*h.AfterMsgID); err != nil {
			return nil, err
		}
	}
	msgs, more, err := s.store.History(ctx, q)
	if err != nil {
		return nil, err
	}
	return getAnswer{Answer: wire.OK, Messages: messagesJSON(msgs, true), More: more}, nil
}

func messagesJSON(msgs []store.Message, withState bool) []messageJSON {
	out := make([]messageJSON, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		out[i] = messageJSON{
			MsgID:      formatID(m.ID),
			Caller:     m.Caller,
			CallerName: m.CallerName,
			Callee:     m.Callee,
			Time:       m.Time,
			URI:        m.URI,
			Length:     m.Length,
			Fname:      m.Fname,
			CallID:     m.CallID,
		}
		if m.Fname == "" && m.Text != nil && m.Length <= store.InlineMax {
			out[i].Text = m.Text
		}
		if withState {
			out[i].State = m.State.String()
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
