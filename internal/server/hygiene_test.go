package server_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// controlChars are characters no text field may hold, with the JSON escape
// that spells each: C0 (NUL, U+0001, tab, newline), DEL and C1 (U+0085).
var controlChars = []struct{ name, char, escape string }{
	{"NUL", "\x00", `\u0000`},
	{"U+0001", "\x01", `\u0001`},
	{"tab", "\t", `\u0009`},
	{"newline", "\n", `\u000a`},
	{"DEL", "\x7f", `\u007f`},
	{"U+0085", "\u0085", `\u0085`},
}

// textField is a text field of a request, and a request that is accepted
// and stores something when the field holds printable text.
type textField struct {
	req, field string
	head       obj
	data       []byte
	value      string // printable; "?" in it is where the control character goes
}

// marshalled is f's request with the field's "?" made s, as json.Marshal
// spells it: raw for DEL and C1, which JSON allows unescaped (so the head
// takes the plain decoder's path), escaped for C0.
func (f textField) marshalled(s string) []byte {
	return body(f.head.with(f.field, strings.Replace(f.value, "?", s, 1)), f.data)
}

// spelled is f's request with the field's "?" made the bytes raw, verbatim
// in the JSON: an escape such as \u0001 (encoding/json's path), or bytes
// that are not UTF-8.
func (f textField) spelled(raw string) []byte {
	const mark = "\ue000"
	b := f.marshalled(mark)
	if bytes.Count(b, []byte(mark)) != 1 {
		panic("the mark is not in the body once")
	}
	return bytes.Replace(b, []byte(mark), []byte(raw), 1)
}

// hygieneState is everything a refused request must leave as it was: the
// snapshot of messages, devices and data, and the calls, links and pushes.
func hygieneState(t *testing.T, db *sql.DB, s *ringtest.Server) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString(snapshot(t, db, s))
	for _, q := range []string{
		`SELECT COUNT(*) FROM calls`,
		`SELECT COUNT(*) FROM links`,
		`SELECT COUNT(*) FROM outbox`,
	} {
		fmt.Fprintf(&sb, "%s: %d\n", q, count(t, db, q))
	}
	return sb.String()
}

// TestUnprintableTextRefused: a control character, or bytes that are not
// UTF-8, in any text field people or apps read (login's fields,
// caller_name, fname, link data) is 10002, exactly the protocol's error
// answer, and changes nothing: the device stays bound, the name stays, no
// message, call or link is stored.
func TestUnprintableTextRefused(t *testing.T) {
	ai := newAIService(t)
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "tok"
	cfg.AIURL = ai.URL
	s := ringtest.New(t, cfg)
	db := rawDB(t, s)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	want(t, s, 10000, map[string]any{"req": "credit", "auth": "tok", "number": alice.Number, "seconds": 60}, nil)

	// Each request would move alice to a new device, rename her, store a
	// message, a call or her link: accepted, it changes the store.
	login := obj{"req": "login", "appid": "test.app", "build": "1.0", "name": "Alicia", "locale": "en_US",
		"token": "hygiene-token-2", "uuid": []string{alice.UUID}}
	send := obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 5}
	file := send.with("fname", "a.txt")
	sends := obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number}, "length": 5}
	hello := []byte("hello")
	big := bytes.Repeat([]byte("x"), 5000) // past the inline limit: into the arena
	fields := []textField{
		{"login", "appid", login, nil, "test?app"},
		{"login", "build", login, nil, "1.0?1"},
		{"login", "name", login, nil, "Nm?x"},
		{"login", "locale", login, nil, "en?US"},
		{"login", "token", login, nil, "hygiene?token-3"},
		{"send", "caller_name", send, hello, "Al?ce"},
		{"send", "fname", file, hello, "a?b.txt"},
		{"send large", "fname", file.with("length", len(big)), big, "a?b.bin"},
		{"sends", "caller_name", sends, hello, "Al?ce"},
		{"sends", "fname", sends.with("fname", "a.txt"), hello, "a?b.txt"},
		{"call", "caller_name", obj{"req": "call", "uuid": alice.UUID, "callee": bob.Number, "length": 5}, hello, "Al?ce"},
		{"aicall", "caller_name", obj{"req": "aicall", "uuid": alice.UUID, "length": 5}, hello, "Al?ce"},
		{"link", "data", obj{"req": "link", "uuid": alice.UUID}, nil, "li?nk"},
	}
	for _, f := range fields {
		bad := map[string][]byte{
			"invalid UTF-8":    f.spelled("\xff"),
			"UTF-16 surrogate": f.spelled("\xed\xa0\x80"),
		}
		for _, c := range controlChars {
			bad[c.name] = f.marshalled(c.char)
			bad[c.name+" escaped"] = f.spelled(c.escape)
		}
		for what, b := range bad {
			t.Run(f.req+" "+f.field+" "+what, func(t *testing.T) {
				before := hygieneState(t, db, s)
				status, got, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(b))
				if p := errAnswerProblem(got, 10002); status != http.StatusOK || p != "" {
					t.Fatalf("answer %d %s, want 200 %s: %s", status, got, errBody(10002), p)
				}
				if after := hygieneState(t, db, s); after != before {
					t.Fatalf("a refused request changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			})
		}
	}

	// What others see is as it was: alice is still on her device under
	// her name, with no link, and the AI service heard of no call.
	s.Send(t, alice, bob.Number, "still Alice")
	msgs := s.Get(t, bob)
	if len(msgs) != 1 || msgs[0]["caller_name"] != "Alice" || msgs[0]["text"] != "still Alice" {
		t.Fatalf("bob got %v, want one text from Alice", msgs)
	}
	if a, _ := want(t, s, 10000, map[string]any{"req": "linked", "uuid": alice.UUID}, nil); a["data"] != nil {
		t.Fatalf("linked after refused links: %v", a)
	}
	if _, _, n := ai.last("call"); n != 0 {
		t.Fatalf("refused aicalls reached the AI service %d times", n)
	}
}

// TestPrintableTextAccepted: printable non-ASCII text (a no-break space,
// accents, CJK, emoji, U+FFFD sent as such) passes every text field and
// reaches the other side as sent.
func TestPrintableTextAccepted(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	for _, name := range []string{"Al\u00a0ice", "Zoë 中文 😀", "A\ufffdB", "👩‍👩‍👧 x"} {
		want(t, s, 10000, map[string]any{"req": "login", "appid": "app\u00a0é", "build": "1.0\u00a0β",
			"name": name, "locale": "zh_中", "token": alice.Token, "uuid": []string{alice.UUID}}, nil)
		s.Send(t, alice, bob.Number, "hi")
		want(t, s, 10000, map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 2,
			"caller_name": name, "fname": name + ".txt"}, []byte("hi"))
		msgs := s.Get(t, bob)
		if len(msgs) != 2 || msgs[0]["caller_name"] != name || msgs[1]["caller_name"] != name || msgs[1]["fname"] != name+".txt" {
			t.Fatalf("bob got %v, want two messages from %q", msgs, name)
		}
	}
	want(t, s, 10000, map[string]any{"req": "link", "uuid": bob.UUID, "data": "l\u00a0ink 😀"}, nil)
	if a, _ := want(t, s, 10000, map[string]any{"req": "linked", "uuid": bob.UUID}, nil); a["data"] != "l\u00a0ink 😀" {
		t.Fatalf("linked: %v", a)
	}
}
