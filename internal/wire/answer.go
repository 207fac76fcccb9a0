package wire

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// Ack is the answer of a request that returns nothing but success.
type Ack struct {
	Answer Code `json:"answer"`
}

// DataAnswer is an answer that carries data after its JSON: JSON, NUL, then
// exactly Length bytes read from Data.
type DataAnswer struct {
	Head   any // JSON-encoded; must hold "length" equal to Length
	Length int64
	Data   io.Reader
	// Close, if set, is called once the data is written or abandoned.
	Close func() error
}

// errorBody is an error answer: {"answer":code,"error":text} and, when the
// server can say what was wrong, "detail" last.
type errorBody struct {
	Answer Code   `json:"answer"`
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// WriteJSON writes a protocol answer: HTTP 200 and v as JSON.
func WriteJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return WriteRaw(w, b)
}

// WriteRaw writes a protocol answer already encoded as JSON, as json.Marshal
// would have encoded it: HTTP 200 and b as it is.
func WriteRaw(w http.ResponseWriter, b []byte) error {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = contentLength(len(b))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// jsonType is the Content-Type of every JSON answer. Header values are
// shared, not made for each answer: net/http copies the header before it
// writes it and changes neither the copy's values nor ours, and making
// them would be allocations on every answer.
var jsonType = []string{"application/json"}

// smallLengths are the Content-Length values of answers under 1 KiB, made
// once (a send's answer is ~55 bytes), shared as jsonType is.
var smallLengths = func() [][]string {
	l := make([][]string, 1024)
	for i := range l {
		l[i] = []string{strconv.Itoa(i)}
	}
	return l
}()

// contentLength is the Content-Length header value of an answer of n bytes.
func contentLength(n int) []string {
	if n < len(smallLengths) {
		return smallLengths[n]
	}
	return []string{strconv.Itoa(n)}
}

// WriteData writes an answer with data: JSON, NUL, data.
func WriteData(w http.ResponseWriter, a *DataAnswer) error {
	if a.Close != nil {
		defer a.Close()
	}
	b, err := json.Marshal(a.Head)
	if err != nil {
		return err
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/octet-stream"}
	h["Content-Length"] = []string{strconv.FormatInt(int64(len(b))+1+a.Length, 10)}
	w.WriteHeader(http.StatusOK)
	b = append(b, 0)
	if _, err := w.Write(b); err != nil {
		return err
	}
	if a.Length == 0 {
		return nil
	}
	_, err = io.CopyN(w, a.Data, a.Length)
	return err
}

// WriteError writes the error answer for code: HTTP 200 (or status, when a
// transport rule asks for another) and exactly {"answer":code,"error":text}.
// 10009 carries Retry-After: the one the caller set (a rate limit's wait),
// else 1 second.
func WriteError(w http.ResponseWriter, status int, code Code) {
	WriteErrorDetail(w, status, code, "")
}

// WriteErrorDetail is WriteError with the detail the client is told:
// {"answer":code,"error":text,"detail":detail}, or WriteError's answer when
// detail is empty.
func WriteErrorDetail(w http.ResponseWriter, status int, code Code, detail string) {
	b, _ := json.Marshal(errorBody{Answer: code, Error: code.Text(), Detail: detail})
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = contentLength(len(b))
	if _, set := h["Retry-After"]; code == ServerBusy && !set {
		h["Retry-After"] = []string{"1"}
	}
	w.WriteHeader(status)
	w.Write(b)
}

// notFoundBody is the answer to a path ringd does not serve. It has no
// "answer": it is not a protocol answer, and a client that reads one has
// the wrong URL.
var notFoundBody = []byte(`{"error":"not found"}`)

// WriteNotFound answers a path ringd does not serve: HTTP 404 and
// {"error":"not found"}, JSON like every other answer. It does not say
// where the API is: its path may be the operator's to keep.
func WriteNotFound(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = contentLength(len(notFoundBody))
	w.WriteHeader(http.StatusNotFound)
	w.Write(notFoundBody)
}
