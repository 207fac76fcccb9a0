package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

func TestMetrics(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice := s.User(t, "Alice")
	bob := s.User(t, "Bob")
	carol := s.User(t, "Carol")
	s.Send(t, alice, bob.Number, "hello")
	s.Must(t, map[string]any{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number},
		"length": 3}, []byte("abc"))
	s.Post(t, map[string]any{"req": "send", "uuid": alice.UUID, "callee": "x"}, nil)
	s.Post(t, map[string]any{"req": "no-such-request-1"}, nil)
	s.Post(t, map[string]any{"req": "no-such-request-2"}, nil)

	res, err := http.Get(s.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	text := string(b)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
	for _, want := range []string{
		`ringd_requests_total{answer="10000",req="send"} 1`,
		`ringd_requests_total{answer="10000",req="sends"} 1`,
		`ringd_requests_total{answer="10002",req="send"} 1`,
		`ringd_requests_total{answer="10000",req="login"} 3`,
		// Invented names share one label value: no unbounded series.
		`ringd_requests_total{answer="10002",req="unknown"} 2`,
		`ringd_request_seconds_count{req="send"} 2`,
		`ringd_messages_stored_total 3`,
		`ringd_message_bytes_stored_total 8`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The engine's counters: the sends above committed (and, on SQLite,
	// synced).
	counters := []string{"ringd_store_commits_total", "ringd_store_syncs_total", "ringd_arena_syncs_total"}
	if ringtest.EngineName() == "postgres" {
		counters = []string{"ringd_postgres_commits_total", "ringd_postgres_sends_total"}
	}
	for _, name := range counters {
		m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("/metrics lacks %s", name)
		} else if name != "ringd_arena_syncs_total" && m[1] == "0" {
			t.Errorf("%s is 0 after sends", name)
		}
	}
	if strings.Contains(text, "no-such-request") {
		t.Error("a client's invented req became a label")
	}
}

// TestMetricsOnlyOnAdminHandler: the protocol's handler serves /healthz but
// not /metrics; the admin handler serves both and not the protocol.
func TestMetricsOnlyOnAdminHandler(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	api := strings.TrimSuffix(s.URL, "/")
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(api + "/metrics"); code != http.StatusNotFound || strings.Contains(body, "ringd_") {
		t.Errorf("API listener: /metrics answered %d %.80q", code, body)
	}
	if code, body := get(s.MetricsURL); code != http.StatusOK || !strings.Contains(body, "ringd_requests_in_flight") {
		t.Errorf("admin: /metrics answered %d %.80q", code, body)
	}
	for _, base := range []string{api, s.Admin.URL} {
		if code, body := get(base + "/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s/healthz answered %d %q", base, code, body)
		}
	}
	res, err := http.Post(s.Admin.URL+"/", "application/octet-stream", strings.NewReader(`{"req":"register"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || strings.Contains(string(b), "answer") {
		t.Errorf("admin: a protocol request answered %d %q", res.StatusCode, b)
	}
}
