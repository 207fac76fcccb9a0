package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// sendHead is the head of send and sends; Callee is send's, Callees sends'.
type sendHead struct {
	UUID       *string       `json:"uuid"`
	Callee     *string       `json:"callee"`
	Callees    *wire.Strings `json:"callees"`
	Length     *int64        `json:"length"`
	CallerName *string       `json:"caller_name"`
	Fname      *string       `json:"fname"`
	CID        *string       `json:"cid"`
}

type sendAnswer struct {
	Answer wire.Code `json:"answer"`
	MsgID  string    `json:"msgid"`
	Time   int64     `json:"time"`
}

type sendsAnswer struct {
	Answer wire.Code         `json:"answer"`
	Time   int64             `json:"time"`
	MsgIDs map[string]string `json:"msgids"`
	Failed []string          `json:"failed,omitempty"`
}

// send stores a message to one number (seed).
func (s *Server) send(ctx context.Context, r *wire.Request) (any, error) {
	var h sendHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if h.Callee == nil || !wire.IsNumber(*h.Callee) {
		return nil, wire.Errorf(wire.FormatError, "callee")
	}
	res, err := s.store1(ctx, r, &h, []string{*h.Callee})
	if err != nil {
		return nil, err
	}
	id, ok := res.MsgIDs[*h.Callee]
	if !ok {
		return nil, store.ErrCalleeNotInUse
	}
	s.arrived(res)
	// Written back to the pool by ServeHTTP once sent.
	a := getAnswerBuf(64)
	a.b = appendSendAnswer(a.b, id, res.Time)
	return a, nil
}

// appendSendAnswer appends send's answer: the bytes json.Marshal makes of
// sendAnswer{wire.OK, formatID(id), time} (TestSendAnswerBytes), without
// its reflection and allocations, as encoding/json was a few per cent of
// ringd's CPU under the send load. A msgid is digits: nothing
// in it is escaped.
func appendSendAnswer(b []byte, id, time int64) []byte {
	b = append(b, `{"answer":`...)
	b = strconv.AppendInt(b, int64(wire.OK), 10)
	b = append(b, `,"msgid":"`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `","time":`...)
	b = strconv.AppendInt(b, time, 10)
	return append(b, '}')
}

// sends stores one message to several numbers, its data once (seed).
func (s *Server) sends(ctx context.Context, r *wire.Request) (any, error) {
	var h sendHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if h.Callees == nil || len(*h.Callees) == 0 || len(*h.Callees) > s.cfg.MaxCallees {
		return nil, wire.Errorf(wire.FormatError, "callees")
	}
	callees := make([]string, 0, len(*h.Callees))
	seen := make(map[string]bool, len(*h.Callees))
	for _, c := range *h.Callees {
		if !wire.IsNumber(c) {
			return nil, wire.Errorf(wire.FormatError, "callee")
		}
		if !seen[c] {
			seen[c] = true
			callees = append(callees, c)
		}
	}
	res, err := s.store1(ctx, r, &h, callees)
	if err != nil {
		return nil, err
	}
	s.arrived(res)
	a := sendsAnswer{Answer: wire.OK, Time: res.Time, MsgIDs: make(map[string]string, len(res.MsgIDs)), Failed: res.Failed}
	for c, id := range res.MsgIDs {
		a.MsgIDs[c] = formatID(id)
	}
	return a, nil
}

// checkSendHead checks the fields send and sends share.
func (s *Server) checkSendHead(h *sendHead) error {
	switch {
	case h.UUID == nil:
		return wire.Errorf(wire.FormatError, "uuid")
	case h.Length == nil || *h.Length < 0:
		return wire.Errorf(wire.FormatError, "length")
	case *h.Length > s.cfg.MaxLength:
		return wire.Errorf(wire.FormatError, "length %d over the limit", *h.Length)
	case h.CallerName != nil && !wire.Text(*h.CallerName, 2, 32):
		return wire.Errorf(wire.FormatError, "caller_name")
	case h.Fname != nil && !validFname(*h.Fname):
		return wire.Errorf(wire.FormatError, "fname")
	case h.CID != nil && !wire.Chars(*h.CID, 1, 64):
		return wire.Errorf(wire.FormatError, "cid")
	case h.Fname == nil && *h.Length == 0:
		return wire.Errorf(wire.FormatError, "empty text")
	}
	return nil
}

// store1 checks the fields send and sends share, and stores a message per
// callee in use, with the data once.
func (s *Server) store1(ctx context.Context, r *wire.Request, h *sendHead, callees []string) (store.SendResult, error) {
	var none store.SendResult
	if err := s.checkSendHead(h); err != nil {
		return none, err
	}
	hash, err := hashUUID(*h.UUID)
	if err != nil {
		return none, err
	}
	m := store.NewMessages{SenderHash: hash, Callees: callees, Length: *h.Length, Now: s.clock.Now()}
	if h.CallerName != nil {
		m.CallerName = *h.CallerName
	}
	if h.Fname != nil {
		m.Fname = *h.Fname
	}
	if h.CID != nil {
		m.CID = *h.CID
	}
	data := r.Data(m.Length)
	if h.Fname == nil {
		data = &utf8Reader{r: data}
	}
	check := &senderCheck{s: s, hash: hash, mayReplay: h.CID != nil}
	if m.Length <= store.TextMax {
		return s.storeSmall(ctx, m, data, check)
	}
	// Refuse an unknown or idle sender before reading what may be many
	// megabytes of data, unless the number cache knows it (a uuid known
	// once is known for good): then a refused send costs storing its data,
	// freed at once, where the read cost every file send.
	if _, known := s.numbers.get(hash); !known {
		if err := check.run(ctx); err != nil {
			return none, err
		}
	}
	if err := s.disk.roomForRows(); err != nil {
		return none, err
	}
	body := &dataReader{r: data, ctx: ctx}
	m.Data = body
	res, err := s.storeMessages(ctx, m, body)
	if body.err != nil {
		// The data was bad: the sender check comes first, as it would
		// have, had it run.
		if cerr := check.run(ctx); cerr != nil {
			return none, cerr
		}
		return none, dataErr(body.err)
	}
	return res, err
}

// storeSmall reads data of at most store.TextMax bytes to its end, then
// stores it. A refused sender is answered only if the data checks out:
// the store checks the sender when it commits, and a read on the read pool
// per send was a tenth of ringd's CPU under the send load.
func (s *Server) storeSmall(ctx context.Context, m store.NewMessages, data io.Reader, check *senderCheck) (store.SendResult, error) {
	var none store.SendResult
	buf := make([]byte, m.Length)
	_, err := io.ReadFull(data, buf)
	if err == nil {
		if _, err = data.Read(nil); err == io.EOF { // the data must end here
			err = nil
		} else if err == nil {
			err = wire.ErrLongData
		}
	}
	if err != nil {
		if cerr := check.run(ctx); cerr != nil {
			return none, cerr
		}
		return none, dataErr(err)
	}
	if err := s.disk.roomForRows(); err != nil {
		return none, err
	}
	m.Data = bytes.NewReader(buf)
	return s.storeMessages(ctx, m, nil)
}

// senderCheck is the check that a send's sender may send, which the store
// makes again when it commits: the server makes it first only where its
// answer must come before that of the data.
type senderCheck struct {
	s         *Server
	hash      store.UUIDHash
	mayReplay bool // a cid: a retry's earlier result is answered, idle or not
	done      bool
}

// run makes the check once; a second call answers nil.
func (c *senderCheck) run(ctx context.Context) error {
	if c.done {
		return nil
	}
	c.done = true
	senders, err := c.s.ids.NumbersByUUID(ctx, []store.UUIDHash{c.hash})
	if err != nil {
		return err
	}
	c.s.numbers.put(c.hash, senders[0].Number)
	if !senders[0].InUse() && !c.mayReplay {
		return store.ErrCallerNotInUse
	}
	return nil
}

// dataReader is a send's data as the store reads it: it keeps the first
// error reading it gave, which is the client's (or its connection's) and
// answered as such, and once the data has been read to its end it holds
// the connection's background read while the send waits (conn.go).
type dataReader struct {
	r    io.Reader
	ctx  context.Context
	err  error
	held *holdConn
}

func (d *dataReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	switch {
	case err == io.EOF:
		if d.held == nil {
			d.held = holdRead(d.ctx)
		}
	case err != nil && d.err == nil:
		d.err = err
	}
	return n, err
}

// endHold ends the hold the read of the data to its end began, if any.
func (d *dataReader) endHold() {
	if d != nil {
		d.held.endHold()
	}
}

// dataErr maps a failure reading or storing the data: the client's fault
// (short, long, not UTF-8) is 10002, anything else 10001.
func dataErr(err error) error {
	switch {
	case errors.Is(err, wire.ErrShortData), errors.Is(err, wire.ErrLongData),
		errors.Is(err, errBadUTF8), errors.Is(err, io.ErrUnexpectedEOF):
		return wire.Wrap(wire.FormatError, err, "data")
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	return wire.Wrap(wire.ServerError, err, "storing data")
}

// validFname: 2-100 printable characters, no / or \.
func validFname(f string) bool {
	return wire.Text(f, 2, 100) && !strings.ContainsAny(f, `/\`)
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// parseID parses a msgid; anything that is not one is 10013.
func parseID(s string) (int64, error) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, wire.Errorf(wire.MsgIDError, "malformed msgid")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, wire.Errorf(wire.MsgIDError, "malformed msgid")
	}
	return id, nil
}

var errBadUTF8 = errors.New("text is not valid UTF-8")

// utf8Reader passes data through, failing if it is not valid UTF-8. A
// character split between reads is carried over to the next.
type utf8Reader struct {
	r       io.Reader
	pending [utf8.UTFMax]byte
	npend   int
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if n > 0 {
		if !u.check(p[:n]) {
			return 0, errBadUTF8
		}
	}
	if err == io.EOF && u.npend > 0 {
		return n, errBadUTF8 // ends inside a character
	}
	return n, err
}

func (u *utf8Reader) check(b []byte) bool {
	if u.npend > 0 {
		// Complete the carried character with the first bytes of b.
		need := 0
		for need = 1; need <= len(b) && u.npend+need <= utf8.UTFMax; need++ {
			var buf [utf8.UTFMax]byte
			copy(buf[:], u.pending[:u.npend])
			copy(buf[u.npend:], b[:need])
			if utf8.FullRune(buf[:u.npend+need]) {
				r, size := utf8.DecodeRune(buf[:u.npend+need])
				if r == utf8.RuneError && size <= 1 {
					return false
				}
				b = b[need:]
				u.npend = 0
				break
			}
		}
		if u.npend > 0 {
			if u.npend+len(b) >= utf8.UTFMax {
				return false
			}
			copy(u.pending[u.npend:], b)
			u.npend += len(b)
			return true
		}
	}
	// Hold back a trailing incomplete character.
	tail := 0
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				tail = len(b) - i
			}
			break
		}
	}
	if !utf8.Valid(b[:len(b)-tail]) {
		return false
	}
	copy(u.pending[:], b[len(b)-tail:])
	u.npend = tail
	return true
}
