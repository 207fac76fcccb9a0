package store

import (
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// PushKind says what a push announces; the push package turns each kind
// into its provider's notification.
type PushKind string

// The kinds of push.
const (
	// PushMessage announces a new message (send, sends): an alert.
	PushMessage PushKind = "message"
	// PushCall announces an incoming call: a VoIP push that rings.
	PushCall PushKind = "call"
	// PushCallEnded stops the ringing of a call that ended before it was
	// answered on this device (cancelled, timed out, answered elsewhere).
	PushCallEnded PushKind = "call-ended"
	// PushMissedCall tells of a missed call: an alert.
	PushMissedCall PushKind = "missed-call"
)

// Push is one notification waiting in the outbox. It is written in the same
// transaction as what it announces, so a committed message always has its
// push, and a push never announces something that was rolled back.
type Push struct {
	ID         int64
	Kind       PushKind
	Token      string // the device's push token
	AppID      string // selects the provider
	Caller     string
	CallerName string
	// Body is the alert's text: a message's preview (its first characters,
	// or its file name); empty for calls.
	Body    string
	MsgID   int64  // PushMessage, PushMissedCall (the notice's id)
	CallID  string // the call kinds
	Reason  string // PushCallEnded: cancelled, timeout, answered, ...
	Created time.Time
	// Expires is when the push is no longer worth sending: the dispatcher
	// gives up then (a call's push must not ring after the ring timeout).
	Expires  time.Time
	Due      time.Time // next attempt
	Attempts int       // attempts made so far
	// Login is the login count of the device (Token) when the push was
	// made. Every login takes a count above every earlier one, so a dead
	// token reported for this push unbinds the device only if it has not
	// logged in since (Outbox.UnbindToken), even within the same second.
	Login int64
}

// PreviewChars is how many characters of a text a message push shows.
const PreviewChars = 100

// Preview returns the first PreviewChars characters of text.
func Preview(text string) string {
	n := 0
	for i := range text {
		if n == PreviewChars {
			return text[:i]
		}
		n++
	}
	return text
}

// PreviewMax is the most bytes PreviewChars characters take.
const PreviewMax = PreviewChars * utf8.UTFMax

// PreviewReader passes a message's data through, keeping its first bytes:
// enough for the Preview of a text an engine reads as it stores it.
type PreviewReader struct {
	R    io.Reader
	head []byte
}

func (p *PreviewReader) Read(b []byte) (int, error) {
	n, err := p.R.Read(b)
	if k := min(n, PreviewMax-len(p.head)); k > 0 {
		p.head = append(p.head, b[:k]...)
	}
	return n, err
}

// Preview is the first PreviewChars characters of what was read, dropping
// a character cut off at the end.
func (p *PreviewReader) Preview() string {
	return Preview(strings.ToValidUTF8(string(p.head), ""))
}
