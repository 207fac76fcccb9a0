package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestSendRetriesWithTheSameCID checks ringctl's claim that retrying a send
// is safe: after 'server busy' and after a connection lost mid-request, the
// request is sent again whole, with the same cid, so a server that had
// stored the first try answers it again instead of storing a second copy.
func TestSendRetriesWithTheSameCID(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10000)
	src := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var heads []map[string]any
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		head, rest, _ := bytes.Cut(body, []byte{0})
		var h map[string]any
		json.Unmarshal(head, &h)
		mu.Lock()
		try := len(heads)
		heads, bodies = append(heads, h), append(bodies, rest)
		mu.Unlock()
		switch {
		case h["req"] != "send":
			io.WriteString(w, `{"answer":10002,"error":"format error"}`)
		case try == 0:
			w.Header().Set("Retry-After", "1")
			io.WriteString(w, `{"answer":10009,"error":"server busy, try again"}`)
		case try == 1:
			// The answer is lost: the connection drops before it.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			io.WriteString(w, `{"answer":10000,"msgid":"7","time":1}`)
		}
	}))
	defer srv.Close()

	cfg := filepath.Join(t.TempDir(), "ringctl.json")
	c := &config{Numbers: []numberEntry{{Number: "1001", UUID: "uuid-of-1001", Server: srv.URL + "/"}}}
	if err := c.save(cfg); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-server", srv.URL, "-config", cfg, "send", "1002", "-file", src},
		env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
	if code != 0 || !strings.Contains(stdout.String(), "msgid 7") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout.String(), stderr.String())
	}
	if n := strings.Count(stderr.String(), "retrying"); n != 2 {
		t.Errorf("said it retried %d times: %q", n, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heads) != 3 {
		t.Fatalf("server got %d requests, want 3", len(heads))
	}
	cid, _ := heads[0]["cid"].(string)
	if cid == "" {
		t.Fatal("send carried no cid")
	}
	for i, h := range heads {
		if h["cid"] != cid || h["uuid"] != "uuid-of-1001" || h["fname"] != "data.bin" {
			t.Errorf("try %d: head %v", i, h)
		}
		if !bytes.Equal(bodies[i], data) {
			t.Errorf("try %d: %d bytes of data, not the file's %d", i, len(bodies[i]), len(data))
		}
	}
}
