package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxHead bounds the JSON part of a request. The largest legitimate heads are
// a sends to max-callees numbers or a get for many uuids: a few tens of KiB.
const MaxHead = 1 << 20

// Request is one request as read off the wire: its JSON head and, when the
// head was followed by a NUL, the data after it, still unread in the body.
type Request struct {
	Req  string // the head's "req"
	Head []byte // the JSON object, without the NUL
	// HasData is whether a NUL followed the head. The data is read through
	// Data, which the handler opens once it has checked the declared length.
	HasData bool
	rest    *bufio.Reader
	// valid says json.Valid accepted Head (plainReq): Decode may then
	// take decodePlain's path.
	valid bool
}

// headBuf is the size of the buffer a request is read through.
const headBuf = 4 << 10

// ErrHeadTooLarge is returned when no NUL or end of body comes within MaxHead.
var ErrHeadTooLarge = errors.New("request head too large")

// ReadRequest reads the JSON head of a request from body and names its req.
// The data, if any, is left in the reader for Data. Every failure is a
// FormatError: the body is not one JSON object in UTF-8, or has no string
// "req".
func ReadRequest(body io.Reader) (*Request, error) {
	return ReadRequestSize(body, -1)
}

// ReadRequestSize is ReadRequest of a body of size bytes (its
// Content-Length; negative if unknown). The size only bounds the buffer the
// body is read through: a body of another size is read as well.
func ReadRequestSize(body io.Reader, size int64) (*Request, error) {
	// A small buffer: most heads are a few hundred bytes, larger ones are
	// read in chunks, and data reads bigger than the buffer bypass it, and
	// a buffer per request costs allocation and GC in proportion to its
	// size. A body known to be smaller than the buffer (a text send, a
	// get) gets one of its own size. (Not pooled: a reader outliving its
	// handler must never see another request's bytes.)
	n := headBuf
	if size >= 0 && size < headBuf {
		n = int(size) // bufio makes it at least 16
	}
	br := bufio.NewReaderSize(body, n)
	head, hasData, err := readHead(br)
	if err != nil {
		e := Wrap(FormatError, err, "reading head")
		e.Public = "head: could not be read"
		if errors.Is(err, ErrHeadTooLarge) {
			e.Public = "head: over 1 MiB before the NUL or the end of the body"
		}
		return nil, e
	}
	if !isObject(head) {
		return nil, Invalid("head", "not a JSON object")
	}
	// JSON is UTF-8. encoding/json would decode each invalid byte in a
	// string as U+FFFD, silently storing a name other than the one sent.
	if !utf8.Valid(head) {
		return nil, Invalid("head", "not valid UTF-8")
	}
	if req, ok := plainReq(head); ok {
		return &Request{Req: req, Head: head, HasData: hasData, rest: br, valid: true}, nil
	}
	var r struct {
		Req *string `json:"req"`
	}
	if err := json.Unmarshal(exactKeys(head, &r), &r); err != nil {
		if errors.As(err, new(*json.UnmarshalTypeError)) {
			return nil, &Error{Code: FormatError, Public: "req: " + RuleString, Err: err}
		}
		return nil, decodeError(err, &r, "head")
	}
	if r.Req == nil {
		return nil, Invalid("req", RuleString)
	}
	return &Request{Req: *r.Req, Head: head, HasData: hasData, rest: br}, nil
}

// plainReq returns the req of a valid head whose keys hold no escapes and
// whose req is a plain string (no escapes, valid UTF-8): what decoding it
// as ReadRequest does would give (the last exact "req"; a key that matches
// only case-insensitively is dropped, exactKeys), without encoding/json's
// reflection, which every request would otherwise pay. Anything else (ok
// false) is left to encoding/json.
func plainReq(head []byte) (req string, ok bool) {
	if !json.Valid(head) {
		return "", false
	}
	var val []byte
	plain := true
	forEachMember(head, func(key []byte, start, end int) {
		switch {
		case bytes.IndexByte(key, '\\') >= 0:
			plain = false
		case string(key) == "req":
			// The member is "req" <space> : <space> value.
			i := skipSpace(head, start+len(`"req"`))
			val = head[skipSpace(head, i+1):end]
		}
	})
	if !plain || len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", false
	}
	val = val[1 : len(val)-1]
	if bytes.IndexByte(val, '\\') >= 0 || !utf8.Valid(val) {
		return "", false
	}
	return string(val), true
}

// readHead reads up to the first NUL (dropped) or the end of the body.
func readHead(br *bufio.Reader) (head []byte, hasData bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice(0)
		switch {
		case err == nil:
			chunk = chunk[:len(chunk)-1]
			if buf == nil {
				// The common case: the whole head fit the buffer. Copy it,
				// since the buffer is reused as the data is read.
				return bytes.Clone(chunk), true, nil
			}
			buf = append(buf, chunk...)
			return buf, true, checkSize(buf)
		case err == bufio.ErrBufferFull:
			buf = append(buf, chunk...)
			if err := checkSize(buf); err != nil {
				return nil, false, err
			}
		case err == io.EOF:
			buf = append(buf, chunk...)
			return buf, false, checkSize(buf)
		default:
			return nil, false, err
		}
	}
}

func checkSize(b []byte) error {
	if len(b) > MaxHead {
		return ErrHeadTooLarge
	}
	return nil
}

func isObject(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// Decode decodes the head into v, a struct whose required fields are
// pointers: a missing or null field stays nil. A wrongly typed field, trailing
// garbage or invalid JSON is a FormatError.
func (r *Request) Decode(v any) error {
	if r.valid && decodePlain(r.Head, v) {
		return nil
	}
	if err := json.Unmarshal(exactKeys(r.Head, v), v); err != nil {
		return decodeError(err, v, r.Req)
	}
	return nil
}

// NoData is a FormatError when the request carried data: requests that take
// none must not be sent a NUL.
func (r *Request) NoData() error {
	if r.HasData {
		return Invalid("data", "this request takes none (nothing may follow the head)")
	}
	return nil
}

// Data returns a reader of exactly length bytes of the request's data. Its
// reads fail with ErrShortData when the body ends early and with ErrLongData
// when the body holds more, so a consumer that reads to io.EOF has seen
// exactly the declared data, and one that got an error must store nothing.
func (r *Request) Data(length int64) io.Reader {
	if !r.HasData {
		if length == 0 {
			return &exactReader{r: bytes.NewReader(nil)}
		}
		return &exactReader{err: lengthError(ErrShortData, length, 0)}
	}
	return &exactReader{r: r.rest, left: length, length: length}
}

var (
	// ErrShortData means the body held fewer bytes than its length.
	ErrShortData = errors.New("data shorter than length")
	// ErrLongData means the body held more bytes than its length.
	ErrLongData = errors.New("data longer than length")
)

type exactReader struct {
	r      io.Reader
	left   int64
	length int64 // declared
	err    error
}

// lengthError is the 10002 answer for data of another size than the length
// declared: sentinel (ErrShortData or ErrLongData) is its cause, for
// errors.Is, and got the bytes the body held (at least, for ErrLongData).
func lengthError(sentinel error, length, got int64) *Error {
	e := &Error{Code: FormatError, Err: sentinel}
	if sentinel == ErrLongData {
		e.Public = fmt.Sprintf("length: does not match the data sent (more than %d bytes)", length)
	} else {
		e.Public = fmt.Sprintf("length: does not match the data sent (got %d bytes)", got)
	}
	return e
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		// Everything declared has been read: the body must end here.
		var one [1]byte
		n, err := io.ReadFull(e.r, one[:])
		switch {
		case n > 0:
			e.err = lengthError(ErrLongData, e.length, e.length+1)
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			e.err = io.EOF
		default:
			e.err = err
		}
		return 0, e.err
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			e.err = lengthError(ErrShortData, e.length, e.length-e.left)
			return n, e.err
		}
		err = nil
	}
	return n, err
}

// Chars reports whether s holds between min and max Unicode characters,
// both ends inclusive, as the seed counts lengths.
func Chars(s string, min, max int) bool {
	if len(s) < min { // fewer bytes than min means fewer characters too
		return false
	}
	n := utf8.RuneCountInString(s)
	return n >= min && n <= max
}

// IsNumber reports whether s is a number: 3 to 15 ASCII digits.
func IsNumber(s string) bool {
	if len(s) < 3 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
