package server

import (
	"context"

	"github.com/ringd/ringd/internal/wire"
)

type linkHead struct {
	UUID *string `json:"uuid"`
	Data *string `json:"data"`
}

type linkedAnswer struct {
	Answer wire.Code `json:"answer"`
	Data   *string   `json:"data,omitempty"`
}

// link stores the number's link data, once (a second time is 10005). The
// store's single writer makes the first of concurrent attempts the only one.
func (s *Server) link(ctx context.Context, r *wire.Request) (any, error) {
	var h linkHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if err := r.NoData(); err != nil {
		return nil, err
	}
	if h.Data == nil || !wire.Text(*h.Data, 1, 1024) {
		return nil, wire.Invalid("data", "required, "+wire.RuleText(1, 1024))
	}
	me, err := s.party(ctx, h.UUID)
	if err != nil {
		return nil, err
	}
	if err := s.callStore.SetLink(ctx, me.Number, *h.Data); err != nil {
		return nil, err
	}
	return wire.Ack{Answer: wire.OK}, nil
}

// linked answers the number's link data; no data field when none is set.
func (s *Server) linked(ctx context.Context, r *wire.Request) (any, error) {
	var h linkHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if err := r.NoData(); err != nil {
		return nil, err
	}
	me, err := s.party(ctx, h.UUID)
	if err != nil {
		return nil, err
	}
	data, ok, err := s.callStore.Link(ctx, me.Number)
	if err != nil {
		return nil, err
	}
	a := linkedAnswer{Answer: wire.OK}
	if ok {
		a.Data = &data
	}
	return a, nil
}
