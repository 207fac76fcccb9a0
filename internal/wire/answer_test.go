package wire

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestWriteRawHeaders: the shared Content-Length values say each answer's
// own length, below and past the table of small ones, and a server's
// answers leave the shared values as they were.
func TestWriteRawHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 55, 1023, 1024, 70000} {
		rec := httptest.NewRecorder()
		body := []byte(strings.Repeat("x", n))
		if err := WriteRaw(rec, body); err != nil {
			t.Fatal(err)
		}
		if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(n) {
			t.Fatalf("%d bytes: Content-Length %q", n, got)
		}
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Fatalf("Content-Type %q", got)
		}
		if rec.Body.Len() != n {
			t.Fatalf("body of %d bytes, want %d", rec.Body.Len(), n)
		}
	}

	// Through a real server, with a handler that changes its header after
	// the answer: net/http wrote a copy, and the shared values stand.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteRaw(w, []byte(`{"answer":10000}`))
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("Content-Length", "1")
	}))
	defer srv.Close()
	for range 2 {
		resp, err := http.Post(srv.URL, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != 16 {
			t.Fatalf("answer headers %v, length %d", resp.Header, resp.ContentLength)
		}
	}
	if len(jsonType) != 1 || jsonType[0] != "application/json" || len(contentLength(16)) != 1 || contentLength(16)[0] != "16" {
		t.Fatalf("shared header values changed: %q %q", jsonType, contentLength(16))
	}
}
