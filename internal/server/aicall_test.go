package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
)

// aiService is a local AI call service: it answers, fails, or hangs, as the
// test says, and records what ringd sent it.
type aiService struct {
	*httptest.Server
	mu   sync.Mutex // guards the following
	mode string     // "answer", "fail", "hang", "garbage"
	got  []aiCallRequest
	auth []string

	hangups chan aiCallRequest // every hangup the service is told of
}

type aiCallRequest struct {
	Event      string `json:"event"`
	CallID     string `json:"callid"`
	Caller     string `json:"caller"`
	CallerName string `json:"caller_name"`
	Data       []byte `json:"data"`
	Seconds    *int64 `json:"seconds"`
}

func newAIService(t *testing.T) *aiService {
	ai := &aiService{mode: "answer", hangups: make(chan aiCallRequest, 100)}
	stop := make(chan struct{})
	ai.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req aiCallRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("AI service got %v", err)
		}
		ai.mu.Lock()
		ai.got = append(ai.got, req)
		ai.auth = append(ai.auth, r.Header.Get("Authorization"))
		mode := ai.mode
		ai.mu.Unlock()
		if req.Event == "hangup" {
			ai.hangups <- req
			return
		}
		switch mode {
		case "fail":
			http.Error(w, "down", http.StatusInternalServerError)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		case "garbage":
			w.Write([]byte("not json"))
		default:
			json.NewEncoder(w).Encode(map[string]any{"data": append([]byte("answer to "), req.Data...)})
		}
	}))
	t.Cleanup(func() { close(stop); ai.Close() })
	return ai
}

func (ai *aiService) set(mode string) {
	ai.mu.Lock()
	defer ai.mu.Unlock()
	ai.mode = mode
}

// last returns the last request of event the service got.
func (ai *aiService) last(event string) (aiCallRequest, string, int) {
	ai.mu.Lock()
	defer ai.mu.Unlock()
	n := 0
	var req aiCallRequest
	var auth string
	for i, r := range ai.got {
		if r.Event == event {
			n++
			req, auth = r, ai.auth[i]
		}
	}
	return req, auth, n
}

func balanceOf(t *testing.T, s *ringtest.Server, u ringtest.User) float64 {
	t.Helper()
	a, _ := want(t, s, 10000, map[string]any{"req": "balance", "uuid": u.UUID}, nil)
	b, _ := a["balance"].(float64)
	return b
}

func TestAICallNotConfigured(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "tok"
	s := ringtest.New(t, cfg)
	alice := s.User(t, "Alice")
	want(t, s, 10000, map[string]any{"req": "credit", "auth": "tok", "number": alice.Number, "seconds": 60}, nil)
	want(t, s, 10031, map[string]any{"req": "aicall", "uuid": alice.UUID}, nil)
}

// TestAICall: an AI call against a service that answers, fails, hangs and
// talks nonsense; the balance pays for what was used, rounded up, and a
// call that reaches a zero balance is ended by ringd.
func TestAICall(t *testing.T) {
	ai := newAIService(t)
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "tok"
	cfg.AIURL = ai.URL
	cfg.AIKey = "ai-key"
	cfg.AITimeout = 300 * time.Millisecond
	clock := cfg.Clock.(*ringtest.Clock)
	clock.Set(time.Now())
	s := ringtest.New(t, cfg)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	idle := s.Register(t)
	db := callDB(t, s)

	want(t, s, 10032, map[string]any{"req": "aicall", "uuid": alice.UUID}, nil) // balance 0
	want(t, s, 10000, map[string]any{"req": "credit", "auth": "tok", "number": alice.Number, "seconds": 10}, nil)
	want(t, s, 10000, map[string]any{"req": "credit", "auth": "tok", "number": idle.Number, "seconds": 10}, nil)
	want(t, s, 10010, map[string]any{"req": "aicall", "uuid": idle.UUID}, nil)
	want(t, s, 10004, map[string]any{"req": "aicall", "uuid": "nope"}, nil)
	want(t, s, 10002, map[string]any{"req": "aicall", "uuid": alice.UUID, "length": 65537}, make([]byte, 65537))
	if _, _, n := ai.last("call"); n != 0 {
		t.Fatalf("refused aicalls reached the service %d times", n)
	}

	a, d := want(t, s, 10000, map[string]any{"req": "aicall", "uuid": alice.UUID, "caller_name": "Ally", "length": 5}, []byte("hello"))
	id := a.Str("callid")
	if string(d) != "answer to hello" || a["length"] != float64(len(d)) || len(id) != 32 {
		t.Fatalf("aicall: %v %q", a, d)
	}
	req, auth, _ := ai.last("call")
	if req.CallID != id || req.Caller != alice.Number || req.CallerName != "Ally" || string(req.Data) != "hello" || auth != "Bearer ai-key" {
		t.Fatalf("the service got %+v with %q", req, auth)
	}
	if a, d := callinfo(t, s, alice, id, 0); a.Str("state") != "answered" || a["ai"] != true || string(d) != "answer to hello" {
		t.Fatalf("callinfo of an AI call: %v %q", a, d)
	}
	want(t, s, 10012, map[string]any{"req": "hangup", "uuid": bob.UUID, "callid": id}, nil) // not a party
	clock.Advance(2500 * time.Millisecond)
	a, _ = want(t, s, 10000, map[string]any{"req": "hangup", "uuid": alice.UUID, "callid": id}, nil)
	if a["seconds"] != float64(3) || a["balance"] != float64(7) || a.Str("reason") != "hangup" {
		t.Fatalf("hangup of 2.5 s: %v", a)
	}
	if req := <-ai.hangups; req.CallID != id || req.Seconds == nil || *req.Seconds != 3 {
		t.Fatalf("the service was told %+v", req)
	}
	if b := balanceOf(t, s, alice); b != 7 {
		t.Fatalf("balance %v after 3 s, want 7", b)
	}

	// The service fails, hangs or answers nonsense: 10031, nothing stored,
	// nothing charged.
	calls := rows(t, db, `SELECT COUNT(*) FROM calls`)
	for _, mode := range []string{"fail", "hang", "garbage"} {
		ai.set(mode)
		want(t, s, 10031, map[string]any{"req": "aicall", "uuid": alice.UUID}, nil)
	}
	if n := rows(t, db, `SELECT COUNT(*) FROM calls`); n != calls || balanceOf(t, s, alice) != 7 {
		t.Fatalf("failed aicalls stored calls (%d → %d) or charged", calls, n)
	}

	// A call that reaches zero balance ends by itself.
	ai.set("answer")
	a, _ = want(t, s, 10000, map[string]any{"req": "aicall", "uuid": alice.UUID}, nil)
	id = a.Str("callid")
	clock.Advance(8 * time.Second)
	a, _ = callinfo(t, s, alice, id, 30)
	if a.Str("state") != "ended" || a.Str("reason") != "timeout" {
		t.Fatalf("AI call past its balance: %v", a)
	}
	if b := balanceOf(t, s, alice); b != 0 {
		t.Fatalf("balance %v after the call ran it out", b)
	}
	want(t, s, 10032, map[string]any{"req": "aicall", "uuid": alice.UUID}, nil)
	want(t, s, 10012, map[string]any{"req": "hangup", "uuid": alice.UUID, "callid": id}, nil)
	// ringd tells the service of the end it made.
	if req := <-ai.hangups; req.CallID != id || req.Seconds == nil || *req.Seconds != 7 {
		t.Fatalf("the service was told %+v, want %s and 7 s", req, id)
	}
}
