package web_test

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/web"
)

// serve runs a real ringd server behind the web handler with o, over real
// HTTP, and returns its base URL (no trailing slash) and the protocol's own
// server, to compare with.
func serve(t *testing.T, o web.Options) (string, *ringtest.Server) {
	t.Helper()
	rs := ringtest.New(t, ringtest.NewConfig(t))
	h, err := web.Handler(rs.Server, o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL, rs
}

func do(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestPagesServedSafely(t *testing.T) {
	base, _ := serve(t, web.Options{Pages: true})
	for _, tc := range []struct{ path, ctype string }{
		{"/app/", "text/html; charset=utf-8"},
		{"/console/", "text/html; charset=utf-8"},
		{"/app/app.js", "text/javascript; charset=utf-8"},
		{"/app/lib/style.css", "text/css; charset=utf-8"},
		{"/app/lib/ringd.js", "text/javascript; charset=utf-8"},
		{"/app/lib/icon.svg", "image/svg+xml"},
		{"/app/lib/client/index.js", "text/javascript; charset=utf-8"},
		{"/app/lib/client/client.js", "text/javascript; charset=utf-8"},
		{"/console/console.js", "text/javascript; charset=utf-8"},
	} {
		resp, body := do(t, "GET", base+tc.path, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype || len(body) == 0 {
			t.Fatalf("GET %s: %d %q, %d bytes", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		checkSecurityHeaders(t, tc.path, resp.Header)
		etag := resp.Header.Get("ETag")
		if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: ETag %q, Cache-Control %q", tc.path, etag, resp.Header.Get("Cache-Control"))
		}
		again, body := do(t, "GET", base+tc.path, nil, map[string]string{"If-None-Match": etag})
		if again.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET %s with its ETag: %d, %d bytes; want 304 and none", tc.path, again.StatusCode, len(body))
		}
	}
	for _, p := range []string{"/app", "/console"} {
		resp, _ := do(t, "GET", base+p, nil, nil)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != p+"/" {
			t.Errorf("GET %s: %d to %q, want 301 to %s/", p, resp.StatusCode, resp.Header.Get("Location"), p)
		}
	}
	resp, body := do(t, "GET", base+"/app/nothing.js", nil, nil)
	if resp.StatusCode != 404 || string(body) != `{"error":"not found"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET a missing file: %d %q %q, want 404 and ringd's JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	checkSecurityHeaders(t, "a missing file", resp.Header)
	resp, _ = do(t, "POST", base+"/app/", []byte(`{"req":"register"}`), nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /app/: %d, want 405", resp.StatusCode)
	}
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows inline code", what, csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, h.Get("X-Content-Type-Options"))
	}
}

// TestPagesHaveNoInlineCode: the policy forbids inline script and style,
// so a page holding any would break in the browser; this finds it first.
func TestPagesHaveNoInlineCode(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle\s*=|\son[a-z]+\s*=|javascript:`)
	script := regexp.MustCompile(`(?i)<script[^>]*>`)
	n := 0
	err := filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".html" {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if m := inline.Find(b); m != nil {
			t.Errorf("%s holds inline code: %q", p, m)
		}
		for _, s := range script.FindAll(b, -1) {
			if !bytes.Contains(s, []byte(`src=`)) {
				t.Errorf("%s: a script with no src: %q", p, s)
			}
		}
		return nil
	})
	if err != nil || n < 2 {
		t.Fatalf("walked %d pages: %v", n, err)
	}
}

func TestPagesOff(t *testing.T) {
	base, rs := serve(t, web.Options{Pages: false})
	for _, p := range []string{"/app/", "/console/", "/app/app.js"} {
		resp, body := do(t, "GET", base+p, nil, nil)
		direct, want := do(t, "GET", strings.TrimSuffix(rs.URL, "/")+p, nil, nil)
		if resp.StatusCode != 404 || direct.StatusCode != 404 || !bytes.Equal(body, want) {
			t.Errorf("GET %s with the pages off: %d %q; the protocol alone: %d %q", p, resp.StatusCode, body, direct.StatusCode, want)
		}
		if resp.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("GET %s with the pages off is served by the pages' handler", p)
		}
	}
}

// TestAPIUnchanged: in front of the protocol, the handler changes no byte
// of its answers, with or without CORS for other origins.
func TestAPIUnchanged(t *testing.T) {
	for _, origins := range [][]string{nil, {"https://app.example.com"}} {
		base, rs := serve(t, web.Options{Pages: true, CORSOrigins: origins})
		direct := strings.TrimSuffix(rs.URL, "/")
		for _, tc := range []struct {
			method, path string
			body         string
		}{
			{"POST", "/", `{"req":"stats"}`},
			{"POST", "/", `{"req":"nothing"}`},
			{"POST", "/", `not json`},
			{"GET", "/", ``},
			{"OPTIONS", "/", ``},
			{"GET", "/healthz", ``},
			{"GET", "/metrics", ``},
		} {
			got, gotBody := do(t, tc.method, base+tc.path, []byte(tc.body), nil)
			want, wantBody := do(t, tc.method, direct+tc.path, []byte(tc.body), nil)
			if got.StatusCode != want.StatusCode || !bytes.Equal(gotBody, wantBody) {
				t.Errorf("%s %s %s: %d %q; the protocol alone: %d %q", tc.method, tc.path, tc.body, got.StatusCode, gotBody, want.StatusCode, wantBody)
			}
			for _, k := range []string{"Content-Type", "Allow", "Access-Control-Allow-Origin"} {
				if got.Header.Get(k) != want.Header.Get(k) {
					t.Errorf("%s %s: %s %q; the protocol alone: %q", tc.method, tc.path, k, got.Header.Get(k), want.Header.Get(k))
				}
			}
		}
	}
}

func TestCORS(t *testing.T) {
	const listed = "https://app.example.com"
	base, _ := serve(t, web.Options{Pages: true, CORSOrigins: []string{"HTTPS://App.Example.com", "http://localhost:3000"}})
	preflight := map[string]string{"Origin": listed, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	resp, body := do(t, "OPTIONS", base+"/", nil, preflight)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("preflight of a listed origin: %d %q", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  listed,
		"Access-Control-Allow-Methods": "POST",
		"Access-Control-Allow-Headers": "Content-Type",
		"Access-Control-Max-Age":       "86400",
		"Vary":                         "Origin",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("preflight: %s %q, want %q", k, got, want)
		}
	}
	resp, body = do(t, "POST", base+"/", []byte(`{"req":"register"}`), map[string]string{"Origin": listed})
	if resp.Header.Get("Access-Control-Allow-Origin") != listed || !bytes.Contains(body, []byte(`"answer":10000`)) {
		t.Errorf("POST from a listed origin: Allow-Origin %q, %q", resp.Header.Get("Access-Control-Allow-Origin"), body)
	}
	if resp.Header.Get("Access-Control-Expose-Headers") != "Retry-After" {
		t.Errorf("POST from a listed origin: Expose-Headers %q", resp.Header.Get("Access-Control-Expose-Headers"))
	}

	// An unlisted origin gets no CORS header: its preflight is a non-POST
	// to the protocol, and its POST is answered with nothing the browser
	// lets its page read.
	for _, origin := range []string{"https://evil.example.com", "https://app.example.com.evil.com", "null"} {
		pf := map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST"}
		resp, body := do(t, "OPTIONS", base+"/", nil, pf)
		if resp.StatusCode != http.StatusMethodNotAllowed || string(body) != `{"answer":10002,"error":"format error","detail":"method: requests are POSTed"}` {
			t.Errorf("preflight of %s: %d %q", origin, resp.StatusCode, body)
		}
		resp, _ = do(t, "POST", base+"/", []byte(`{"req":"register"}`), map[string]string{"Origin": origin})
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("POST from %s: header %s", origin, k)
			}
		}
	}
	// The pages do not need CORS: they are served from the API's origin.
	resp, _ = do(t, "GET", base+"/app/", nil, map[string]string{"Origin": listed})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("the pages carry CORS headers")
	}
}

func TestBadOriginsRefused(t *testing.T) {
	for _, o := range []string{"*", "app.example.com", "https://app.example.com/path", "ftp://x", "https://user@x.com"} {
		if _, err := web.Handler(http.NotFoundHandler(), web.Options{CORSOrigins: []string{o}}); err == nil {
			t.Errorf("origin %q taken", o)
		}
	}
}
