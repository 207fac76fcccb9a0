package push_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/push"
)

// TestWebhookReusesConnections: many pushes, the default 16 workers at
// once, reach a real webhook receiver over about one connection per
// worker, not a connection for most pushes.
func TestWebhookReusesConnections(t *testing.T) {
	const devices, rounds = 40, 10
	var mu sync.Mutex // guards ports and hits
	ports := map[string]bool{}
	hits := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		ports[port] = true
		hits++
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // a receiver that takes a while: the workers overlap
	}))
	t.Cleanup(hook.Close)
	pc := push.Config{Apps: map[string]push.App{"desktop": {Webhook: &push.WebhookConfig{URL: hook.URL}}}}
	e := start(t, pc, nil)
	alice := e.User(t, "Alice")
	callees := make([]string, devices)
	for i := range callees {
		callees[i] = e.device(t, "Bob", "desktop", "desktop-token-"+strconv.Itoa(i)).Number
	}
	for i := range rounds {
		text := "hello " + strconv.Itoa(i)
		e.Must(t, map[string]any{"req": "sends", "uuid": alice.UUID, "callees": callees, "length": len(text)}, []byte(text))
	}
	e.outboxEmpty(t)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d pushes over %d connections", hits, len(ports))
	if hits != devices*rounds {
		t.Errorf("the webhook got %d pushes, want %d", hits, devices*rounds)
	}
	// A worker may ask for a connection a moment before another worker's
	// goes back to the pool, and dial one more then; a default transport,
	// which keeps two idle connections, needs one for most pushes instead.
	const workers = 16 // the default
	if len(ports) > 2*workers {
		t.Errorf("%d pushes came over %d connections: more than the %d workers need", hits, len(ports), workers)
	}
}
