package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestPprofOnlyWithDebug: the profiles are served under -debug and are
// unreachable without it, while the protocol is served either way.
func TestPprofOnlyWithDebug(t *testing.T) {
	rs := ringtest.New(t, ringtest.NewConfig(t))
	for _, debug := range []bool{false, true} {
		hs := httptest.NewServer(withDebug(rs.Server, debug))
		get := func(path string) (int, string) {
			resp, err := http.Get(hs.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		code, body := get("/debug/pprof/")
		if debug && (code != http.StatusOK || !strings.Contains(body, "goroutine")) {
			t.Errorf("-debug: /debug/pprof/ answered %d %.80q", code, body)
		}
		if !debug && (code == http.StatusOK || strings.Contains(body, "goroutine")) {
			t.Errorf("without -debug: /debug/pprof/ answered %d %.80q", code, body)
		}
		if code, _ := get("/debug/pprof/goroutine?debug=1"); debug != (code == http.StatusOK) {
			t.Errorf("debug=%v: goroutine profile answered %d", debug, code)
		}
		resp, err := http.Post(hs.URL+"/", "application/octet-stream", strings.NewReader(`{"req":"register"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"answer":10000`) {
			t.Errorf("debug=%v: register answered %s", debug, b)
		}
		hs.Close()
	}
}
