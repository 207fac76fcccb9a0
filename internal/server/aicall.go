package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// The AI call service is an HTTP endpoint (CallConfig.AIURL). ringd POSTs it
// JSON with "Authorization: Bearer <AIKey>":
//
//	{"event":"call","callid":"…","caller":"…","caller_name":"…","data":"<base64>"}
//
// and takes a 2xx answer {"data":"<base64>"} (at most 64 KiB decoded) as the
// service's answer to the caller. When the call ends ringd POSTs
//
//	{"event":"hangup","callid":"…","seconds":N}
//
// and ignores the answer. Anything else (no service, an error status, a
// malformed answer, no answer within AITimeout) is 10031.
type aiRequest struct {
	Event      string `json:"event"`
	CallID     string `json:"callid"`
	Caller     string `json:"caller,omitempty"`
	CallerName string `json:"caller_name,omitempty"`
	Data       []byte `json:"data,omitempty"`
	Seconds    *int64 `json:"seconds,omitempty"`
}

type aiAnswer struct {
	Data []byte `json:"data"`
}

type aicallHead struct {
	UUID       *string `json:"uuid"`
	CallerName *string `json:"caller_name"`
	Length     *int64  `json:"length"`
}

type aicallAnswer struct {
	Answer wire.Code `json:"answer"`
	CallID string    `json:"callid"`
	Length int64     `json:"length"`
}

type balanceAnswer struct {
	Answer  wire.Code `json:"answer"`
	Balance int64     `json:"balance"`
}

// aicall starts a call with the AI service and answers with what it said.
func (s *Server) aicall(ctx context.Context, r *wire.Request) (any, error) {
	var h aicallHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if h.CallerName != nil && !wire.Text(*h.CallerName, 2, 32) {
		return nil, wire.Invalid("caller_name", wire.RuleText(2, 32))
	}
	data, err := callData(r, h.Length)
	if err != nil {
		return nil, err
	}
	me, err := s.party(ctx, h.UUID)
	if err != nil {
		return nil, err
	}
	if s.cfg.AIURL == "" {
		return nil, wire.Errorf(wire.ServiceUnavailable, "no AI service configured")
	}
	if !me.InUse() {
		return nil, store.ErrCallerNotInUse
	}
	// Checked before the service is bothered; the store checks again when
	// it stores the call.
	if bal, err := s.callStore.Balance(ctx, me.Number); err != nil {
		return nil, err
	} else if bal <= 0 {
		return nil, store.ErrNoBalance
	}
	name := me.Name
	if h.CallerName != nil {
		name = *h.CallerName
	}
	id := newCallID()
	answer, err := s.aiStart(ctx, aiRequest{Event: "call", CallID: id, Caller: me.Number, CallerName: name, Data: data})
	if err != nil {
		return nil, wire.Wrap(wire.ServiceUnavailable, err, "AI service")
	}
	hash, _ := hashUUID(*h.UUID)
	now := s.clock.Now()
	c, err := s.callStore.CreateCall(ctx, store.NewCall{ID: id, CallerHash: hash, CallerName: name, Offer: data,
		Now: now, MaxLength: s.cfg.MaxCallLength, AnswerData: answer})
	if err != nil {
		// The service thinks a call began; tell it that it did not.
		s.aiHangup(store.Call{ID: id, AI: true})
		return nil, err
	}
	s.kickCallTimer()
	return &wire.DataAnswer{Head: aicallAnswer{Answer: wire.OK, CallID: c.ID, Length: int64(len(answer))},
		Length: int64(len(answer)), Data: bytes.NewReader(answer)}, nil
}

// aiStart posts the start of a call and returns the service's answer.
func (s *Server) aiStart(ctx context.Context, req aiRequest) ([]byte, error) {
	body, err := s.aiPost(ctx, req)
	if err != nil {
		return nil, err
	}
	var a aiAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("malformed answer: %w", err)
	}
	if len(a.Data) > maxCallData {
		return nil, fmt.Errorf("answer of %d bytes", len(a.Data))
	}
	return a.Data, nil
}

// aiHangup tells the service a call ended; failures are only logged, the
// call has ended whatever the service says.
func (s *Server) aiHangup(c store.Call) {
	if s.cfg.AIURL == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AITimeout)
	defer cancel()
	secs := c.Charged
	if _, err := s.aiPost(ctx, aiRequest{Event: "hangup", CallID: c.ID, Seconds: &secs}); err != nil {
		s.log.Warn("telling the AI service of a hangup", "callid", c.ID, "err", err)
	}
}

func (s *Server) aiPost(ctx context.Context, req aiRequest) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.AIURL, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if s.cfg.AIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+s.cfg.AIKey)
	}
	resp, err := s.calls.ai.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// base64 of 64 KiB and some JSON around it.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 2*maxCallData))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return body, nil
}

// balance answers the number's AI-call balance in seconds.
func (s *Server) balance(ctx context.Context, r *wire.Request) (any, error) {
	var h callHead
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
	bal, err := s.callStore.Balance(ctx, me.Number)
	if err != nil {
		return nil, err
	}
	return balanceAnswer{Answer: wire.OK, Balance: bal}, nil
}
