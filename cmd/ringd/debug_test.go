package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestPprofOnlyWithDebug: the admin handler serves the profiles under
// -debug and not without it, and /metrics either way; the protocol's
// listener serves neither.
func TestPprofOnlyWithDebug(t *testing.T) {
	rs := ringtest.New(t, ringtest.NewConfig(t))
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, debug := range []bool{false, true} {
		hs := httptest.NewServer(adminHandler(rs.Server, debug))
		code, body := get(hs.URL + "/debug/pprof/")
		if debug && (code != http.StatusOK || !strings.Contains(body, "goroutine")) {
			t.Errorf("-debug: /debug/pprof/ answered %d %.80q", code, body)
		}
		if !debug && (code == http.StatusOK || strings.Contains(body, "goroutine")) {
			t.Errorf("without -debug: /debug/pprof/ answered %d %.80q", code, body)
		}
		if code, _ := get(hs.URL + "/debug/pprof/goroutine?debug=1"); debug != (code == http.StatusOK) {
			t.Errorf("debug=%v: goroutine profile answered %d", debug, code)
		}
		if code, body := get(hs.URL + "/metrics"); code != http.StatusOK || !strings.Contains(body, "ringd_requests_in_flight") {
			t.Errorf("debug=%v: /metrics answered %d %.80q", debug, code, body)
		}
		hs.Close()
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/metrics"} {
		if code, _ := get(strings.TrimSuffix(rs.URL, "/") + path); code != http.StatusNotFound {
			t.Errorf("the protocol's listener answered %s with %d", path, code)
		}
	}
}

// TestRedactArgs: every form the flag package takes a secret in is
// redacted, and nothing else is.
func TestRedactArgs(t *testing.T) {
	in := []string{"ringd", "-listen", "127.0.0.1:0", "-admin-token", "s1", "--register-key=s2",
		"-ai-key=s3", "--ai-key", "s4", "-admin-token-file", "/run/f", "-debug", "-ai-url", "http://x/"}
	want := []string{"ringd", "-listen", "127.0.0.1:0", "-admin-token", redacted, "--register-key=" + redacted,
		"-ai-key=" + redacted, "--ai-key", redacted, "-admin-token-file", "/run/f", "-debug", "-ai-url", "http://x/"}
	if got := redactArgs(in); !slices.Equal(got, want) {
		t.Errorf("redactArgs:\n got %q\nwant %q", got, want)
	}
	if in[4] != "s1" {
		t.Error("redactArgs changed its argument")
	}
}
