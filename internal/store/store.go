// Package store defines what ringd keeps: numbers and the devices they are
// bound to, messages and their receipts, and the records of the data those
// messages carry. The interface is the contract between the protocol handlers
// and a storage engine; sqlite/ is the embedded engine, and a PostgreSQL one
// implements the same interface for several stateless nodes.
//
// Every method that changes something is atomic: it applies whole or not at
// all, and returns only once the change is durable.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors a Store returns. The server maps each to its protocol code.
var (
	ErrNotFound       = errors.New("not found")
	ErrTaken          = errors.New("number taken")
	ErrReserved       = errors.New("number reserved")
	ErrUnknownUUID    = errors.New("unknown uuid")
	ErrCallerNotInUse = errors.New("caller not in use")
	ErrCalleeNotInUse = errors.New("callee not in use")
	ErrBadMsgID       = errors.New("msgid unknown, expired or not yours")
	// ErrBusy means the store could not take the request within its wait;
	// the client should retry (10009).
	ErrBusy = errors.New("store busy")
	// ErrDiskFull is a write that failed for lack of space on the disk.
	ErrDiskFull = errors.New("disk full")
)

// UUIDHash is the SHA-256 of a uuid's canonical text. Only hashes are stored.
type UUIDHash [32]byte

// Number is a registered number.
type Number struct {
	Number string
	Name   string // display name, set by login
	Token  string // push token of the bound device; "" when not in use
	Device *Device
}

// InUse reports whether the number is bound to a device.
func (n *Number) InUse() bool { return n.Token != "" }

// Device is a phone or other client, identified by its push token.
type Device struct {
	Token  string
	AppID  string
	Build  string
	Name   string
	Locale string
}

// State is a message's delivery state.
type State int

// Message states, in the order a message moves through them.
const (
	Sent      State = 0
	Delivered State = 1
	Read      State = 2
)

func (s State) String() string {
	switch s {
	case Delivered:
		return "delivered"
	case Read:
		return "read"
	}
	return "sent"
}

// MissedCallURI is the uri of a missed-call notice (seed).
const MissedCallURI = "missed.call"

// Message is one message to one callee.
type Message struct {
	ID         int64
	Caller     string
	CallerName string
	Callee     string
	Time       int64 // Unix seconds
	URI        string
	Length     int64
	Fname      string // "" for a text
	CallID     string // set on a missed-call notice
	State      State
	// Text holds a text's bytes (no Fname) of at most TextMax bytes: get
	// answers it with the message, so no fetch is needed.
	Text *string
	// Data says where the message's bytes are, for OpenData; only the
	// engine that made it reads it, and it may be empty.
	Data DataRef
}

// DataRef is an engine's own reference to a message's data: a file name,
// an object key, an offset. Nothing above the engine looks inside it.
type DataRef string

// TextMax is the largest text whose bytes come with its message (Message.
// Text, get's "text") and whose uri is its SHA-256.
const TextMax = 4096

// NewMessages is what send and sends store: one data, several callees.
//
// A message's uri (docs/API.md) is the hex SHA-256 of its data for a text
// (no Fname) of at most TextMax bytes, so the same text is stored once;
// any other data gets a random name of 64 hex digits, the same for every
// message of the one send. The engine names the data, and decides where
// its bytes live.
type NewMessages struct {
	SenderHash UUIDHash
	CallerName string // "" means the sender's stored name
	Callees    []string
	Fname      string
	// Data yields exactly Length bytes: Send reads it once, before it
	// commits. An error reading it fails the send, and Send returns it
	// wrapped (errors.Is finds it).
	Data   io.Reader
	Length int64
	CID    string // client's id for idempotent retries; "" for none
	Now    time.Time
}

// SendResult is the outcome of a send: a msgid per callee that got the
// message, and the callees that were not in use.
type SendResult struct {
	Time   int64
	MsgIDs map[string]int64 // callee → message id
	Failed []string
	// Replayed is true when CID matched an earlier send, whose result this is.
	Replayed bool
}

// GetQuery selects undelivered (or, for history, all) messages to numbers.
type GetQuery struct {
	Callees []string
	After   int64 // only messages with Time > After
	AfterID int64 // only messages with ID > AfterID (history paging)
	Limit   int
}

// Identities are the numbers and the devices they are bound to: what
// register and login change, and what every request resolves its uuids by.
type Identities interface {
	// Register makes number with the given uuid hash. ErrTaken or
	// ErrReserved when the number cannot be had.
	Register(ctx context.Context, number string, uuid UUIDHash, now time.Time) error
	// NumbersByUUID resolves uuid hashes, in order. ErrUnknownUUID if any is
	// unknown.
	NumbersByUUID(ctx context.Context, uuids []UUIDHash) ([]Number, error)
	// Number looks a number up by its digits; ErrNotFound if unregistered.
	Number(ctx context.Context, number string) (Number, error)
	// Login, in one transaction, unbinds every number bound to dev.Token,
	// binds each uuid's number to it (moving it off any other device), stores
	// the device, and sets the display name of every number bound to
	// dev.Name. With no uuids it only unbinds (logout) and forgets the
	// device. ErrUnknownUUID, changing nothing, if any uuid is unknown.
	Login(ctx context.Context, dev Device, uuids []UUIDHash, now time.Time) ([]string, error)
}

// Messages are the messages and their receipts.
type Messages interface {
	// Send reads m.Data, stores it once, and stores one message per callee
	// that is in use, all with the data. ErrUnknownUUID, ErrCallerNotInUse,
	// or ErrCalleeNotInUse when no callee is in use; then nothing is
	// stored. When CID repeats an earlier send of the sender within the
	// retention window, the earlier result is returned and nothing is
	// stored. ErrDiskFull when there is no room for the data.
	Send(ctx context.Context, m NewMessages) (SendResult, error)
	// TakeUndelivered appends to dst the oldest undelivered messages
	// matching q (at most q.Limit) and marks them delivered in the same
	// transaction; more reports whether others are left. What it returns
	// may share dst's array.
	TakeUndelivered(ctx context.Context, q GetQuery, dst []Message) (msgs []Message, more bool, err error)
	// History returns messages matching q whatever their state, marking
	// nothing.
	History(ctx context.Context, q GetQuery) (msgs []Message, more bool, err error)
	// Message returns a live message by id; ErrBadMsgID if there is none.
	Message(ctx context.Context, id int64) (Message, error)
	// MarkRead marks messages to one of callees as read. ErrBadMsgID, and
	// nothing changes, if any id is not a live message to them.
	MarkRead(ctx context.Context, callees []string, ids []int64) error
	// States returns the state of messages sent by caller. ErrBadMsgID if
	// any id is not a live message from caller.
	States(ctx context.Context, caller string, ids []int64) ([]State, error)
}

// Data reads what messages carry.
type Data interface {
	// OpenData returns a reader of n bytes of m's data from offset (offset
	// + n at most m.Length), m as Send, TakeUndelivered, History or
	// Message returned it. ErrBadMsgID if the message or its data is gone
	// (expired) by now: a reader it returns yields m's bytes, even if the
	// message expires while it reads.
	OpenData(ctx context.Context, m Message, offset, n int64) (io.ReadCloser, error)
}

// Retention forgets what is older than the retention window.
type Retention interface {
	// Expire deletes the messages and the idempotency records (cids)
	// stored before before, and the data no message refers to any more.
	// Data a send is storing is never deleted under it, even by another
	// process sharing the store: data whose last use is younger than the
	// engine's grace is kept.
	Expire(ctx context.Context, before time.Time) error
}

// Store is everything ringd keeps.
type Store interface {
	Identities
	Messages
	Data
	Retention
	// Calls keeps calls, AI-call balances, link data and reservations
	// (calls.go).
	Calls
	// Close releases the store.
	Close() error
}

// Metric is a figure an engine keeps about its own work, for /metrics: a
// counter, or a gauge when Gauge is set. Value is read at each scrape.
type Metric struct {
	Name, Help string
	Gauge      bool
	Value      func() float64
}

// Instrumented is an engine that shows figures of its own work (commits,
// syncs, the space its data takes) on the server's /metrics.
type Instrumented interface {
	Metrics() []Metric
}
