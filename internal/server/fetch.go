package server

import (
	"context"
	"errors"
	"strings"

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
	offset, n, err := fetchRange(&h, m.Length)
	if err != nil {
		return nil, err
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
	s.runFetchHook("lookup")
	data, err := s.data.OpenData(ctx, m, offset, n)
	if errors.Is(err, store.ErrBadMsgID) {
		// Expired since the message was read.
		return nil, wire.Wrap(wire.MsgIDError, err, "data gone")
	}
	if err != nil {
		return nil, err
	}
	s.runFetchHook("read")
	return &wire.DataAnswer{Head: head, Length: n, Data: data, Close: data.Close}, nil
}

// fetchRange is the offset and length of what a fetch of data of total
// bytes answers.
func fetchRange(h *fetchHead, total int64) (offset, n int64, err error) {
	if h.Offset != nil {
		offset = *h.Offset
	}
	if offset > total {
		return 0, 0, wire.Invalidf("offset", "past the end of the data (%d bytes)", total)
	}
	n = total - offset
	if h.Limit != nil && *h.Limit < n {
		n = *h.Limit
	}
	return offset, n, nil
}

// ownMessage returns the live message msgid if the number of uuid is its
// receiver (or, when senderToo, its sender); otherwise 10013. An unknown
// uuid is 10004.
func (s *Server) ownMessage(ctx context.Context, uuid, msgid string, senderToo bool) (store.Message, error) {
	hash, err := hashUUID(uuid)
	if err != nil {
		return store.Message{}, err
	}
	nums, err := s.ids.NumbersByUUID(ctx, []store.UUIDHash{hash})
	if err != nil {
		return store.Message{}, err
	}
	id, err := parseID(msgid)
	if err != nil {
		return store.Message{}, err
	}
	m, err := s.msgs.Message(ctx, id)
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
