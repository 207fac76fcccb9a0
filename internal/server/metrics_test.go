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

	res, err := http.Get(strings.TrimSuffix(s.URL, "/") + "/metrics")
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
	// Group commit's counters: the sends above committed and synced.
	for _, name := range []string{"ringd_store_commits_total", "ringd_store_syncs_total", "ringd_arena_syncs_total"} {
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
