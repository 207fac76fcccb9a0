package server

import (
	"context"
	"encoding/json"
	"errors"
	"path"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// maxReserve bounds the numbers of one reserve request.
const maxReserve = 10000

type adminHead struct {
	Auth    *string   `json:"auth"`
	Numbers *[]string `json:"numbers"`
	Number  *string   `json:"number"`
	Seconds *int64    `json:"seconds"`
}

type statsAnswer struct {
	Answer   wire.Code `json:"answer"`
	Numbers  int64     `json:"numbers"`
	InUse    int64     `json:"in_use"`
	Devices  int64     `json:"devices"`
	Messages int64     `json:"messages"`
	Calls    int64     `json:"calls"`
	Bytes    int64     `json:"bytes"`
}

type debugAnswer struct {
	Answer  wire.Code       `json:"answer"`
	Error   string          `json:"error"`
	Version string          `json:"version"`
	Request json.RawMessage `json:"request"`
}

// admin decodes an operator request and checks its auth against the admin
// token in constant time, before anything else: whoever lacks the token
// learns nothing, not even whether the rest was well formed. With no token
// configured every operator request is 10061.
func (s *Server) admin(r *wire.Request) (*adminHead, error) {
	var auth struct {
		Auth *string `json:"auth"`
	}
	// An auth of the wrong type is a wrong auth, not a format error.
	if json.Unmarshal(r.Head, &auth) != nil || auth.Auth == nil || !secretEqual(*auth.Auth, s.cfg.AdminToken) {
		return nil, wire.Errorf(wire.AuthError, "wrong admin token")
	}
	var h adminHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if err := r.NoData(); err != nil {
		return nil, err
	}
	return &h, nil
}

// reserve makes numbers unregistrable; a registered one stays its owner's.
func (s *Server) reserve(ctx context.Context, r *wire.Request) (any, error) {
	h, err := s.admin(r)
	if err != nil {
		return nil, err
	}
	if h.Numbers == nil || len(*h.Numbers) == 0 || len(*h.Numbers) > maxReserve {
		return nil, wire.Invalidf("numbers", "required, an array of 1 to %d numbers, each %s", maxReserve, wire.RuleNumber)
	}
	for _, n := range *h.Numbers {
		if !wire.IsNumber(n) {
			return nil, wire.Invalidf("numbers", "required, an array of 1 to %d numbers, each %s", maxReserve, wire.RuleNumber)
		}
	}
	if err := s.callStore.Reserve(ctx, *h.Numbers); err != nil {
		return nil, err
	}
	return wire.Ack{Answer: wire.OK}, nil
}

// credit adds seconds to a registered number's AI-call balance.
func (s *Server) credit(ctx context.Context, r *wire.Request) (any, error) {
	h, err := s.admin(r)
	if err != nil {
		return nil, err
	}
	switch {
	case h.Number == nil || !wire.IsNumber(*h.Number):
		return nil, wire.Invalid("number", wire.RuleNumber)
	case h.Seconds == nil || *h.Seconds <= 0 || *h.Seconds > 1e9:
		return nil, wire.Invalid("seconds", "required, a whole number from 1 to 1000000000")
	}
	bal, err := s.callStore.Credit(ctx, *h.Number, *h.Seconds)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.Errorf(wire.CalleeNotInUse, "credit to an unregistered number")
	}
	if err != nil {
		return nil, err
	}
	return balanceAnswer{Answer: wire.OK, Balance: bal}, nil
}

// stats counts what the server holds.
func (s *Server) stats(ctx context.Context, r *wire.Request) (any, error) {
	if _, err := s.admin(r); err != nil {
		return nil, err
	}
	st, err := s.callStore.Stats(ctx)
	if err != nil {
		return nil, err
	}
	return statsAnswer{Answer: wire.OK, Numbers: st.Numbers, InUse: st.InUse, Devices: st.Devices,
		Messages: st.Messages, Calls: st.Calls, Bytes: st.Bytes}, nil
}

// debug (registered only with -debug) answers 10020 with the version and
// the request's JSON echoed back.
func (s *Server) debug(ctx context.Context, r *wire.Request) (any, error) {
	return debugAnswer{Answer: wire.Debug, Error: wire.Debug.Text(), Version: Version,
		Request: json.RawMessage(r.Head)}, nil
}

// reservedByConfig reports whether the configuration keeps number from
// registration. Each entry of CallConfig.Reserved is one of:
//   - a number, reserved exactly;
//   - a pattern where ? stands for one digit and * for any digits
//     ("110*", "8888????");
//   - "repeated": every number of one digit repeated ("000", "88888888").
func (s *Server) reservedByConfig(number string) bool {
	for _, p := range s.cfg.Reserved {
		switch p {
		case "repeated":
			if repeatedDigit(number) {
				return true
			}
		default:
			if ok, _ := path.Match(p, number); ok {
				return true
			}
		}
	}
	return false
}

func repeatedDigit(n string) bool {
	for i := 1; i < len(n); i++ {
		if n[i] != n[0] {
			return false
		}
	}
	return n != ""
}
