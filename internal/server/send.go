package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ringd/ringd/internal/blob"
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
		return nil, wire.Invalid("callee", wire.RuleNumber)
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
		return nil, wire.Invalidf("callees", "required, an array of 1 to %d numbers", s.cfg.MaxCallees)
	}
	callees := make([]string, 0, len(*h.Callees))
	seen := make(map[string]bool, len(*h.Callees))
	for _, c := range *h.Callees {
		if !wire.IsNumber(c) {
			return nil, wire.Invalid("callee", wire.RuleNumber)
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

// store1 checks the fields send and sends share, stores the data once, and
// stores a message per callee in use.
func (s *Server) store1(ctx context.Context, r *wire.Request, h *sendHead, callees []string) (store.SendResult, error) {
	var none store.SendResult
	switch {
	case h.UUID == nil:
		return none, wire.Invalid("uuid", wire.RuleString)
	case h.Length == nil || *h.Length < 0:
		return none, wire.Invalid("length", "required, "+wire.RuleNotNeg)
	case *h.Length > s.cfg.MaxLength:
		return none, wire.Invalidf("length", "at most %d bytes on this server", s.cfg.MaxLength)
	case h.CallerName != nil && !wire.Text(*h.CallerName, 2, 32):
		return none, wire.Invalid("caller_name", wire.RuleText(2, 32))
	case h.Fname != nil && !validFname(*h.Fname):
		return none, wire.Invalid("fname", wire.RuleText(2, 100)+", without / or \\")
	case h.CID != nil && !wire.Chars(*h.CID, 1, 64):
		return none, wire.Invalid("cid", "a string of 1 to 64 characters")
	}
	length := *h.Length
	isText := h.Fname == nil
	if isText && length == 0 {
		return none, wire.Invalid("length", "a text message (no fname) is at least 1 byte")
	}
	hash, err := hashUUID(*h.UUID)
	if err != nil {
		return none, err
	}
	// Refuse an unknown or idle sender before reading what may be many
	// megabytes of data. The store checks again when it commits, and
	// answers the same (ErrUnknownUUID; ErrCallerNotInUse unless a cid may
	// replay): so data small enough to be read into memory is read first,
	// and this check runs only if that data is bad, for its answer to come
	// first as before. A read on the read pool per send was a tenth of
	// ringd's CPU under the send load. The same goes for data
	// the arena takes, from a sender the number cache knows (a uuid known
	// once is known for good): a refused send from it costs a write into
	// the arena, freed at once, where the read cost every file send.
	precheck := func() error {
		senders, err := s.store.NumbersByUUID(ctx, []store.UUIDHash{hash})
		if err != nil {
			return err
		}
		s.numbers.put(hash, senders[0].Number, senders[0].Name)
		if !senders[0].InUse() && h.CID == nil {
			return store.ErrCallerNotInUse
		}
		return nil
	}
	toArena := s.arena != nil && length > store.InlineMax && length <= s.cfg.ArenaMax
	if _, known := s.numbers.get(hash); length > store.InlineMax && !(toArena && known) {
		if err := precheck(); err != nil {
			return none, err
		}
		precheck = nil // done
	}

	m := store.NewMessages{SenderHash: hash, Callees: callees, Now: s.clock.Now()}
	if h.CallerName != nil {
		m.CallerName = *h.CallerName
	}
	if h.Fname != nil {
		m.Fname = *h.Fname
	}
	if h.CID != nil {
		m.CID = *h.CID
	}

	data := r.Data(length)
	if isText {
		data = &utf8Reader{r: data}
	}
	if length <= store.InlineMax {
		buf := make([]byte, length)
		if _, err := io.ReadFull(data, buf); err != nil {
			if perr := precheck(); perr != nil {
				return none, perr
			}
			return none, dataErr(err)
		}
		if _, err := data.Read(nil); err != io.EOF { // the data must end here
			if perr := precheck(); perr != nil {
				return none, perr
			}
			return none, dataErr(err)
		}
		if err := s.disk.roomForRows(); err != nil {
			return none, err
		}
		sum := sha256.Sum256(buf)
		m.Blob = store.Blob{Hash: hex.EncodeToString(sum[:]), Length: length, Inline: buf}
		m.Rendered = s.renderSend(ctx, hash, &m)
		return s.storeMessages(ctx, m)
	}

	var head *prefixReader
	if isText {
		head = &prefixReader{r: data} // the push's preview
		data = head
	}
	if toArena {
		res, err := s.storeInArena(ctx, m, data, length, head, precheck)
		if !errors.Is(err, blob.ErrNoSpace) {
			return res, err
		}
		// The arena has no room and cannot grow: the data, not read yet,
		// becomes a file of its own, as larger data does.
		if precheck != nil {
			if err := precheck(); err != nil {
				return none, err
			}
		}
	}
	if err := s.disk.roomForFile(length); err != nil {
		return none, err
	}
	// Large data streams into the blob store; the janitor must not take it
	// away before the message that refers to it is committed.
	s.blobMu.RLock()
	sum, err := s.blobs.Put(ctx, data, length)
	if err != nil {
		s.blobMu.RUnlock()
		return none, dataErr(err)
	}
	m.Blob = store.Blob{Hash: sum, Length: length}
	if head != nil {
		m.Preview = head.preview()
	}
	m.Rendered = s.renderSend(ctx, hash, &m)
	res, err := s.storeMessages(ctx, m)
	s.blobMu.RUnlock()
	if err != nil || res.Replayed {
		s.dropIfUnused(sum)
	}
	return res, err
}

// renderSend renders m for get (get.go, renderSend) as sent by the number
// of hash, under the name the cache last saw unless m names the caller. It
// is a guess the store checks: it keeps the rendering only if the caller
// and name it commits are the ones rendered. A read on the read pool per
// send was a tenth of ringd's CPU under the send load, so the
// sender is looked up only when the cache does not know it.
func (s *Server) renderSend(ctx context.Context, hash store.UUIDHash, m *store.NewMessages) *store.Rendered {
	number, name, ok := s.numbers.sender(hash)
	if !ok {
		ns, err := s.store.NumbersByUUID(ctx, []store.UUIDHash{hash})
		if err != nil {
			return nil // the store answers for the sender
		}
		number, name = ns[0].Number, ns[0].Name
		s.numbers.put(hash, number, name)
	}
	if m.CallerName != "" {
		name = m.CallerName
	}
	return renderSend(number, name, m)
}

// dropIfUnused deletes stored data that no message refers to, after a send
// stored it and then failed (or turned out to be a retry). It holds blobMu
// exclusively, so no other send is between storing the same data and
// committing a message for it.
func (s *Server) dropIfUnused(hash string) {
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	ctx := context.Background()
	used, err := s.store.HasBlob(ctx, hash)
	if err != nil || used {
		return
	}
	if err := s.blobs.Delete(ctx, hash); err != nil {
		s.log.Warn("deleting unused data", "hash", hash, "err", err)
	}
}

// dataErr maps a failure reading or storing the data: the client's fault
// (short, long, not UTF-8) is 10002, anything else 10001.
func dataErr(err error) error {
	switch {
	case errors.Is(err, wire.ErrShortData), errors.Is(err, wire.ErrLongData):
		return wire.Wrap(wire.FormatError, err, "data") // its cause tells the lengths
	case errors.Is(err, errBadUTF8):
		return &wire.Error{Code: wire.FormatError, Public: "data: a text message (no fname) must be valid UTF-8", Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &wire.Error{Code: wire.FormatError, Public: "length: does not match the data sent", Err: err}
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
		return 0, wire.Tell(wire.MsgIDError, "msgid: not a msgid (a string of digits)")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, wire.Tell(wire.MsgIDError, "msgid: not a msgid (a string of digits)")
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
