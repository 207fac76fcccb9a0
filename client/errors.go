package client

import (
	"encoding/json"
	"fmt"
	"time"
)

// The protocol's answer codes. OK is success; every other code is returned
// as an *Error. The numbers and their texts are fixed by the seed.
const (
	OK                  = 10000
	ServerError         = 10001
	FormatError         = 10002
	NumberNotAvailable  = 10003
	UUIDError           = 10004
	LinkDataExisted     = 10005
	ServerBusy          = 10009
	CallerNotInUse      = 10010
	CalleeNotInUse      = 10011
	CallIDError         = 10012
	MsgIDError          = 10013
	Debug               = 10020
	ServiceNotAvailable = 10031
	BalanceNotEnough    = 10032
	AuthError           = 10061
)

// Sentinel errors, one per code, for errors.Is:
//
//	if errors.Is(err, client.ErrServerBusy) { ... }
//
// An *Error matches a sentinel when their codes are equal, whatever the text.
var (
	ErrServer              = &Error{Code: ServerError, Text: "server error"}
	ErrFormat              = &Error{Code: FormatError, Text: "format error"}
	ErrNumberNotAvailable  = &Error{Code: NumberNotAvailable, Text: "number not available"}
	ErrUUID                = &Error{Code: UUIDError, Text: "uuid error"}
	ErrLinkDataExisted     = &Error{Code: LinkDataExisted, Text: "link data existed"}
	ErrServerBusy          = &Error{Code: ServerBusy, Text: "server busy, try again"}
	ErrCallerNotInUse      = &Error{Code: CallerNotInUse, Text: "caller number not in use"}
	ErrCalleeNotInUse      = &Error{Code: CalleeNotInUse, Text: "callee number not in use"}
	ErrCallID              = &Error{Code: CallIDError, Text: "callid error"}
	ErrMsgID               = &Error{Code: MsgIDError, Text: "msgid error"}
	ErrDebug               = &Error{Code: Debug, Text: "debug"}
	ErrServiceNotAvailable = &Error{Code: ServiceNotAvailable, Text: "service not available"}
	ErrBalanceNotEnough    = &Error{Code: BalanceNotEnough, Text: "balance not enough"}
	ErrAuth                = &Error{Code: AuthError, Text: "auth error"}
)

// Error is an error answer from the server: {"answer":Code,"error":Text},
// with an optional "detail" that says which part of the request was wrong.
// Transport failures (no connection, a body that is not a protocol answer)
// are ordinary errors, not *Error, so a caller can tell "the server said no"
// from "the server could not be asked".
type Error struct {
	Code int    // the answer code, e.g. 10004
	Text string // the server's "error" text, e.g. "uuid error"
	// Detail is the server's optional "detail" text, e.g. which field was
	// wrong; empty when the answer has none. It is for people to read: code
	// decides on Code.
	Detail string

	// RetryAfter is the server's Retry-After for 10009 (server busy), zero
	// when it sent none.
	RetryAfter time.Duration
	// Raw is the whole JSON answer. For 10020 (debug) it holds the server's
	// version and the echoed request.
	Raw json.RawMessage
}

// Error is the seed's text and code, then the detail when there is one:
// "format error (10002): callee: a string of 3 to 15 digits".
func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s (%d): %s", e.Text, e.Code, e.Detail)
	}
	return fmt.Sprintf("%s (%d)", e.Text, e.Code)
}

// Is reports whether target is an *Error with the same code, so errors.Is
// works against the sentinels or any &Error{Code: ...}.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}
