package push_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/ringtest"
)

// Sends at once, which PostgreSQL stores in groups, each reach the webhook
// with one push of their message; a callee of an appid without a provider
// gets none.
func TestWebhookSendsAtOnce(t *testing.T) {
	var mu sync.Mutex
	pushed := map[string]int{} // pushes by msgid
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Msgid string }
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		pushed[p.Msgid]++
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	e := start(t, push.Config{Apps: map[string]push.App{
		"desktop": {Webhook: &push.WebhookConfig{URL: hook.URL, Secret: "s3cret"}},
	}}, nil)
	bob := e.device(t, "Bob", "desktop", "desktop-token-1")
	carol := e.device(t, "Carol", "other.app", "other-token-1")
	const senders, rounds = 16, 4
	answers := make([][]ringtest.Answer, senders)
	var alices []ringtest.User
	for i := range senders {
		alices = append(alices, e.User(t, fmt.Sprintf("Alice %d", i)))
	}
	before := e.metric(t, "ringd_postgres_commits_total")
	var wg sync.WaitGroup
	for i := range senders {
		alice := alices[i]
		wg.Go(func() {
			for r := range rounds {
				to := bob.Number
				if r == rounds-1 {
					to = carol.Number
				}
				a, err := post(e.URL, map[string]any{"req": "send", "uuid": alice.UUID, "callee": to, "length": 2}, []byte("hi"))
				if err != nil {
					t.Error(err)
					return
				}
				answers[i] = append(answers[i], a)
			}
		})
	}
	wg.Wait()
	want := map[string]int{}
	for i := range answers {
		for r, a := range answers[i] {
			if a.Code() != 10000 {
				t.Fatalf("send: %v", a)
			}
			if r != rounds-1 {
				want[a.Str("msgid")] = 1
			}
		}
	}
	e.outboxEmpty(t)
	if commits := e.metric(t, "ringd_postgres_commits_total"); commits != "" {
		t.Logf("PostgreSQL: %d sends, %s commits in all, %s before the sends", senders*rounds, commits, before)
	}
	mu.Lock()
	defer mu.Unlock()
	if !maps.Equal(pushed, want) {
		t.Fatalf("pushes by msgid %v, want one of each of %v", pushed, want)
	}
}

// post sends a request from a goroutine other than the test's.
func post(url string, head any, data []byte) (ringtest.Answer, error) {
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(ringtest.Body(head, data)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var a ringtest.Answer
	return a, json.NewDecoder(resp.Body).Decode(&a)
}
