package client

import (
	"encoding/json"
	"time"
)

// The requests' JSON fields, named as on the wire. The "req" field is not
// part of these structs: each method sets it, so a struct cannot be sent as
// the wrong request. Neither is "length": it is the length the caller passes
// with the data, so the two cannot disagree.
//
// Every answer struct has Raw, the answer's JSON as the server sent it, for
// callers that print it (ringctl -json) or need a field this package does
// not know yet.

// ProgressFunc is told how many of total bytes of data have been sent or
// received. It is called from the goroutine moving the data, so it should
// return quickly.
type ProgressFunc func(done, total int64)

// MissedCallURI is the uri of a missed-call notice (seed).
const MissedCallURI = "missed.call"

// Message states, as answered by Status.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
)

// Call states and end reasons, as answered by CallInfo.
const (
	CallRinging  = "ringing"
	CallAnswered = "answered"
	CallEnded    = "ended"

	ReasonCancelled = "cancelled"
	ReasonDeclined  = "declined"
	ReasonTimeout   = "timeout"
	ReasonHangup    = "hangup"
)

// Ack is the answer of a request that returns nothing but success.
type Ack struct {
	Raw json.RawMessage `json:"-"`
}

// RegisterRequest asks for a number: a random free one when Number is empty.
type RegisterRequest struct {
	Number string `json:"number,omitempty"`
	// Auth is the registration key, needed when the server has one.
	Auth string `json:"auth,omitempty"`
}

// RegisterResponse holds the new number and its uuid, the number's secret.
type RegisterResponse struct {
	Number string          `json:"number"`
	UUID   string          `json:"uuid"`
	Raw    json.RawMessage `json:"-"`
}

// LoginRequest binds the numbers whose uuids are listed to the device named
// by Token, unbinding whatever the token had before. An empty UUIDs logs the
// device out.
type LoginRequest struct {
	AppID  string   `json:"appid"`  // 2-32 characters
	Build  string   `json:"build"`  // 2-16 characters
	Name   string   `json:"name"`   // 2-32 characters; becomes every bound number's display name
	Locale string   `json:"locale"` // 2-6 characters, e.g. "en_US"
	Token  string   `json:"token"`  // 8-228 characters: the push token
	UUIDs  []string `json:"uuid"`   // sent as [] when empty, never null
}

// LoginResponse lists the bound numbers in the order of the request's uuids.
type LoginResponse struct {
	Numbers []string        `json:"numbers"`
	Raw     json.RawMessage `json:"-"`
}

// SendRequest sends one message; its data is passed to Send beside it.
type SendRequest struct {
	UUID   string `json:"uuid"` // the sender's
	Callee string `json:"callee"`
	// CallerName overrides the sender's stored display name (2-32).
	CallerName string `json:"caller_name,omitempty"`
	// Fname makes the data a file with this name (2-100); without it the
	// data must be non-empty UTF-8 text.
	Fname string `json:"fname,omitempty"`
	// CID is the caller's id for this message (1-64). A send repeated with
	// the same CID answers the first answer again and stores nothing, so a
	// send that failed in transit can be retried safely.
	CID string `json:"cid,omitempty"`

	Progress ProgressFunc `json:"-"` // optional, for the upload
}

// SendResponse is a stored (durable) message.
type SendResponse struct {
	MsgID string          `json:"msgid"`
	Time  int64           `json:"time"` // Unix seconds
	Raw   json.RawMessage `json:"-"`
}

// SendsRequest sends one message to several numbers; the data is stored once.
type SendsRequest struct {
	UUID       string   `json:"uuid"`
	Callees    []string `json:"callees"`
	CallerName string   `json:"caller_name,omitempty"`
	Fname      string   `json:"fname,omitempty"`
	CID        string   `json:"cid,omitempty"`

	Progress ProgressFunc `json:"-"`
}

// SendsResponse maps each callee that was in use to its message's msgid;
// Failed lists the callees that were not.
type SendsResponse struct {
	Time   int64             `json:"time"`
	MsgIDs map[string]string `json:"msgids"`
	Failed []string          `json:"failed,omitempty"`
	Raw    json.RawMessage   `json:"-"`
}

// GetRequest takes the not-yet-delivered messages of the listed numbers.
type GetRequest struct {
	UUIDs []string `json:"uuid"`
	// After (Unix seconds) limits the answer to messages newer than it; the
	// server never returns anything older than one day anyway.
	After int64 `json:"after,omitempty"`
	// Wait, in seconds, asks the server to hold the answer until a message
	// arrives or the time is up (long poll). A server that does not know it
	// ignores it and answers at once.
	Wait int `json:"wait,omitempty"`
}

// HistoryRequest lists every message of the window whatever its state, and
// marks nothing.
type HistoryRequest struct {
	UUIDs []string `json:"uuid"`
	After int64    `json:"after,omitempty"`
	// AfterMsgID pages: only messages after this msgid. Since history marks
	// nothing, asking again with the last msgid got is how to read past
	// an answer whose More is true.
	AfterMsgID string `json:"after_msgid,omitempty"`
}

// Messages is the answer of get and history, oldest first. More is true when
// the server held some back (at most max-get per answer).
type Messages struct {
	Messages []Message       `json:"messages"`
	More     bool            `json:"more"`
	Raw      json.RawMessage `json:"-"`
}

// Message is one message as listed by get and history.
type Message struct {
	MsgID      string `json:"msgid"`
	Caller     string `json:"caller"`
	CallerName string `json:"caller_name"`
	Callee     string `json:"callee"`
	Time       int64  `json:"time"`   // Unix seconds when stored
	URI        string `json:"uri"`    // stored data's name, shared by one sends; MissedCallURI for a missed call
	Length     int64  `json:"length"` // bytes of data; 0 for a missed call
	Fname      string `json:"fname,omitempty"`
	// Text is the text itself when it is at most 4096 bytes; a longer text
	// has none and must be fetched.
	Text   string `json:"text,omitempty"`
	CallID string `json:"callid,omitempty"` // for a missed call
	// State is set by history only: StatusSent, StatusDelivered or
	// StatusRead.
	State string `json:"state,omitempty"`
}

// IsMissedCall reports whether m is a missed-call notice.
func (m *Message) IsMissedCall() bool { return m.URI == MissedCallURI }

// IsFile reports whether m carries a file (it has a file name).
func (m *Message) IsFile() bool { return m.Fname != "" }

// NeedsFetch reports whether m's data is not in the listing: a file, or a
// text too long to be inlined.
func (m *Message) NeedsFetch() bool {
	return !m.IsMissedCall() && m.Length > 0 && (m.IsFile() || m.Text == "")
}

// Stored is when the message was stored.
func (m *Message) Stored() time.Time { return time.Unix(m.Time, 0) }

// FetchRequest downloads a message's data, or the range Offset..Offset+Limit
// of it (Limit 0: to the end).
type FetchRequest struct {
	UUID   string `json:"uuid"` // the sender's or the receiver's
	MsgID  string `json:"msgid"`
	Offset int64  `json:"offset,omitempty"`
	Limit  int64  `json:"limit,omitempty"`

	Progress ProgressFunc `json:"-"`
}

// FetchResponse describes the data Fetch wrote: Length bytes of Total.
type FetchResponse struct {
	Length int64           `json:"length"`
	Total  int64           `json:"total"`
	Fname  string          `json:"fname,omitempty"`
	Raw    json.RawMessage `json:"-"`
}

// MsgIDsRequest names messages: the request of read and status.
type MsgIDsRequest struct {
	UUID   string   `json:"uuid"`
	MsgIDs []string `json:"msgid"`
}

// StatusResponse maps each msgid to StatusSent, StatusDelivered or StatusRead.
type StatusResponse struct {
	Status map[string]string `json:"status"`
	Raw    json.RawMessage   `json:"-"`
}

// CallRequest rings Callee; call data (e.g. an SDP offer) is passed beside it.
type CallRequest struct {
	UUID       string `json:"uuid"`
	Callee     string `json:"callee"`
	CallerName string `json:"caller_name,omitempty"`
}

// CallResponse names the new call.
type CallResponse struct {
	CallID string          `json:"callid"`
	Raw    json.RawMessage `json:"-"`
}

// CallRequestID names a call for answer and hangup.
type CallRequestID struct {
	UUID   string `json:"uuid"`
	CallID string `json:"callid"`
}

// HangupResponse is the ended call's state and reason. For an AI call it
// also says how many seconds were charged and the balance left.
type HangupResponse struct {
	State   string          `json:"state"`
	Reason  string          `json:"reason,omitempty"`
	Seconds int64           `json:"seconds,omitempty"`
	Balance int64           `json:"balance,omitempty"`
	Raw     json.RawMessage `json:"-"`
}

// CallInfoRequest asks for a call's state; Wait (at most 30 seconds) holds
// the answer until the state changes.
type CallInfoRequest struct {
	UUID   string `json:"uuid"` // either party's
	CallID string `json:"callid"`
	Wait   int    `json:"wait,omitempty"`
}

// CallInfo is a call's state and the other party's data.
type CallInfo struct {
	CallID     string `json:"callid"`
	Caller     string `json:"caller"`
	CallerName string `json:"caller_name"`
	Callee     string `json:"callee"`
	AI         bool   `json:"ai,omitempty"`     // a call with the AI service (AICall)
	State      string `json:"state"`            // CallRinging, CallAnswered or CallEnded
	Reason     string `json:"reason,omitempty"` // once ended
	// The call's times, Unix seconds; zero until they happen. protocol.md
	// says only "times"; these names are ringd's (internal/server/calls.go).
	Time       int64 `json:"time"`
	AnswerTime int64 `json:"answer_time,omitempty"`
	EndTime    int64 `json:"end_time,omitempty"`
	Length     int64 `json:"length"`

	Data []byte          `json:"-"` // the other party's data
	Raw  json.RawMessage `json:"-"`
}

// AICallRequest starts a call with the AI service; optional data is passed
// beside it.
type AICallRequest struct {
	UUID       string `json:"uuid"`
	CallerName string `json:"caller_name,omitempty"`
}

// AICallResponse names the AI call (end it with Hangup) and carries the
// service's answer.
type AICallResponse struct {
	CallID string          `json:"callid,omitempty"`
	Length int64           `json:"length"`
	Data   []byte          `json:"-"`
	Raw    json.RawMessage `json:"-"`
}

// UUIDRequest is a request that names only the acting number.
type UUIDRequest struct {
	UUID string `json:"uuid"`
}

// BalanceResponse is a number's AI-call balance in seconds.
type BalanceResponse struct {
	Balance int64           `json:"balance"`
	Raw     json.RawMessage `json:"-"`
}

// LinkRequest stores the number's link data (1-1024 characters), once.
type LinkRequest struct {
	UUID string `json:"uuid"`
	Data string `json:"data"`
}

// LinkedResponse holds the number's link data; empty when none is set.
type LinkedResponse struct {
	Data string          `json:"data,omitempty"`
	Raw  json.RawMessage `json:"-"`
}

// ReserveRequest (operator) makes numbers unregistrable.
type ReserveRequest struct {
	Auth    string   `json:"auth"`
	Numbers []string `json:"numbers"`
}

// CreditRequest (operator) adds seconds to a number's balance.
type CreditRequest struct {
	Auth    string `json:"auth"`
	Number  string `json:"number"`
	Seconds int64  `json:"seconds"`
}

// StatsRequest (operator) asks for the server's counts.
type StatsRequest struct {
	Auth string `json:"auth"`
}

// StatsResponse holds the server's counts. protocol.md names what is
// counted but not the fields; these are ringd's names, and Raw holds
// whatever the server sent.
type StatsResponse struct {
	Numbers  int64           `json:"numbers"`
	InUse    int64           `json:"in_use"` // numbers bound to a device
	Devices  int64           `json:"devices"`
	Messages int64           `json:"messages"`
	Calls    int64           `json:"calls"`
	Bytes    int64           `json:"bytes"`
	Raw      json.RawMessage `json:"-"`
}
