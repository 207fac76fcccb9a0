package push_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

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

// Pushes whose attempts end together are deleted together: each reaches
// the webhook once, the outbox empties, and on PostgreSQL the deletes take
// fewer statements (commits) than half the pushes. The webhook holds each
// attempt until all the dispatcher's workers have one, so that they end at
// once.
func TestWebhookDeletesInBatches(t *testing.T) {
	const workers, senders, rounds = 8, 16, 4
	var mu sync.Mutex
	pushed := map[string]int{} // pushes by msgid
	held, release := 0, make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Msgid string }
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		pushed[p.Msgid]++
		wave := release
		if held++; held == workers {
			close(release)
			held, release = 0, make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-wave:
		case <-time.After(time.Second): // the last pushes may not fill a wave
		}
	}))
	t.Cleanup(hook.Close)
	e := start(t, push.Config{Workers: workers, Apps: map[string]push.App{
		"desktop": {Webhook: &push.WebhookConfig{URL: hook.URL}},
	}}, nil)
	bob := e.device(t, "Bob", "desktop", "desktop-token-1")
	var alices []ringtest.User
	for i := range senders {
		alices = append(alices, e.User(t, fmt.Sprintf("Alice %d", i)))
	}
	deletesBefore := e.metric(t, "ringd_postgres_push_deletes_total")
	want := map[string]int{}
	var wg sync.WaitGroup
	for _, alice := range alices {
		wg.Go(func() {
			for range rounds {
				a, err := post(e.URL, map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 2}, []byte("hi"))
				if err != nil || a.Code() != 10000 {
					t.Errorf("send: %v %v", a, err)
					return
				}
				mu.Lock()
				want[a.Str("msgid")] = 1
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	e.outboxEmpty(t)
	mu.Lock()
	if !maps.Equal(pushed, want) || len(want) != senders*rounds {
		t.Errorf("pushes by msgid %v, want one of each of %d: %v", pushed, senders*rounds, want)
	}
	mu.Unlock()
	if deletesBefore == "" {
		return // SQLite: its one writer groups every commit
	}
	before, _ := strconv.Atoi(deletesBefore)
	deletes, _ := strconv.Atoi(e.metric(t, "ringd_postgres_push_deletes_total"))
	t.Logf("PostgreSQL: %d pushes deleted in %d statements", senders*rounds, deletes-before)
	if deletes-before >= senders*rounds/2 {
		t.Errorf("%d pushes deleted in %d statements, want fewer than %d", senders*rounds, deletes-before, senders*rounds/2)
	}
}
