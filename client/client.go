package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits on what the client reads, so a broken or hostile server cannot make
// it allocate without bound. Data that a caller streams (Fetch) has none.
const (
	// MaxAnswerHead bounds an answer's JSON. The largest legitimate one is
	// a get or history of max-get (500) messages with inline texts of up
	// to 4096 bytes each, which JSON escaping can inflate up to six times.
	MaxAnswerHead = 32 << 20
	// MaxCallData bounds the data of a callinfo or aicall answer, which the
	// client returns in memory. Call data is at most 64 KiB by contract;
	// the AI service's answer is given more room.
	MaxCallData = 16 << 20
)

// Client sends requests to one ringd server. Its zero value is not usable;
// make one with New. A Client is safe for concurrent use.
type Client struct {
	// URL is where requests are POSTed, e.g. "http://127.0.0.1:8080/".
	URL string
	// HTTPClient sends the requests; nil means http.DefaultClient. Leave
	// its Timeout zero when using long polls (get or callinfo with wait)
	// or large transfers, and bound requests with their context instead.
	HTTPClient *http.Client
	// UserAgent, when set, is sent as the User-Agent header.
	UserAgent string
}

// New returns a client for the server at url.
func New(url string) *Client {
	return &Client{URL: url}
}

// upload is the data that follows a request's JSON.
type upload struct {
	r        io.Reader
	length   int64
	progress ProgressFunc
}

// answer is a success answer whose JSON has been read. When hasData, the
// answer's data follows in rest, unread.
type answer struct {
	raw     json.RawMessage
	hasData bool
	rest    *bufio.Reader
	body    io.ReadCloser
}

// post sends one request and reads its answer's JSON. An error answer is
// returned as *Error; any other failure as an ordinary error. On success
// the caller must close the answer.
func (c *Client) post(ctx context.Context, req string, fields any, up *upload) (*answer, error) {
	head, err := encodeHead(req, fields, up)
	if err != nil {
		return nil, err
	}

	var body io.Reader
	contentLength := int64(len(head))
	contentType := "application/json"
	if up != nil {
		// The data is read from the caller's reader while the request is
		// written: the body is never held whole.
		head = append(head, 0)
		contentLength = int64(len(head)) + up.length
		contentType = "application/octet-stream"
		body = io.MultiReader(bytes.NewReader(head), &dataReader{
			r: up.r, left: up.length, total: up.length, progress: up.progress,
		})
		if up.progress != nil {
			up.progress(0, up.length)
		}
	} else {
		body = bytes.NewReader(head)
	}

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, body)
	if err != nil {
		return nil, fmt.Errorf("ringd %s: %w", req, err)
	}
	hreq.ContentLength = contentLength
	if up != nil {
		// The body cannot be replayed (the reader is consumed), so the
		// transport must never retry it on its own. A nil GetBody already
		// ensures that; say it.
		hreq.GetBody = nil
	}
	hreq.Header.Set("Content-Type", contentType)
	if c.UserAgent != "" {
		hreq.Header.Set("User-Agent", c.UserAgent)
	}

	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("ringd %s: %w", req, err)
	}

	a, err := readAnswer(resp)
	if err != nil {
		resp.Body.Close()
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, fmt.Errorf("ringd %s: %w", req, err)
	}
	return a, nil
}

// encodeHead makes the request's JSON object: "req", then "length" when data
// follows, then the fields of the request struct.
func encodeHead(req string, fields any, up *upload) ([]byte, error) {
	b := []byte("{}")
	if fields != nil {
		var err error
		b, err = json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("ringd %s: encoding request: %w", req, err)
		}
		if len(b) < 2 || b[0] != '{' {
			return nil, fmt.Errorf("ringd %s: request is not a JSON object", req)
		}
	}
	reqJSON, _ := json.Marshal(req)
	head := make([]byte, 0, len(b)+len(reqJSON)+40)
	head = append(head, `{"req":`...)
	head = append(head, reqJSON...)
	if up != nil {
		if up.length < 0 {
			return nil, fmt.Errorf("ringd %s: negative data length %d", req, up.length)
		}
		head = append(head, `,"length":`...)
		head = strconv.AppendInt(head, up.length, 10)
	}
	if len(b) > 2 {
		head = append(head, ',')
		head = append(head, b[1:]...)
	} else {
		head = append(head, '}')
	}
	return head, nil
}

// readAnswer reads an HTTP response's JSON answer. Every protocol answer is
// HTTP 200; another status whose body is still an error answer (405 for a
// wrong method) is treated as that answer, and anything else is a transport
// error that quotes the start of the body.
func readAnswer(resp *http.Response) (*answer, error) {
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	raw, hasData, err := readHead(br)
	if err != nil {
		return nil, err
	}
	var a struct {
		Answer *int            `json:"answer"`
		Error  string          `json:"error"`
		Detail json.RawMessage `json:"detail"`
	}
	if jerr := json.Unmarshal(raw, &a); jerr != nil || a.Answer == nil {
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("HTTP %s: %q", resp.Status, snippet(raw))
		}
		return nil, fmt.Errorf("not a ringd answer: %q", snippet(raw))
	}
	if *a.Answer != OK {
		e := &Error{Code: *a.Answer, Text: a.Error, Raw: raw}
		// A detail that is not a string is dropped, not a failure: the
		// code and text are the answer, the detail only explains it.
		_ = json.Unmarshal(a.Detail, &e.Detail)
		if *a.Answer == ServerBusy {
			e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return nil, e
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s with a success answer", resp.Status)
	}
	return &answer{raw: raw, hasData: hasData, rest: br, body: resp.Body}, nil
}

// readHead reads up to the first NUL (dropped) or the end of the body. JSON
// text never holds a raw NUL, so the first one ends the JSON.
func readHead(br *bufio.Reader) (head []byte, hasData bool, err error) {
	for {
		chunk, err := br.ReadSlice(0)
		head = append(head, chunk...)
		if len(head) > MaxAnswerHead {
			return nil, false, fmt.Errorf("answer JSON larger than %d bytes", MaxAnswerHead)
		}
		switch err {
		case nil:
			return head[:len(head)-1], true, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return head, false, nil
		default:
			return nil, false, fmt.Errorf("reading answer: %w", err)
		}
	}
}

func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// decode reads the answer's JSON into out and sets out's Raw.
func (a *answer) decode(out any, raw *json.RawMessage) error {
	if err := json.Unmarshal(a.raw, out); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	if raw != nil {
		*raw = a.raw
	}
	return nil
}

func (a *answer) close() { a.body.Close() }

// noData checks that an answer which carries no data by contract has none.
func (a *answer) noData() error {
	if a.hasData {
		return errors.New("answer has unexpected data after its JSON")
	}
	return nil
}

// copyData copies exactly length bytes of the answer's data to w, and checks
// that nothing follows them.
func (a *answer) copyData(w io.Writer, length int64, progress ProgressFunc) error {
	if length < 0 {
		return fmt.Errorf("answer has negative length %d", length)
	}
	if !a.hasData {
		if length == 0 {
			return nil
		}
		return fmt.Errorf("answer has length %d but no data", length)
	}
	if progress != nil {
		progress(0, length)
		w = &progressWriter{w: w, total: length, progress: progress}
	}
	n, err := io.CopyN(w, a.rest, length)
	if err == io.EOF {
		return fmt.Errorf("answer data ended after %d of %d bytes: %w", n, length, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return err
	}
	if _, err := a.rest.ReadByte(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("after answer data: %w", err)
		}
		return fmt.Errorf("answer data longer than its length %d", length)
	}
	return nil
}

// dataReader hands the transport exactly length bytes of the caller's data,
// and fails rather than let a short reader produce a truncated request.
type dataReader struct {
	r           io.Reader
	left, total int64
	progress    ProgressFunc
}

func (d *dataReader) Read(p []byte) (int, error) {
	if d.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.r.Read(p)
	d.left -= int64(n)
	if n > 0 && d.progress != nil {
		d.progress(d.total-d.left, d.total)
	}
	if err == io.EOF {
		if d.left > 0 {
			return n, fmt.Errorf("data ended after %d of %d bytes: %w",
				d.total-d.left, d.total, io.ErrUnexpectedEOF)
		}
		return n, io.EOF
	}
	return n, err
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	progress    ProgressFunc
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if n > 0 {
		p.progress(p.done, p.total)
	}
	return n, err
}
