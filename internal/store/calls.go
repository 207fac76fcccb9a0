package store

import (
	"context"
	"errors"
	"time"
)

// Errors of the call, link, balance and operator methods.
var (
	// ErrBadCallID: no such call, or the number is not a party to it.
	ErrBadCallID = errors.New("callid unknown or not yours")
	// ErrCallState: the call's state does not allow the change (answering
	// an answered call, ending an ended one, a timeout that lost to a
	// hangup). The loser of every race gets it.
	ErrCallState = errors.New("call state does not allow this")
	// ErrLinkExists: the number's link data is already set.
	ErrLinkExists = errors.New("link data existed")
	// ErrNoBalance: the number's AI-call balance is zero.
	ErrNoBalance = errors.New("balance not enough")
)

// CallState is where a call is in its life.
type CallState int

// Call states, in the only order a call moves through them.
const (
	Ringing  CallState = 0
	Answered CallState = 1
	Ended    CallState = 2
)

func (s CallState) String() string {
	switch s {
	case Answered:
		return "answered"
	case Ended:
		return "ended"
	}
	return "ringing"
}

// Why a call ended.
const (
	ReasonCancelled = "cancelled" // the caller ended it while it rang
	ReasonDeclined  = "declined"  // the callee ended it while it rang
	ReasonTimeout   = "timeout"   // unanswered in time, or over its length
	ReasonHangup    = "hangup"    // either party ended it once answered
)

// Call is one call. An AI call has no callee: the AI service takes it, it is
// answered from the start, and its length is taken from the caller's balance.
type Call struct {
	ID         string
	Caller     string
	CallerName string
	Callee     string // "" for an AI call
	AI         bool
	State      CallState
	Reason     string // once ended
	Created    time.Time
	Answered   time.Time // zero until answered
	Ended      time.Time // zero until ended
	// Deadline is when the server ends the call itself: the ring timeout
	// while ringing, the maximum length (or, for an AI call, the end of the
	// balance) once answered. Zero once ended.
	Deadline   time.Time
	Offer      []byte // the caller's data
	AnswerData []byte // the callee's (or the AI service's) data
	// Set by EndCall: the missed-call message left for the callee (0 when
	// none), and the seconds taken from an AI call's balance.
	MissedMsgID int64
	Charged     int64
}

// NewCall is what call and aicall store.
type NewCall struct {
	ID         string
	CallerHash UUIDHash
	CallerName string // "" means the caller's stored name
	Callee     string // "" for an AI call
	Offer      []byte
	Now        time.Time
	// RingDeadline is when a ringing call times out. For an AI call,
	// MaxLength bounds the call and AnswerData is the service's answer.
	RingDeadline time.Time
	MaxLength    time.Duration
	AnswerData   []byte
}

// CallEnd asks EndCall to end a call. By is the number ending it; "" when
// the server ends it because its deadline passed, and then only if the
// deadline is at or before Now.
type CallEnd struct {
	ID  string
	By  string
	Now time.Time
}

// EndCallAs turns c, read under the engine's lock, into the call e ends,
// and returns the state it was in, which the engine's compare-and-set
// update names. A call ended by its deadline (e.By "") is charged up to
// that deadline, not to whenever the timer got round to it.
func EndCallAs(c *Call, e CallEnd) (from CallState, err error) {
	if c.Reason, err = EndReason(*c, e); err != nil {
		return 0, err
	}
	from = c.State
	end := e.Now
	if e.By == "" && c.AI {
		end = c.Deadline
	}
	c.State, c.Ended, c.Deadline = Ended, end, time.Time{}
	return from, nil
}

// EndReason is why e ends c, which is not ended yet; ErrBadCallID if e.By
// is not in the call, ErrCallState if the call may not end so.
func EndReason(c Call, e CallEnd) (string, error) {
	if e.By != "" && e.By != c.Caller && (c.AI || e.By != c.Callee) {
		return "", ErrBadCallID
	}
	if c.State == Ended {
		return "", ErrCallState
	}
	if e.By == "" && (c.Deadline.IsZero() || c.Deadline.After(e.Now)) {
		return "", ErrCallState
	}
	switch {
	case e.By == "":
		return ReasonTimeout, nil
	case c.State == Answered:
		return ReasonHangup, nil
	case e.By == c.Caller:
		return ReasonCancelled, nil
	default:
		return ReasonDeclined, nil
	}
}

// Stats are the operator's counts.
type Stats struct {
	Numbers  int64
	InUse    int64
	Devices  int64
	Messages int64
	Calls    int64
	Bytes    int64 // bytes of message data stored
}

// Calls is what the call, AI call, link and operator requests keep. Every
// state change is a compare-and-set made inside the store's write
// transaction, so of two racing changes exactly one applies and the other
// gets ErrCallState.
type Calls interface {
	// CreateCall stores a ringing call (or, with an empty Callee, an
	// answered AI call). ErrUnknownUUID, ErrCallerNotInUse,
	// ErrCalleeNotInUse (callee unregistered or not in use), or for an AI
	// call ErrNoBalance.
	CreateCall(ctx context.Context, c NewCall) (Call, error)
	// Call returns a call by id; ErrBadCallID if there is none.
	Call(ctx context.Context, id string) (Call, error)
	// AnswerCall moves a ringing call to answered, storing the callee's
	// data; its deadline becomes now+maxLength. ErrBadCallID if number is
	// not the callee; ErrCallState if the call is not ringing.
	AnswerCall(ctx context.Context, id, number string, data []byte, now time.Time, maxLength time.Duration) (Call, error)
	// EndCall ends a call, choosing the reason from its state and who ends
	// it. A ringing call that is cancelled or times out leaves the callee a
	// missed-call message in the same transaction; an AI call's elapsed
	// seconds, rounded up, are taken from the caller's balance.
	// ErrBadCallID if e.By is not a party; ErrCallState if the call has
	// ended or (for the server) its deadline has not come.
	EndCall(ctx context.Context, e CallEnd) (Call, error)
	// NextDeadline is the earliest deadline of a call not ended; ok is
	// false when there is none.
	NextDeadline(ctx context.Context) (t time.Time, ok bool, err error)
	// DueCalls returns the ids of calls not ended whose deadline is at or
	// before now.
	DueCalls(ctx context.Context, now time.Time) ([]string, error)
	// ExpireCalls deletes ended calls that ended before before.
	ExpireCalls(ctx context.Context, before time.Time) error

	// Balance is a number's AI-call balance in seconds.
	Balance(ctx context.Context, number string) (int64, error)
	// Credit adds seconds to a registered number's balance and returns the
	// new balance; ErrNotFound if the number is not registered.
	Credit(ctx context.Context, number string, seconds int64) (int64, error)

	// SetLink stores a number's link data, once; ErrLinkExists after.
	SetLink(ctx context.Context, number, data string) error
	// Link returns a number's link data; ok is false when none is set.
	Link(ctx context.Context, number string) (data string, ok bool, err error)

	// Reserve makes numbers unregistrable; numbers already registered stay
	// with their owners.
	Reserve(ctx context.Context, numbers []string) error
	// Stats counts what the store holds.
	Stats(ctx context.Context) (Stats, error)
}
