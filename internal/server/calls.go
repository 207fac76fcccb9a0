package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// CallConfig configures calls, AI calls and the numbers kept from
// registration.
type CallConfig struct {
	// MaxCallLength ends an answered call that is never hung up; default 4h.
	MaxCallLength time.Duration
	// AIURL is the AI call service's endpoint; "" means none (aicall 10031).
	AIURL string
	// AIKey is sent to the AI service as "Authorization: Bearer <key>".
	AIKey string
	// AITimeout bounds each request to the AI service; default 10s.
	AITimeout time.Duration
	// Reserved lists numbers and patterns that can never be registered
	// (admin.go says the patterns), besides those the reserve request adds.
	Reserved []string
}

// Defaults of CallConfig.
const (
	DefaultMaxCallLength = 4 * time.Hour
	DefaultAITimeout     = 10 * time.Second
	// maxCallData bounds the opaque data of a call, an answer or an AI call.
	maxCallData = 64 << 10
	// maxWait bounds the wait of callinfo and get, in seconds.
	maxWait = 30
	// maxTimerSleep is the longest the call timer sleeps while calls are
	// pending, so that a clock that jumps (or a test's clock) is noticed.
	maxTimerSleep = time.Second
)

func (c *CallConfig) setDefaults() {
	if c.MaxCallLength <= 0 {
		c.MaxCallLength = DefaultMaxCallLength
	}
	if c.AITimeout <= 0 {
		c.AITimeout = DefaultAITimeout
	}
}

// calls is the server's call machinery.
type calls struct {
	ai *http.Client
}

func (s *Server) initCalls() {
	s.calls.ai = &http.Client{Timeout: s.cfg.AITimeout}
	for name, h := range map[string]handler{
		"call":     s.call,
		"callinfo": s.callinfo,
		"answer":   s.answer,
		"hangup":   s.hangup,
		"aicall":   s.aicall,
		"balance":  s.balance,
		"link":     s.link,
		"linked":   s.linked,
		"reserve":  s.reserve,
		"credit":   s.credit,
		"stats":    s.stats,
	} {
		s.handlers[name] = h
	}
	if s.cfg.Debug {
		// Without -debug, debug stays an unknown request (10002).
		s.handlers["debug"] = s.debug
	}
}

type callHead struct {
	UUID       *string `json:"uuid"`
	Callee     *string `json:"callee"`
	CallerName *string `json:"caller_name"`
	CallID     *string `json:"callid"`
	Length     *int64  `json:"length"`
	Wait       *int64  `json:"wait"`
}

type callAnswer struct {
	Answer wire.Code `json:"answer"`
	CallID string    `json:"callid"`
}

type hangupAnswer struct {
	Answer wire.Code `json:"answer"`
	State  string    `json:"state"`
	Reason string    `json:"reason"`
	// An AI call's charged seconds and the balance left.
	Seconds *int64 `json:"seconds,omitempty"`
	Balance *int64 `json:"balance,omitempty"`
}

type callInfoAnswer struct {
	Answer     wire.Code `json:"answer"`
	CallID     string    `json:"callid"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name"`
	Callee     string    `json:"callee"`
	AI         bool      `json:"ai,omitempty"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Time       int64     `json:"time"`
	AnswerTime int64     `json:"answer_time,omitempty"`
	EndTime    int64     `json:"end_time,omitempty"`
	Length     int64     `json:"length"`
}

// newCallID is 128 random bits in hex: unguessable, though a callid alone
// grants nothing without a party's uuid.
func newCallID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkCallID: a callid that cannot be one is 10012, like an unknown one.
func checkCallID(id *string) (string, error) {
	if id == nil {
		return "", wire.Errorf(wire.FormatError, "callid")
	}
	if len(*id) != 32 {
		return "", wire.Errorf(wire.CallIDError, "malformed callid")
	}
	if _, err := hex.DecodeString(*id); err != nil {
		return "", wire.Errorf(wire.CallIDError, "malformed callid")
	}
	return *id, nil
}

// callData reads a call's optional data: at most maxCallData bytes, exactly
// length of them. A NUL without length, or a length without its data, is
// 10002.
func callData(r *wire.Request, length *int64) ([]byte, error) {
	if length == nil {
		if r.HasData {
			return nil, wire.Errorf(wire.FormatError, "data without length")
		}
		return nil, nil
	}
	if *length < 0 || *length > maxCallData {
		return nil, wire.Errorf(wire.FormatError, "call data length %d", *length)
	}
	b, err := io.ReadAll(r.Data(*length))
	if err != nil {
		return nil, wire.Wrap(wire.FormatError, err, "call data")
	}
	return b, nil
}

// waitOf checks a wait field: 0 to 30 seconds; more is held to 30.
func waitOf(w *int64) (time.Duration, error) {
	if w == nil {
		return 0, nil
	}
	if *w < 0 {
		return 0, wire.Errorf(wire.FormatError, "wait")
	}
	return time.Duration(min(*w, maxWait)) * time.Second, nil
}

// party resolves the acting number's uuid (10002 missing, 10004 bad).
func (s *Server) party(ctx context.Context, uuid *string) (store.Number, error) {
	if uuid == nil {
		return store.Number{}, wire.Errorf(wire.FormatError, "uuid")
	}
	hash, err := hashUUID(*uuid)
	if err != nil {
		return store.Number{}, err
	}
	n, err := s.ids.NumbersByUUID(ctx, []store.UUIDHash{hash})
	if err != nil {
		return store.Number{}, err
	}
	return n[0], nil
}

// call rings the callee: a ringing call that ends by itself after the ring
// timeout. The VoIP push is queued in the call's own transaction.
func (s *Server) call(ctx context.Context, r *wire.Request) (any, error) {
	var h callHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	switch {
	case h.UUID == nil:
		return nil, wire.Errorf(wire.FormatError, "uuid")
	case h.Callee == nil || !wire.IsNumber(*h.Callee):
		return nil, wire.Errorf(wire.FormatError, "callee")
	case h.CallerName != nil && !wire.Text(*h.CallerName, 2, 32):
		return nil, wire.Errorf(wire.FormatError, "caller_name")
	}
	data, err := callData(r, h.Length)
	if err != nil {
		return nil, err
	}
	hash, err := hashUUID(*h.UUID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	nc := store.NewCall{ID: newCallID(), CallerHash: hash, Callee: *h.Callee, Offer: data, Now: now,
		RingDeadline: now.Add(s.cfg.RingTimeout)}
	if h.CallerName != nil {
		nc.CallerName = *h.CallerName
	}
	c, err := s.callStore.CreateCall(ctx, nc)
	if err != nil {
		return nil, err
	}
	s.kickCallTimer()
	return callAnswer{Answer: wire.OK, CallID: c.ID}, nil
}

// callinfo answers a call's state and the other party's data; with wait it
// holds the answer until the state changes (or the wait ends, or newer
// long-polls of the number take its place: longpoll.go).
func (s *Server) callinfo(ctx context.Context, r *wire.Request) (any, error) {
	h, id, err := callRef(r, false)
	if err != nil {
		return nil, err
	}
	wait, err := waitOf(h.Wait)
	if err != nil {
		return nil, err
	}
	me, err := s.party(ctx, h.UUID)
	if err != nil {
		return nil, err
	}
	var woke <-chan struct{}
	if wait > 0 {
		var cancel func()
		woke, cancel = s.notifier.Subscribe(notify.Call(id))
		defer cancel()
	}
	c, err := s.callStore.Call(ctx, id)
	if err != nil {
		return nil, err
	}
	if me.Number != c.Caller && me.Number != c.Callee {
		return nil, wire.Errorf(wire.CallIDError, "not a party")
	}
	if wait > 0 && c.State != store.Ended {
		p := s.polls.start(callinfoPollKey(me.Number))
		defer s.polls.done(p)
		first := c.State
		t := time.NewTimer(wait)
		defer t.Stop()
		for c.State == first {
			woken, err := s.await(ctx, woke, p, t)
			if err != nil {
				return nil, err
			}
			if !woken {
				break
			}
			if c, err = s.callStore.Call(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	a := callInfoAnswer{Answer: wire.OK, CallID: c.ID, Caller: c.Caller, CallerName: c.CallerName, Callee: c.Callee,
		AI: c.AI, State: c.State.String(), Reason: c.Reason, Time: c.Created.Unix()}
	if !c.Answered.IsZero() {
		a.AnswerTime = c.Answered.Unix()
	}
	if !c.Ended.IsZero() {
		a.EndTime = c.Ended.Unix()
	}
	other := c.AnswerData // the caller sees the callee's (or AI service's) data
	if me.Number != c.Caller {
		other = c.Offer
	}
	a.Length = int64(len(other))
	return &wire.DataAnswer{Head: a, Length: a.Length, Data: bytes.NewReader(other)}, nil
}

// answer: the callee accepts a ringing call, with optional data.
func (s *Server) answer(ctx context.Context, r *wire.Request) (any, error) {
	h, id, err := callRef(r, true)
	if err != nil {
		return nil, err
	}
	data, err := callData(r, h.Length)
	if err != nil {
		return nil, err
	}
	me, err := s.party(ctx, h.UUID)
	if err != nil {
		return nil, err
	}
	if _, err := s.callStore.AnswerCall(ctx, id, me.Number, data, s.clock.Now(), s.cfg.MaxCallLength); err != nil {
		return nil, err
	}
	s.notifier.Notify(notify.Call(id))
	return wire.Ack{Answer: wire.OK}, nil
}

// hangup: either party ends the call. The store picks the reason from the
// state and who ends it, in the same transaction that ends it.
func (s *Server) hangup(ctx context.Context, r *wire.Request) (any, error) {
	h, id, err := callRef(r, false)
	if err != nil {
		return nil, err
	}
	me, err := s.party(ctx, h.UUID)
	if err != nil {
		return nil, err
	}
	c, err := s.callStore.EndCall(ctx, store.CallEnd{ID: id, By: me.Number, Now: s.clock.Now()})
	if err != nil {
		return nil, err
	}
	s.callEnded(c, true)
	a := hangupAnswer{Answer: wire.OK, State: c.State.String(), Reason: c.Reason}
	if c.AI {
		bal, err := s.callStore.Balance(ctx, c.Caller)
		if err != nil {
			return nil, err
		}
		a.Seconds, a.Balance = &c.Charged, &bal
	}
	return a, nil
}

// callEnded wakes those waiting on the call (and, for a missed call, the
// callee's long-polls) and tells the AI service its call is over. The
// pushes were queued in the ending transaction.
func (s *Server) callEnded(c store.Call, sync bool) {
	s.notifier.Notify(notify.Call(c.ID))
	if c.MissedMsgID != 0 {
		s.notifier.Notify(notify.Messages(c.Callee))
	}
	if c.AI {
		if sync {
			s.aiHangup(c)
		} else {
			go s.aiHangup(c)
		}
	}
}

// kickCallTimer makes the timer look again for the earliest deadline.
func (s *Server) kickCallTimer() {
	s.notifier.Notify(notify.Deadlines)
}

// callTimer ends calls whose deadline has passed: unanswered past the ring
// timeout, answered past the maximum length, AI calls out of balance. The
// deadlines live in the store, so after a restart the timer finds them
// again and a call still ringing ends on time.
func (s *Server) callTimer() {
	defer s.wg.Done()
	ctx := context.Background()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.deadlines:
		}
		s.endDueCalls(ctx)
		next, ok, err := s.callStore.NextDeadline(ctx)
		switch {
		case err != nil:
			s.log.Warn("call timer", "err", err)
			t.Reset(maxTimerSleep)
		case ok:
			d := next.Sub(s.clock.Now())
			t.Reset(max(min(d, maxTimerSleep), 5*time.Millisecond))
		default:
			t.Stop() // nothing pending: sleep until a call is made
		}
	}
}

func (s *Server) endDueCalls(ctx context.Context) {
	now := s.clock.Now()
	ids, err := s.callStore.DueCalls(ctx, now)
	if err != nil {
		s.log.Warn("call timer", "err", err)
		return
	}
	for _, id := range ids {
		c, err := s.callStore.EndCall(ctx, store.CallEnd{ID: id, Now: now})
		if errors.Is(err, store.ErrCallState) {
			continue // a hangup got there first
		}
		if err != nil {
			s.log.Warn("ending call", "callid", id, "err", err)
			continue
		}
		s.callEnded(c, false)
	}
}

// callRef decodes the head of a request about an existing call (callinfo,
// answer, hangup): uuid and callid are required, and data may follow only
// when takesData.
func callRef(r *wire.Request, takesData bool) (callHead, string, error) {
	var h callHead
	if err := r.Decode(&h); err != nil {
		return h, "", err
	}
	if !takesData {
		if err := r.NoData(); err != nil {
			return h, "", err
		}
	}
	if h.UUID == nil {
		return h, "", wire.Errorf(wire.FormatError, "uuid")
	}
	id, err := checkCallID(h.CallID)
	return h, id, err
}
