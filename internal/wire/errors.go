// Package wire owns ringd's wire format: how a request body is split into its
// JSON and its data, how fields are checked, and how answers and the
// protocol's error codes are written. Every error the API can answer is listed
// here, in one table, with the exact text the seed fixes.
package wire

import (
	"errors"
	"fmt"
)

// Code is a protocol answer code.
type Code int

// The protocol's answer codes (seed). The texts in codeText are part of the
// wire contract: apps compare them byte for byte.
const (
	OK                 Code = 10000
	ServerError        Code = 10001
	FormatError        Code = 10002
	NumberNotAvailable Code = 10003
	UUIDError          Code = 10004
	LinkDataExisted    Code = 10005
	ServerBusy         Code = 10009
	CallerNotInUse     Code = 10010
	CalleeNotInUse     Code = 10011
	CallIDError        Code = 10012
	MsgIDError         Code = 10013
	Debug              Code = 10020
	ServiceUnavailable Code = 10031
	BalanceNotEnough   Code = 10032
	AuthError          Code = 10061
)

var codeText = map[Code]string{
	OK:                 "OK",
	ServerError:        "server error",
	FormatError:        "format error",
	NumberNotAvailable: "number not available",
	UUIDError:          "uuid error",
	LinkDataExisted:    "link data existed",
	ServerBusy:         "server busy, try again",
	CallerNotInUse:     "caller number not in use",
	CalleeNotInUse:     "callee number not in use",
	CallIDError:        "callid error",
	MsgIDError:         "msgid error",
	Debug:              "debug",
	ServiceUnavailable: "service not available",
	BalanceNotEnough:   "balance not enough",
	AuthError:          "auth error",
}

// Text is the seed's English text for c.
func (c Code) Text() string {
	if t, ok := codeText[c]; ok {
		return t
	}
	return codeText[ServerError]
}

// Codes lists every code the API can answer, in numeric order.
func Codes() []Code {
	return []Code{OK, ServerError, FormatError, NumberNotAvailable, UUIDError, LinkDataExisted,
		ServerBusy, CallerNotInUse, CalleeNotInUse, CallIDError, MsgIDError, Debug,
		ServiceUnavailable, BalanceNotEnough, AuthError}
}

// Error is an error answer. It keeps what the client is told apart from what
// is logged, as tailscale's tsweb.HTTPError does: Code, its fixed text and
// Public are the answer; Detail and Err are for the server's log only, so a
// storage error or a parse position never leaks into the protocol.
//
// Public is the answer's "detail": the field and the rule it broke, in plain
// words for a client developer ("callee: a string of 3 to 15 digits"). Every
// 10002 has one. Neither Public nor Detail may hold a secret (a uuid, a
// token, a key), nor Public a Go type name or other internals.
type Error struct {
	Code   Code
	Public string
	Detail string
	Err    error // the cause, for logs and errors.Is
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Code, e.Code.Text())
	if e.Public != "" {
		s += ": " + e.Public
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an error answer with a detail for the log only.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Wrap makes an error answer whose cause is err.
func Wrap(code Code, err error, detail string) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}

// Invalid is the 10002 answer for a field that broke its rule: the client
// is told "field: rule". Use the rules below where they fit, so one rule
// reads the same everywhere.
func Invalid(field, rule string) *Error {
	return &Error{Code: FormatError, Public: field + ": " + rule}
}

// Tell is an answer of code whose detail tells the client public.
func Tell(code Code, public string) *Error {
	return &Error{Code: code, Public: public}
}

// The rules of the request fields, as Public details name them.
const (
	RuleNumber   = "a string of 3 to 15 digits"
	RuleRequired = "required"
	RuleString   = "required, a string"
	RuleUUIDs    = "required, an array of uuid strings"
	RuleMsgIDs   = "required, an array of msgid strings"
	RuleNotNeg   = "a whole number, 0 or more"
)

// RuleText is the rule of a text field of min to max characters
// (Text): printable, counted in Unicode characters.
func RuleText(min, max int) string {
	return fmt.Sprintf("a string of %d to %d printable characters", min, max)
}

// PublicDetail is what the client is told about err besides its code: the
// Public of the outermost *Error in its chain that has one and the same
// code as the answer, so a cause's detail never labels another code's
// answer.
func PublicDetail(err error, code Code) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Code != code {
			return ""
		}
		if e.Public != "" {
			return e.Public
		}
		err = e.Err
	}
	return ""
}

// CodeOf is the answer code for err: the code of a *Error in its chain, or
// ServerError for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ServerError
}

// Invalidf is Invalid with a rule formatted as fmt.Sprintf does.
func Invalidf(field, format string, args ...any) *Error {
	return Invalid(field, fmt.Sprintf(format, args...))
}
