package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

type fetchHead struct {
	UUID   *string `json:"uuid"`
	MsgID  *string `json:"msgid"`
	Offset *int64  `json:"offset"`
	Limit  *int64  `json:"limit"`
}

type fetchAnswer struct {
	Answer wire.Code `json:"answer"`
	Length int64     `json:"length"`
	Total  int64     `json:"total"`
	Fname  string    `json:"fname,omitempty"`
}

// fetch returns a message's data, or a range of it, to its sender or
// receiver.
func (s *Server) fetch(ctx context.Context, r *wire.Request) (any, error) {
	var h fetchHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if err := r.NoData(); err != nil {
		return nil, err
	}
	switch {
	case h.UUID == nil:
		return nil, wire.Invalid("uuid", wire.RuleString)
	case h.MsgID == nil:
		return nil, wire.Invalid("msgid", wire.RuleString)
	case h.Offset != nil && *h.Offset < 0:
		return nil, wire.Invalid("offset", wire.RuleNotNeg)
	case h.Limit != nil && *h.Limit < 0:
		return nil, wire.Invalid("limit", wire.RuleNotNeg)
	}
	m, err := s.ownMessage(ctx, *h.UUID, *h.MsgID, true)
	if err != nil {
		return nil, err
	}
	var offset int64
	if h.Offset != nil {
		offset = *h.Offset
	}
	if offset > m.Length {
		return nil, wire.Invalidf("offset", "past the end of the data (%d bytes)", m.Length)
	}
	n := m.Length - offset
	if h.Limit != nil && *h.Limit < n {
		n = *h.Limit
	}
	head := fetchAnswer{Answer: wire.OK, Length: n, Total: m.Length, Fname: m.Fname}
	if n == 0 || m.URI == store.MissedCallURI {
		head.Length = 0
		return &wire.DataAnswer{Head: head}, nil
	}
	if m.Fname == "" && m.Text != nil && int64(len(*m.Text)) == m.Length {
		// A text the store returned with its message: no second read.
		return &wire.DataAnswer{Head: head, Length: n, Data: strings.NewReader((*m.Text)[offset : offset+n])}, nil
	}
	if hook := s.fetchHook.Load(); hook != nil {
		(*hook)("lookup")
	}
	if m.InArena {
		// A file to one number: its extent is in its own row.
		data, err := s.ownArenaData(ctx, m, offset, n)
		if err != nil {
			return nil, err
		}
		if hook := s.fetchHook.Load(); hook != nil {
			(*hook)("read")
		}
		return &wire.DataAnswer{Head: head, Length: n, Data: data, Close: data.Close}, nil
	}
	b, arenaData, err := s.blobData(ctx, m.URI, offset, n)
	if err != nil {
		return nil, err
	}
	if arenaData != nil {
		if hook := s.fetchHook.Load(); hook != nil {
			(*hook)("read")
		}
		return &wire.DataAnswer{Head: head, Length: n, Data: arenaData, Close: arenaData.Close}, nil
	}
	if b.Inline != nil {
		return &wire.DataAnswer{Head: head, Length: n, Data: bytes.NewReader(b.Inline[offset : offset+n])}, nil
	}
	rc, err := s.blobs.Open(ctx, m.URI, offset)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, wire.Wrap(wire.MsgIDError, err, "data gone")
	}
	if err != nil {
		return nil, err
	}
	return &wire.DataAnswer{Head: head, Length: n, Data: io.LimitReader(rc, n), Close: rc.Close}, nil
}

// ownMessage returns the live message msgid if the number of uuid is its
// receiver (or, when senderToo, its sender); otherwise 10013. An unknown
// uuid is 10004.
func (s *Server) ownMessage(ctx context.Context, uuid, msgid string, senderToo bool) (store.Message, error) {
	hash, err := hashUUID(uuid)
	if err != nil {
		return store.Message{}, err
	}
	nums, err := s.store.NumbersByUUID(ctx, []store.UUIDHash{hash})
	if err != nil {
		return store.Message{}, err
	}
	id, err := parseID(msgid)
	if err != nil {
		return store.Message{}, err
	}
	m, err := s.store.Message(ctx, id)
	if err != nil {
		return m, err
	}
	me := nums[0].Number
	if !s.alive(m.Time) || (m.Callee != me && !(senderToo && m.Caller == me)) {
		return store.Message{}, store.ErrBadMsgID
	}
	return m, nil
}

// alive reports whether a message stored at t is inside the retention
// window (the janitor deletes the others on its next round).
func (s *Server) alive(t int64) bool {
	return t >= s.clock.Now().Add(-s.cfg.Retention).Unix()
}
