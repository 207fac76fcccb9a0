package server

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

type getHead struct {
	UUID       *wire.Strings `json:"uuid"`
	After      *int64        `json:"after"`
	AfterMsgID *string       `json:"after_msgid"` // history only: page after this msgid
	Wait       *int64        `json:"wait"`        // get only: seconds to hold an empty answer
}

// messageJSON is a message as get and history answer it.
type messageJSON struct {
	MsgID      string  `json:"msgid"`
	Caller     string  `json:"caller"`
	CallerName string  `json:"caller_name"`
	Callee     string  `json:"callee"`
	Time       int64   `json:"time"`
	URI        string  `json:"uri"`
	Length     int64   `json:"length"`
	Fname      string  `json:"fname,omitempty"`
	Text       *string `json:"text,omitempty"`
	CallID     string  `json:"callid,omitempty"`
	State      string  `json:"state,omitempty"` // history only
}

type getAnswer struct {
	Answer   wire.Code     `json:"answer"`
	Messages []messageJSON `json:"messages"`
	More     bool          `json:"more"`
}

// getQuery checks a get or history head and resolves its numbers.
func (s *Server) getQuery(ctx context.Context, r *wire.Request) (store.GetQuery, *getHead, error) {
	var h getHead
	var q store.GetQuery
	if err := r.Decode(&h); err != nil {
		return q, nil, err
	}
	if err := r.NoData(); err != nil {
		return q, nil, err
	}
	if h.UUID == nil || len(*h.UUID) == 0 {
		return q, nil, wire.Invalid("uuid", "required, a non-empty array of uuid strings")
	}
	hashes, err := hashUUIDs(*h.UUID)
	if err != nil {
		return q, nil, err
	}
	if q.Callees, err = s.numbersOf(ctx, hashes); err != nil {
		return q, nil, err
	}
	// Nothing older than one day, whatever after says (seed).
	q.After = s.clock.Now().Add(-getWindow).Unix()
	if h.After != nil && *h.After > q.After {
		q.After = *h.After
	}
	q.Limit = s.cfg.MaxGet
	return q, &h, nil
}

// numbersOf resolves uuid hashes to their distinct numbers, in order,
// through the cache when it knows them all: one read less per get.
func (s *Server) numbersOf(ctx context.Context, hashes []store.UUIDHash) ([]string, error) {
	out := make([]string, 0, len(hashes))
	for _, h := range hashes {
		n, ok := s.numbers.get(h)
		if !ok {
			return s.resolveNumbers(ctx, hashes)
		}
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s *Server) resolveNumbers(ctx context.Context, hashes []store.UUIDHash) ([]string, error) {
	numbers, err := s.ids.NumbersByUUID(ctx, hashes)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(numbers))
	for i, n := range numbers {
		s.numbers.put(hashes[i], n.Number)
		if !contains(out, n.Number) {
			out = append(out, n.Number)
		}
	}
	return out, nil
}

// get returns the undelivered messages of the numbers, marking them
// delivered in the same transaction (seed).
func (s *Server) get(ctx context.Context, r *wire.Request) (any, error) {
	q, h, err := s.getQuery(ctx, r)
	if err != nil {
		return nil, err
	}
	bp, _ := messageBufs.Get().(*[]store.Message)
	if bp == nil {
		bp = new([]store.Message)
	}
	msgs, more, err := s.takeWaiting(ctx, q, h.Wait, *bp)
	if err != nil {
		putMessageBuf(bp, msgs)
		return nil, err
	}
	body := getBody(msgs, more, &s.renders)
	putMessageBuf(bp, msgs)
	return body, nil
}

// messageBufs are the slices get takes messages into (TakeUndelivered's
// dst), back once the answer is made: a get of 300 messages took ~48 KB
// of them, which the garbage collector, with every held message to mark,
// then ran for.
var messageBufs sync.Pool // of *[]store.Message

// putMessageBuf keeps msgs' space for the next get, holding none of the
// messages: they may be gone from the store before it is reused. Past
// len(msgs) it holds none either (the store clears what it cuts off), so
// a get of one does not clear the space of a get of 500.
func putMessageBuf(bp *[]store.Message, msgs []store.Message) {
	clear(msgs)
	if cap(msgs) > cap(*bp) {
		*bp = msgs[:0] // the store made a larger one
	}
	messageBufs.Put(bp)
}

// getStart is how every get answer starts: json.Marshal of a getAnswer
// with wire.OK, up to its first message.
var getStart = func() string {
	b, _ := json.Marshal(wire.OK)
	return `{"answer":` + string(b) + `,"messages":[`
}()

// getBody is get's answer, the bytes json.Marshal makes of getAnswer
// (TestGetBodyIsTheEncoders), appended by hand: through encoding/json a
// get of 300 messages spent most of its handler's time in reflection. A
// message is appended from its send's rendering in c, made by the first
// get that needs it.
func getBody(msgs []store.Message, more bool, c *renderCache) *encodedAnswer {
	n := len(getStart) + len(`],"more":false}`)
	for i := range msgs {
		n += messageSize(&msgs[i])
	}
	fp, _ := foundBufs.Get().(*[]*renderedSend)
	if fp == nil {
		fp = new([]*renderedSend)
	}
	found := c.lookup(msgs, *fp)
	var made []*renderedSend
	var at []int
	a := getAnswerBuf(n)
	b := append(a.b, getStart...)
	for i := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		m := &msgs[i]
		r := found[i]
		if r == nil && m.CallID == "" {
			r = render(m)
			made, at = append(made, r), append(at, i)
		}
		if r != nil {
			b = appendRendered(b, m, r)
		} else {
			b = appendMessage(b, m)
		}
	}
	b = append(b, `],"more":`...)
	b = strconv.AppendBool(b, more)
	a.b = append(b, '}')
	if len(made) > 0 {
		c.keep(made, msgs, at)
	}
	clear(found)
	*fp = found[:0]
	foundBufs.Put(fp)
	return a
}

// foundBufs are getBody's slices of renderings found, back once the
// answer is made.
var foundBufs sync.Pool // of *[]*renderedSend

// messageSize is about the bytes appendMessage makes of m, escapes aside.
func messageSize(m *store.Message) int {
	n := len(`{"msgid":"","caller":,"caller_name":,"callee":,"time":,"uri":,"length":,"fname":,"text":,"callid":}`) +
		2*20 + 4*2 + len(m.Caller) + len(m.CallerName) + len(m.Callee) + len(m.URI) + len(m.Fname) + len(m.CallID)
	if m.Text != nil {
		n += len(*m.Text)
	}
	return n + 16
}

// appendMessage appends m as json.Marshal encodes its messageJSON without
// a state (messagesJSON): wire.AppendString escapes as encoding/json does.
func appendMessage(b []byte, m *store.Message) []byte {
	b = append(b, `{"msgid":"`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `","caller":`...)
	b = wire.AppendString(b, m.Caller)
	b = append(b, `,"caller_name":`...)
	b = wire.AppendString(b, m.CallerName)
	b = append(b, `,"callee":`...)
	b = wire.AppendString(b, m.Callee)
	b = appendSendFields(b, m)
	if m.CallID != "" {
		b = append(b, `,"callid":`...)
		b = wire.AppendString(b, m.CallID)
	}
	return append(b, '}')
}

// appendSendFields appends the members of m that every message of its
// send shares, after its callee: time, uri, length, fname and text.
func appendSendFields(b []byte, m *store.Message) []byte {
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, m.Time, 10)
	b = append(b, `,"uri":`...)
	b = wire.AppendString(b, m.URI)
	b = append(b, `,"length":`...)
	b = strconv.AppendInt(b, m.Length, 10)
	if m.Fname != "" {
		b = append(b, `,"fname":`...)
		b = wire.AppendString(b, m.Fname)
	}
	if hasText(m) {
		b = append(b, `,"text":`...)
		b = wire.AppendString(b, *m.Text)
	}
	return b
}

// hasText reports whether get and history answer m with its text.
func hasText(m *store.Message) bool {
	return m.Fname == "" && m.Text != nil && m.Length <= store.TextMax
}

// encodedAnswer is an answer already encoded, as json.Marshal would have
// encoded it, in a buffer of answerBufs that goes back to the pool once
// ServeHTTP has written it (net/http keeps no reference to it). It travels
// as a pointer: handing a slice back as an answer (an interface) and
// pooling it each cost an allocation, three per send with the writing.
type encodedAnswer struct{ b []byte }

// answerBufs are the buffers of get answers, back once they are written
// (ServeHTTP): a get of 300 messages answers ~90 KB, and allocating that
// at every get made the garbage collector, which has every held message to
// mark, run all the time.
var answerBufs sync.Pool // of *encodedAnswer

// maxPooledAnswer bounds the buffers kept: a rare huge answer is not.
const maxPooledAnswer = 1 << 20

// getAnswerBuf returns an empty answer with room for n bytes.
func getAnswerBuf(n int) *encodedAnswer {
	a, _ := answerBufs.Get().(*encodedAnswer)
	if a == nil {
		a = new(encodedAnswer)
	}
	if cap(a.b) < n {
		a.b = make([]byte, 0, n)
	}
	a.b = a.b[:0]
	return a
}

// putAnswerBuf gives a back to the pool; its buffer must not be used after.
func putAnswerBuf(a *encodedAnswer) {
	if cap(a.b) > maxPooledAnswer {
		a.b = nil
	}
	a.b = a.b[:0]
	answerBufs.Put(a)
}

// history returns every message of the window whatever its state, marking
// nothing: how a client recovers after a lost answer or on a new device.
func (s *Server) history(ctx context.Context, r *wire.Request) (any, error) {
	q, h, err := s.getQuery(ctx, r)
	if err != nil {
		return nil, err
	}
	if h.AfterMsgID != nil {
		if q.AfterID, err = parseID(*h.AfterMsgID); err != nil {
			return nil, err
		}
	}
	msgs, more, err := s.msgs.History(ctx, q)
	if err != nil {
		return nil, err
	}
	return getAnswer{Answer: wire.OK, Messages: messagesJSON(msgs, true), More: more}, nil
}

func messagesJSON(msgs []store.Message, withState bool) []messageJSON {
	out := make([]messageJSON, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		out[i] = messageJSON{
			MsgID:      formatID(m.ID),
			Caller:     m.Caller,
			CallerName: m.CallerName,
			Callee:     m.Callee,
			Time:       m.Time,
			URI:        m.URI,
			Length:     m.Length,
			Fname:      m.Fname,
			CallID:     m.CallID,
		}
		if hasText(m) {
			out[i].Text = m.Text
		}
		if withState {
			out[i].State = m.State.String()
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
