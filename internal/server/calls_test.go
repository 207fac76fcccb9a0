package server_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

// callPost posts a request from any goroutine: it returns errors instead
// of failing the test, so racing goroutines can use it.
func callPost(s *ringtest.Server, head map[string]any, data []byte) (ringtest.Answer, []byte, error) {
	resp, err := http.Post(s.URL, "application/octet-stream", bytes.NewReader(ringtest.Body(head, data)))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	h, d := raw, []byte(nil)
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		h, d = raw[:i], raw[i+1:]
	}
	var a ringtest.Answer
	if err := json.Unmarshal(h, &a); err != nil {
		return nil, nil, fmt.Errorf("answer %q: %v", raw, err)
	}
	return a, d, nil
}

// want posts and fails unless the answer's code is code.
func want(t *testing.T, s *ringtest.Server, code int, head map[string]any, data []byte) (ringtest.Answer, []byte) {
	t.Helper()
	a, d := s.Post(t, head, data)
	if a.Code() != code {
		t.Fatalf("%v: answer %v, want %d", head, a, code)
	}
	if code != 10000 && code != 10020 {
		// The order of the keys is TestDetailTexts' to check.
		detail, hasDetail := a["detail"].(string)
		raw := fmt.Sprintf(`{"answer":%d,"error":%q}`, code, a["error"])
		if hasDetail {
			raw = fmt.Sprintf(`{"answer":%d,"error":%q,"detail":%q}`, code, a["error"], detail)
		}
		if p := errAnswerProblem([]byte(raw), code); p != "" || len(a) != 2+len(detail[:min(len(detail), 1)]) {
			t.Fatalf("%v: error answer %v: %s", head, a, p)
		}
	}
	return a, d
}

// callDB opens the server's database read-only beside it, to see what the
// ending transactions stored (messages, queued pushes).
func callDB(t *testing.T, s *ringtest.Server) *sql.DB {
	t.Helper()
	ringtest.NeedSQLite(t)
	p := filepath.Join(s.Dir, "ringd.db")
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: p}).EscapedPath()+"?mode=ro&_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rows(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func call(t *testing.T, s *ringtest.Server, from ringtest.User, to string, offer []byte) string {
	t.Helper()
	head := map[string]any{"req": "call", "uuid": from.UUID, "callee": to}
	if offer != nil {
		head["length"] = len(offer)
	}
	a, _ := want(t, s, 10000, head, offer)
	id := a.Str("callid")
	if len(id) != 32 {
		t.Fatalf("callid %q", id)
	}
	return id
}

func callinfo(t *testing.T, s *ringtest.Server, u ringtest.User, id string, wait int) (ringtest.Answer, []byte) {
	t.Helper()
	a, d := want(t, s, 10000, map[string]any{"req": "callinfo", "uuid": u.UUID, "callid": id, "wait": wait}, nil)
	if a["length"] != float64(len(d)) {
		t.Fatalf("callinfo length %v, data %d bytes", a["length"], len(d))
	}
	return a, d
}

func missedCalls(t *testing.T, s *ringtest.Server, u ringtest.User) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range s.Get(t, u) {
		if m["uri"] == "missed.call" {
			out = append(out, m)
		}
	}
	return out
}

// TestCallAnswered walks ringing → answered → ended with the data of both
// sides, the callinfo wait woken by the answer, and the 10012s after.
func TestCallAnswered(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob, eve := s.User(t, "Alice"), s.User(t, "Bob"), s.User(t, "Eve")
	offer := []byte("v=0 offer\x00with a NUL")
	id := call(t, s, alice, bob.Number, offer)

	a, d := callinfo(t, s, bob, id, 0)
	if a.Str("state") != "ringing" || a.Str("caller") != alice.Number || a.Str("caller_name") != "Alice" ||
		a.Str("callee") != bob.Number || !bytes.Equal(d, offer) || a["reason"] != nil || a["time"] == nil {
		t.Fatalf("callinfo of the callee: %v %q", a, d)
	}
	if a, d := callinfo(t, s, alice, id, 0); len(d) != 0 || a.Str("state") != "ringing" {
		t.Fatalf("callinfo of the caller before an answer: %v %q", a, d)
	}
	want(t, s, 10012, map[string]any{"req": "callinfo", "uuid": eve.UUID, "callid": id}, nil)

	// The caller waits; the answer itself wakes it. Had it been woken by
	// its 30 s running out instead, it would still say ringing.
	got := make(chan ringtest.Answer, 1)
	gotData := make(chan []byte, 1)
	go func() {
		a, d, err := callPost(s, map[string]any{"req": "callinfo", "uuid": alice.UUID, "callid": id, "wait": 30}, nil)
		if err != nil {
			t.Error(err)
		}
		got <- a
		gotData <- d
	}()
	sdp := []byte("v=0 answer")
	want(t, s, 10012, map[string]any{"req": "answer", "uuid": alice.UUID, "callid": id}, nil) // not the callee
	want(t, s, 10000, map[string]any{"req": "answer", "uuid": bob.UUID, "callid": id, "length": len(sdp)}, sdp)
	if a, d := <-got, <-gotData; a.Str("state") != "answered" || !bytes.Equal(d, sdp) || a["answer_time"] == nil {
		t.Fatalf("waiting callinfo after the answer: %v %q", a, d)
	}
	want(t, s, 10012, map[string]any{"req": "answer", "uuid": bob.UUID, "callid": id}, nil) // answered already

	a, _ = want(t, s, 10000, map[string]any{"req": "hangup", "uuid": bob.UUID, "callid": id}, nil)
	if a.Str("state") != "ended" || a.Str("reason") != "hangup" {
		t.Fatalf("hangup: %v", a)
	}
	want(t, s, 10012, map[string]any{"req": "hangup", "uuid": alice.UUID, "callid": id}, nil)
	want(t, s, 10012, map[string]any{"req": "answer", "uuid": bob.UUID, "callid": id}, nil)
	a, d = callinfo(t, s, alice, id, 30) // ended: a wait returns at once
	if a.Str("state") != "ended" || a.Str("reason") != "hangup" || a["end_time"] == nil || !bytes.Equal(d, sdp) {
		t.Fatalf("callinfo after hangup: %v %q", a, d)
	}
	if m := missedCalls(t, s, bob); len(m) != 0 {
		t.Fatalf("an answered call left a missed call: %v", m)
	}
}

// TestCallErrors: every refusal of call, answer, hangup and callinfo, each
// changing nothing.
func TestCallErrors(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	idle := s.Register(t) // registered, never logged in
	db := callDB(t, s)

	want(t, s, 10002, map[string]any{"req": "call", "uuid": alice.UUID}, nil)
	want(t, s, 10002, map[string]any{"req": "call", "uuid": alice.UUID, "callee": "12"}, nil)
	want(t, s, 10002, map[string]any{"req": "call", "callee": bob.Number}, nil)
	want(t, s, 10002, map[string]any{"req": "call", "uuid": alice.UUID, "callee": bob.Number, "caller_name": "A"}, nil)
	want(t, s, 10002, map[string]any{"req": "call", "uuid": alice.UUID, "callee": bob.Number, "length": 65537},
		make([]byte, 65537))
	want(t, s, 10002, map[string]any{"req": "call", "uuid": alice.UUID, "callee": bob.Number, "length": 5}, []byte("abc"))
	want(t, s, 10002, map[string]any{"req": "call", "uuid": alice.UUID, "callee": bob.Number}, []byte("no length"))
	want(t, s, 10004, map[string]any{"req": "call", "uuid": "not-a-uuid", "callee": bob.Number}, nil)
	want(t, s, 10004, map[string]any{"req": "call", "uuid": "00000000-0000-4000-8000-000000000000", "callee": bob.Number}, nil)
	want(t, s, 10010, map[string]any{"req": "call", "uuid": idle.UUID, "callee": bob.Number}, nil)
	want(t, s, 10011, map[string]any{"req": "call", "uuid": alice.UUID, "callee": idle.Number}, nil)
	want(t, s, 10011, map[string]any{"req": "call", "uuid": alice.UUID, "callee": "999999999999"}, nil)
	if n := rows(t, db, `SELECT COUNT(*) FROM calls`); n != 0 {
		t.Fatalf("refused calls stored %d calls", n)
	}
	// The largest data passes.
	big := bytes.Repeat([]byte{0xff}, 64<<10)
	id := call(t, s, alice, bob.Number, big)
	if _, d := callinfo(t, s, bob, id, 0); !bytes.Equal(d, big) {
		t.Fatalf("64 KiB offer came back as %d bytes", len(d))
	}
	for _, req := range []string{"callinfo", "answer", "hangup"} {
		want(t, s, 10002, map[string]any{"req": req, "uuid": bob.UUID}, nil)
		want(t, s, 10012, map[string]any{"req": req, "uuid": bob.UUID, "callid": "nope"}, nil)
		want(t, s, 10012, map[string]any{"req": req, "uuid": bob.UUID, "callid": strings.Repeat("0", 32)}, nil)
		want(t, s, 10004, map[string]any{"req": req, "uuid": "x", "callid": id}, nil)
		want(t, s, 10012, map[string]any{"req": req, "uuid": idle.UUID, "callid": id}, nil)
	}
	want(t, s, 10002, map[string]any{"req": "callinfo", "uuid": bob.UUID, "callid": id, "wait": -1}, nil)
	want(t, s, 10002, map[string]any{"req": "callinfo", "uuid": bob.UUID, "callid": id, "wait": "1"}, nil)
	want(t, s, 10002, map[string]any{"req": "hangup", "uuid": bob.UUID, "callid": id}, []byte("x"))
	if a, _ := callinfo(t, s, bob, id, 0); a.Str("state") != "ringing" {
		t.Fatalf("refused requests changed the call: %v", a)
	}
}

// TestCallCancelledAndDeclined: a ringing call the caller ends leaves the
// callee a missed call and its pushes; one the callee ends leaves none.
func TestCallCancelledAndDeclined(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	// As when a push provider takes every app: the pushes go to the outbox.
	s.Store.SetPushFilter(func(string) bool { return true })
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	db := callDB(t, s)

	id := call(t, s, alice, bob.Number, nil)
	if n := rows(t, db, `SELECT COUNT(*) FROM outbox WHERE kind = 'call' AND callid = ? AND token = ?`, id, bob.Token); n != 1 {
		t.Fatalf("%d VoIP pushes queued for the call, want 1", n)
	}
	a, _ := want(t, s, 10000, map[string]any{"req": "hangup", "uuid": alice.UUID, "callid": id}, nil)
	if a.Str("reason") != "cancelled" {
		t.Fatalf("caller's hangup while ringing: %v", a)
	}
	m := missedCalls(t, s, bob)
	if len(m) != 1 || m[0]["callid"] != id || m[0]["caller"] != alice.Number || m[0]["caller_name"] != "Alice" ||
		m[0]["callee"] != bob.Number || m[0]["length"] != float64(0) {
		t.Fatalf("missed calls: %v", m)
	}
	for _, kind := range []string{"call-ended", "missed-call"} {
		if n := rows(t, db, `SELECT COUNT(*) FROM outbox WHERE kind = ? AND callid = ? AND token = ?`, kind, id, bob.Token); n != 1 {
			t.Fatalf("%d %s pushes queued, want 1", n, kind)
		}
	}

	id = call(t, s, alice, bob.Number, nil)
	a, _ = want(t, s, 10000, map[string]any{"req": "hangup", "uuid": bob.UUID, "callid": id}, nil)
	if a.Str("reason") != "declined" {
		t.Fatalf("callee's hangup while ringing: %v", a)
	}
	if m := missedCalls(t, s, bob); len(m) != 0 {
		t.Fatalf("a declined call left %v", m)
	}
	if n := rows(t, db, `SELECT COUNT(*) FROM outbox WHERE kind IN ('call-ended', 'missed-call') AND callid = ?`, id); n != 0 {
		t.Fatalf("a declined call queued %d pushes", n)
	}
	if a, _ := callinfo(t, s, alice, id, 0); a.Str("state") != "ended" || a.Str("reason") != "declined" {
		t.Fatalf("callinfo of a declined call: %v", a)
	}
}

// TestRingTimeout: an unanswered call ends by itself after -ring-timeout;
// the waiting caller and the callee's long-poll both hear of it.
func TestRingTimeout(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.RingTimeout = 200 * time.Millisecond
	s := ringtest.New(t, cfg)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	id := call(t, s, alice, bob.Number, nil)
	a, _ := callinfo(t, s, alice, id, 30)
	if a.Str("state") != "ended" || a.Str("reason") != "timeout" {
		t.Fatalf("after the ring timeout: %v", a)
	}
	g, _ := want(t, s, 10000, map[string]any{"req": "get", "uuid": []string{bob.UUID}, "wait": 30}, nil)
	m := ringtest.Messages(g)
	if len(m) != 1 || m[0]["uri"] != "missed.call" || m[0]["callid"] != id {
		t.Fatalf("callee's messages after a timeout: %v", m)
	}
	want(t, s, 10012, map[string]any{"req": "answer", "uuid": bob.UUID, "callid": id}, nil)
}

// TestRingTimeoutSurvivesRestart: the deadline is stored, so a call still
// ringing when the server stops ends on time once it is back.
func TestRingTimeoutSurvivesRestart(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	clock := cfg.Clock.(*ringtest.Clock)
	t0 := time.Now()
	clock.Set(t0)
	s1 := ringtest.New(t, cfg)
	alice, bob := s1.User(t, "Alice"), s1.User(t, "Bob")
	id := call(t, s1, alice, bob.Number, nil)
	s1.Close()

	s2 := ringtest.NewAt(t, cfg, s1.Dir)
	if a, _ := callinfo(t, s2, alice, id, 0); a.Str("state") != "ringing" {
		t.Fatalf("restarted before the deadline: %v", a)
	}
	clock.Set(t0.Add(server.DefaultRingTimeout + time.Second))
	a, _ := callinfo(t, s2, alice, id, 30)
	if a.Str("state") != "ended" || a.Str("reason") != "timeout" {
		t.Fatalf("after restart and the ring timeout: %v", a)
	}
	if m := missedCalls(t, s2, bob); len(m) != 1 || m[0]["callid"] != id {
		t.Fatalf("missed calls after restart: %v", m)
	}
}

// TestMaxCallLength: an answered call never hung up ends at the maximum.
func TestMaxCallLength(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxCallLength = time.Hour
	clock := cfg.Clock.(*ringtest.Clock)
	clock.Set(time.Now())
	s := ringtest.New(t, cfg)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	id := call(t, s, alice, bob.Number, nil)
	want(t, s, 10000, map[string]any{"req": "answer", "uuid": bob.UUID, "callid": id}, nil)
	clock.Advance(59 * time.Minute)
	if a, _ := callinfo(t, s, alice, id, 0); a.Str("state") != "answered" {
		t.Fatalf("before the maximum: %v", a)
	}
	clock.Advance(2 * time.Minute)
	a, _ := callinfo(t, s, alice, id, 30)
	if a.Str("state") != "ended" || a.Str("reason") != "timeout" {
		t.Fatalf("past the maximum length: %v", a)
	}
	if m := missedCalls(t, s, bob); len(m) != 0 {
		t.Fatalf("an answered call left %v", m)
	}
}

// race runs the requests at once and returns their answer codes in order.
func race(t *testing.T, s *ringtest.Server, reqs ...map[string]any) []int {
	t.Helper()
	codes := make([]int, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, _, err := callPost(s, r, nil)
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = a.Code()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// TestCallRaces hammers the transitions that race: whatever the order,
// exactly one outcome wins, the losers get 10012, and what is stored agrees
// with the answers.
func TestCallRaces(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	db := callDB(t, s)
	const rounds = 15
	req := func(name string, u ringtest.User, id string) map[string]any {
		return map[string]any{"req": name, "uuid": u.UUID, "callid": id}
	}
	missed := func(id string) int {
		return rows(t, db, `SELECT COUNT(*) FROM messages WHERE uri = 'missed.call' AND callid = ?`, id)
	}
	for i := 0; i < rounds; i++ {
		// Two answers: one wins.
		id := call(t, s, alice, bob.Number, nil)
		c := race(t, s, req("answer", bob, id), req("answer", bob, id), req("answer", bob, id))
		if n := countCode(c, 10000); n != 1 || countCode(c, 10012) != 2 {
			t.Fatalf("three answers: %v", c)
		}
		want(t, s, 10000, req("hangup", alice, id), nil)

		// Answer against decline: one wins.
		id = call(t, s, alice, bob.Number, nil)
		c = race(t, s, req("answer", bob, id), req("hangup", bob, id))
		a, _ := callinfo(t, s, alice, id, 0)
		switch {
		case c[0] == 10000 && c[1] == 10000:
			// The answer came first; the hangup then ended an answered call.
			if a.Str("reason") != "hangup" {
				t.Fatalf("answer then hangup: %v", a)
			}
		case c[0] == 10012 && c[1] == 10000:
			if a.Str("reason") != "declined" {
				t.Fatalf("decline then answer: %v", a)
			}
		default:
			t.Fatalf("answer against decline: %v", c)
		}
		if missed(id) != 0 {
			t.Fatal("answer against decline left a missed call")
		}

		// Answer against the caller's hangup, and several hangups at once.
		id = call(t, s, alice, bob.Number, nil)
		c = race(t, s, req("answer", bob, id), req("hangup", alice, id), req("hangup", alice, id))
		a, _ = callinfo(t, s, bob, id, 0)
		hangups := countCode(c[1:], 10000)
		switch {
		case c[0] == 10000 && hangups == 1:
			if a.Str("reason") != "hangup" || missed(id) != 0 {
				t.Fatalf("answer won: %v, %d missed", a, missed(id))
			}
		case c[0] == 10012 && hangups == 1:
			if a.Str("reason") != "cancelled" || missed(id) != 1 {
				t.Fatalf("hangup won: %v, %d missed", a, missed(id))
			}
		default:
			t.Fatalf("answer against two hangups: %v", c)
		}
		if countCode(c, 10012)+countCode(c, 10000) != len(c) {
			t.Fatalf("answers %v", c)
		}
	}
}

// TestHangupRacesTimeout: hangups fired at about the moment the ring
// timeout ends the call; exactly one end wins, and one missed call at most.
func TestHangupRacesTimeout(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.RingTimeout = 20 * time.Millisecond
	s := ringtest.New(t, cfg)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	db := callDB(t, s)
	outcomes := map[string]int{}
	for i := 0; i < 20; i++ {
		id := call(t, s, alice, bob.Number, nil)
		// Spread the hangups around the deadline, so each side wins some.
		time.Sleep(time.Duration(i%5) * 5 * time.Millisecond)
		c := race(t, s, map[string]any{"req": "hangup", "uuid": alice.UUID, "callid": id},
			map[string]any{"req": "hangup", "uuid": bob.UUID, "callid": id})
		a, _ := callinfo(t, s, alice, id, 30)
		won := countCode(c, 10000)
		if won+countCode(c, 10012) != 2 || won > 1 || a.Str("state") != "ended" {
			t.Fatalf("hangups %v, call %v", c, a)
		}
		reason := a.Str("reason")
		if (won == 0) != (reason == "timeout") {
			t.Fatalf("hangups %v but reason %q", c, reason)
		}
		wantMissed := 0
		if reason == "timeout" || reason == "cancelled" {
			wantMissed = 1
		}
		if n := rows(t, db, `SELECT COUNT(*) FROM messages WHERE uri = 'missed.call' AND callid = ?`, id); n != wantMissed {
			t.Fatalf("reason %s: %d missed calls", reason, n)
		}
		outcomes[reason]++
	}
	t.Logf("outcomes: %v", outcomes)
}

func countCode(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}
