package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestDetailOnEveryFormatError drives the requests TestBadInput does not
// (calls, the AI call, links, the operator's requests) with bad input of
// every kind, and checks that each 10002 answer tells the client what was
// wrong (errAnswerProblem) and that nothing changed. TestBadInput and
// TestUnprintableTextRefused hold the other requests to the same check.
func TestDetailOnEveryFormatError(t *testing.T) {
	ai := newAIService(t)
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "admin-secret"
	cfg.AIURL = ai.URL
	s := ringtest.New(t, cfg)
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	ca, _ := want(t, s, 10000, map[string]any{"req": "call", "uuid": alice.UUID, "callee": bob.Number}, nil)
	callid := ca.Str("callid")

	hello := []byte("hello")
	ref := obj{"req": "callinfo", "uuid": alice.UUID, "callid": callid}
	var cases [][]byte
	add := func(head obj, data []byte, fields ...string) {
		for _, f := range fields {
			cases = append(cases, body(head.without(f), data))
			for _, wrong := range []any{nil, 5, 1.5, "5", []string{"x"}, []any{nil}, obj{}, true, -1, ""} {
				cases = append(cases, body(head.with(f, wrong), data))
			}
		}
	}
	add(obj{"req": "call", "uuid": alice.UUID, "callee": bob.Number, "length": 5}, hello, "uuid", "callee", "length", "caller_name")
	for _, req := range []string{"callinfo", "answer", "hangup"} {
		add(ref.with("req", req), nil, "uuid", "callid", "wait")
		cases = append(cases, body(ref.with("req", req, "length", 5), []byte("hell")))
	}
	cases = append(cases, body(ref, hello)) // callinfo takes no data
	add(obj{"req": "aicall", "uuid": alice.UUID, "length": 5}, hello, "uuid", "length", "caller_name")
	add(obj{"req": "link", "uuid": alice.UUID, "data": "link"}, nil, "uuid", "data")
	add(obj{"req": "linked", "uuid": alice.UUID}, nil, "uuid")
	add(obj{"req": "balance", "uuid": alice.UUID}, nil, "uuid")
	add(obj{"req": "reserve", "auth": "admin-secret", "numbers": []string{"5550001"}}, nil, "numbers")
	add(obj{"req": "credit", "auth": "admin-secret", "number": alice.Number, "seconds": 5}, nil, "number", "seconds")
	add(obj{"req": "stats", "auth": "admin-secret"}, hello)
	add(obj{"req": "incoming", "uuid": []string{bob.UUID}}, nil, "uuid", "wait", "seen")
	add(obj{"req": "lookup", "auth": "admin-secret", "number": bob.Number}, nil, "number")
	add(obj{"req": "counters", "auth": "admin-secret"}, hello)
	cases = append(cases,
		body(obj{"req": "call", "uuid": alice.UUID, "callee": bob.Number}, hello), // data without length
		body(obj{"req": "call", "uuid": alice.UUID, "callee": bob.Number, "length": 1 << 20}, hello),
		body(obj{"req": "reserve", "auth": "admin-secret", "numbers": []string{"5550001", "12"}}, nil),
		body(obj{"req": "credit", "auth": "admin-secret", "number": alice.Number, "seconds": 2e9}, nil),
		body(obj{"req": "incoming", "uuid": []string{bob.UUID}, "seen": make([]string, 101)}, nil),
	)

	formatErrors := 0
	for _, b := range cases {
		before := snapshot(t, db, s)
		status, got, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(b))
		var a struct{ Answer int }
		if err := json.Unmarshal(bytes.SplitN(got, []byte{0}, 2)[0], &a); err != nil || status != http.StatusOK {
			t.Fatalf("%q: answer %d %s", b, status, got)
		}
		if a.Answer == 10000 {
			continue // an optional field left out, or a value that is allowed
		}
		if a.Answer == 10002 {
			formatErrors++
		}
		if p := errAnswerProblem(got, a.Answer); p != "" {
			t.Errorf("%q: answer %s: %s", b, got, p)
		}
		if after := snapshot(t, db, s); after != before {
			t.Fatalf("%q: a refused request changed the store", b)
		}
	}
	if formatErrors < len(cases)/2 {
		t.Fatalf("only %d of %d bad inputs were 10002: the table does not test what it says", formatErrors, len(cases))
	}
}

// TestDetailTexts pins the details a client developer reads for common
// mistakes: the field, then the rule, in the protocol's words.
func TestDetailTexts(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	send := obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 12}
	for _, c := range []struct {
		body   []byte
		answer string
	}{
		{body(send.with("callee", "12"), bytes.Repeat([]byte("a"), 12)),
			`{"answer":10002,"error":"format error","detail":"callee: a string of 3 to 15 digits"}`},
		{body(send.with("length", 20), bytes.Repeat([]byte("a"), 12)),
			`{"answer":10002,"error":"format error","detail":"length: does not match the data sent (got 12 bytes)"}`},
		{body(send.with("length", "12"), bytes.Repeat([]byte("a"), 12)),
			`{"answer":10002,"error":"format error","detail":"length: a whole number"}`},
		{body(obj{"req": "fetch", "uuid": bob.UUID, "msgid": "77"}, nil),
			`{"answer":10013,"error":"msgid error","detail":"msgid: not a message to or from you, or expired"}`},
		{[]byte(`{"req":"get",`), `{"answer":10002,"error":"format error","detail":"head: not valid JSON (at byte 13)"}`},
	} {
		_, got, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(c.body))
		if string(got) != c.answer {
			t.Errorf("%q:\n got %s\nwant %s", c.body, got, c.answer)
		}
	}
	// A uuid is never echoed, not even a malformed one.
	leak := strings.Repeat("f", 35)
	_, got, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(body(send.with("uuid", leak), []byte("hello world!"))))
	if bytes.Contains(got, []byte(leak)) || !bytes.HasPrefix(got, []byte(`{"answer":10004,"error":"uuid error","detail":"uuid: `)) {
		t.Errorf("malformed uuid: %s", got)
	}
}
