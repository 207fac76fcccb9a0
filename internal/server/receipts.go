package server

import (
	"context"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

type receiptHead struct {
	UUID  *string       `json:"uuid"`
	MsgID *wire.Strings `json:"msgid"`
}

type statusAnswer struct {
	Answer wire.Code         `json:"answer"`
	Status map[string]string `json:"status"`
}

// receipt checks a read or status head: one uuid, a non-empty msgid list.
func (s *Server) receipt(ctx context.Context, r *wire.Request) (store.Number, []int64, error) {
	var h receiptHead
	if err := r.Decode(&h); err != nil {
		return store.Number{}, nil, err
	}
	if err := r.NoData(); err != nil {
		return store.Number{}, nil, err
	}
	if h.UUID == nil {
		return store.Number{}, nil, wire.Invalid("uuid", wire.RuleString)
	}
	if h.MsgID == nil || len(*h.MsgID) == 0 || len(*h.MsgID) > s.cfg.MaxGet {
		return store.Number{}, nil, wire.Invalidf("msgid", "required, an array of 1 to %d msgid strings", s.cfg.MaxGet)
	}
	hash, err := hashUUID(*h.UUID)
	if err != nil {
		return store.Number{}, nil, err
	}
	nums, err := s.ids.NumbersByUUID(ctx, []store.UUIDHash{hash})
	if err != nil {
		return store.Number{}, nil, err
	}
	ids := make([]int64, len(*h.MsgID))
	for i, m := range *h.MsgID {
		if ids[i], err = parseID(m); err != nil {
			return store.Number{}, nil, err
		}
	}
	if err := s.checkAlive(ctx, ids); err != nil {
		return store.Number{}, nil, err
	}
	return nums[0], ids, nil
}

// checkAlive is ErrBadMsgID when a message is past the retention window.
// The janitor deletes such messages only on its next round; until then the
// store still holds them, but to the protocol they are gone (expired: 10013).
func (s *Server) checkAlive(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		m, err := s.msgs.Message(ctx, id)
		if err != nil {
			return err
		}
		if !s.alive(m.Time) {
			return store.ErrBadMsgID
		}
	}
	return nil
}

// read: the receiver marks messages read.
func (s *Server) read(ctx context.Context, r *wire.Request) (any, error) {
	n, ids, err := s.receipt(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := s.msgs.MarkRead(ctx, []string{n.Number}, ids); err != nil {
		return nil, err
	}
	return wire.Ack{Answer: wire.OK}, nil
}

// status: the sender learns each message's state.
func (s *Server) status(ctx context.Context, r *wire.Request) (any, error) {
	n, ids, err := s.receipt(ctx, r)
	if err != nil {
		return nil, err
	}
	states, err := s.msgs.States(ctx, n.Number, ids)
	if err != nil {
		return nil, err
	}
	a := statusAnswer{Answer: wire.OK, Status: make(map[string]string, len(ids))}
	for i, id := range ids {
		a.Status[formatID(id)] = states[i].String()
	}
	return a, nil
}
