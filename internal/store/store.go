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
	// Text holds a text's data when it is inline (small enough to be kept in
	// the database); get returns it so no fetch is needed.
	Text *string
	// InArena says the message holds its own data in the blob arena, at
	// ArenaOff (Length bytes): a file or long text sent to one number has
	// no blob record. Otherwise its data is the blob record of URI.
	InArena  bool
	ArenaOff int64
	// Rendered is what its send came with, when the store hands it back
	// (TakeUndelivered, from memory); nil otherwise.
	Rendered *Rendered
}

// Rendered is what the server made of a send's messages for its own
// answers, opaque to the store: a get of them need not encode them again.
// The store keeps Form with the messages it holds in memory and hands it
// back in Message.Rendered, but only on messages stored as it was made:
// from Caller, named CallerName, with the text of the send's Blob.Inline
// (none for a file).
type Rendered struct {
	Caller, CallerName string
	Form               any
	Size               int // about the bytes Form holds, for the store's bounds
}

// Blob describes a message's data. Data of at most InlineMax bytes is kept in
// the database (Inline non-nil) so that small messages cost no file and no
// extra fsync; larger data lives in the blob arena at ArenaOff (InArena),
// or, when larger still, in the blob store under the same hash.
type Blob struct {
	Hash   string // hex SHA-256; the messages' uri
	Length int64
	Inline []byte
	// InArena says the data is in the blob arena (blob.Arena) at ArenaOff;
	// the database is the arena's index.
	InArena  bool
	ArenaOff int64
}

// InlineMax is the largest data kept inline in the database.
const InlineMax = 4096

// NewMessages is what send and sends store: one data, several callees.
type NewMessages struct {
	SenderHash UUIDHash
	CallerName string // "" means the sender's stored name
	Callees    []string
	Fname      string
	Blob       Blob
	CID        string // client's id for idempotent retries; "" for none
	Now        time.Time
	// Preview is the body of the push each callee's device gets: the
	// text's first store.PreviewChars characters. "" means the file name,
	// or the preview of Blob.Inline for a text.
	Preview string
	// Rendered, if set, is handed back on the messages (see Rendered).
	Rendered *Rendered
}

// InRow reports whether Send keeps m's data in its message row rather than
// in a blob record: a text to one number (Inline), or data in the arena to
// one number. The uri of a text is its SHA-256; that of data in the arena
// kept in its row is unique to it (server, storeInArena).
func (m *NewMessages) InRow() bool {
	return len(m.Callees) == 1 && (m.Blob.InArena || (m.Fname == "" && m.Blob.Inline != nil))
}

// SendResult is the outcome of a send: a msgid per callee that got the
// message, and the callees that were not in use.
type SendResult struct {
	Time   int64
	MsgIDs map[string]int64 // callee → message id
	Failed []string
	// Replayed is true when CID matched an earlier send, whose result this is.
	Replayed bool
	// BlobExisted is true when the data's blob record was already there (the
	// same data, stored before): the send's own copy of it, such as its
	// arena extent, is referenced by nothing.
	BlobExisted bool
}

// Expired is what ExpireMessages deleted that the caller may have to free.
type Expired struct {
	// URIs are the distinct uris of blob records deleted messages
	// referred to: DropBlobs deletes those no message refers to any more.
	URIs []string
	// Arena are the extents deleted messages held themselves (Message.
	// InArena), as Blobs with InArena set: nothing else refers to them.
	Arena []Blob
}

// GetQuery selects undelivered (or, for history, all) messages to numbers.
type GetQuery struct {
	Callees []string
	After   int64 // only messages with Time > After
	AfterID int64 // only messages with ID > AfterID (history paging)
	Limit   int
	// Into, if it has room, is where TakeUndelivered may put the messages
	// it returns (its caller's buffer, reused from get to get).
	Into []Message
}

// Store is everything ringd keeps.
type Store interface {
	// Calls keeps calls, AI-call balances, link data and reservations
	// (calls.go).
	Calls

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

	// Send stores one message per callee that is in use, all pointing at
	// one blob record; except that data in the arena (Blob.InArena) sent
	// to one callee stays with its message (Message.InArena), with no blob
	// record (see InRow). ErrUnknownUUID, ErrCallerNotInUse, or
	// ErrCalleeNotInUse when no callee is in use; then nothing is stored.
	// When CID repeats an earlier send of the sender within the retention
	// window, the earlier result is returned and nothing is stored.
	Send(ctx context.Context, m NewMessages) (SendResult, error)
	// TakeUndelivered returns the oldest undelivered messages matching q
	// (at most q.Limit) and marks them delivered in the same transaction;
	// more reports whether others are left.
	TakeUndelivered(ctx context.Context, q GetQuery) (msgs []Message, more bool, err error)
	// History returns messages matching q whatever their state, marking
	// nothing.
	History(ctx context.Context, q GetQuery) (msgs []Message, more bool, err error)
	// Message returns a live message by id; ErrBadMsgID if there is none.
	Message(ctx context.Context, id int64) (Message, error)
	// Blob returns the blob record of a hash; ErrNotFound if none.
	Blob(ctx context.Context, hash string) (Blob, error)
	// MarkRead marks messages to one of callees as read. ErrBadMsgID, and
	// nothing changes, if any id is not a live message to them.
	MarkRead(ctx context.Context, callees []string, ids []int64) error
	// States returns the state of messages sent by caller. ErrBadMsgID if
	// any id is not a live message from caller.
	States(ctx context.Context, caller string, ids []int64) ([]State, error)

	// ExpireMessages deletes messages and idempotency records older than
	// before, and returns the distinct uris of the blob records the deleted
	// messages referred to (the candidates for DropBlobs) and the arena
	// extents the deleted messages held themselves, for the caller to free:
	// the deletes are durable when it returns. On an error it still returns
	// what the part that committed deleted.
	ExpireMessages(ctx context.Context, before time.Time) (Expired, error)
	// DropBlobs deletes the blob records among hashes that no message refers
	// to, and returns those whose data lives outside the database (in the
	// arena or the blob store), for the caller to free once this returns:
	// the deletes are then durable.
	DropBlobs(ctx context.Context, hashes []string) (external []Blob, err error)
	// HasBlob reports whether a blob record exists for hash.
	HasBlob(ctx context.Context, hash string) (bool, error)
	// ArenaInUse reports whether a committed record holds the arena extent
	// at off for the data of hash: its blob record, or a message stored at
	// sent (NewMessages.Now) that holds its own data. A failed send asks
	// before it frees its extent: its commit may have taken effect.
	ArenaInUse(ctx context.Context, hash string, off int64, sent time.Time) (bool, error)
	// Close releases the store.
	Close() error
}
