package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// obj is a request head; with and without make variants of it.
type obj map[string]any

func (o obj) with(kv ...any) obj {
	c := obj{}
	for k, v := range o {
		c[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

func (o obj) without(keys ...string) obj {
	c := o.with()
	for _, k := range keys {
		delete(c, k)
	}
	return c
}

// body is head as JSON, then a NUL and data when data is not nil.
func body(head obj, data []byte) []byte { return ringtest.Body(head, data) }

type inputCase struct {
	name string
	body []byte
	code int // 10000: accepted (and may store); any other: exactly its error body, nothing stored
}

// reps is s repeated to n characters.
func reps(s string, n int) string { return strings.Repeat(s, n) }

// boundCases checks a string field counted in characters, both ends
// inclusive: min-1 and max+1 are 10002, min and max are accepted, for ASCII
// and for multi-byte characters, which count as one.
func boundCases(req string, base obj, data []byte, field string, min, max int, fresh func() obj) []inputCase {
	var out []inputCase
	b := func(v string) []byte {
		h := base
		if fresh != nil {
			h = fresh()
		}
		return body(h.with(field, v), data)
	}
	for _, ch := range []string{"a", "é", "中", "😀"} {
		if min > 1 {
			out = append(out, inputCase{fmt.Sprintf("%s %s %d×%q", req, field, min-1, ch), b(reps(ch, min-1)), 10002})
		} else if ch == "a" {
			out = append(out, inputCase{fmt.Sprintf("%s %s empty", req, field), b(""), 10002})
		}
		out = append(out,
			inputCase{fmt.Sprintf("%s %s %d×%q", req, field, min, ch), b(reps(ch, min)), 10000},
			inputCase{fmt.Sprintf("%s %s %d×%q", req, field, max, ch), b(reps(ch, max)), 10000},
			inputCase{fmt.Sprintf("%s %s %d×%q", req, field, max+1, ch), b(reps(ch, max+1)), 10002},
		)
	}
	return out
}

// typeCases: a required field missing, null or of a wrong type is 10002; an
// optional one of a wrong type too.
func typeCases(req string, base obj, data []byte, field string, required bool, wrong ...any) []inputCase {
	var out []inputCase
	if required {
		out = append(out,
			inputCase{req + " " + field + " missing", body(base.without(field), data), 10002},
			inputCase{req + " " + field + " null", body(base.with(field, nil), data), 10002},
		)
	}
	for _, w := range wrong {
		j, _ := json.Marshal(w)
		out = append(out, inputCase{fmt.Sprintf("%s %s %s", req, field, j), body(base.with(field, w), data), 10002})
	}
	return out
}

// euroText is n bytes of text: prefix ASCII bytes, then "€" (3 bytes each),
// padded with ASCII. Every split of it between reads cuts characters.
func euroText(prefix, n int) []byte {
	b := bytes.Repeat([]byte("a"), prefix)
	for len(b)+3 <= n {
		b = append(b, "€"...)
	}
	for len(b) < n {
		b = append(b, 'a')
	}
	return b
}

// breakAt makes the character starting at or after i invalid: its last
// byte becomes ASCII, so the text is no longer UTF-8 at that place.
func breakAt(text []byte, i int) []byte {
	b := bytes.Clone(text)
	for i < len(b) && b[i] != 0xe2 {
		i++
	}
	b[i+2] = 'A'
	return b
}

func TestBadInput(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxCallees = 5
	cfg.MaxLength = 1 << 20
	s := ringtest.New(t, cfg)
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob", "Carol")
	alice, bob, carol := us[0], us[1], us[2]
	idle := s.Register(t) // registered, never logged in
	sent := s.Send(t, alice, bob.Number, "first")
	msgid := sent.Str("msgid")

	var cases []inputCase
	add := func(c ...inputCase) { cases = append(cases, c...) }

	// Transport: the body and its head.
	add(
		inputCase{"empty body", nil, 10002},
		inputCase{"invalid JSON", []byte(`{"req":"get",`), 10002},
		inputCase{"invalid JSON with data", []byte("{\"req\":\"send\"\x00abc"), 10002},
		inputCase{"invalid JSON in a near-miss key", []byte(`{"UUID":,"req":"get","uuid":["` + bob.UUID + `"]}`), 10002},
		inputCase{"array", []byte(`[{"req":"get"}]`), 10002},
		inputCase{"string", []byte(`"get"`), 10002},
		inputCase{"number", []byte(`10000`), 10002},
		inputCase{"null", []byte(`null`), 10002},
		inputCase{"whitespace only", []byte(" \n\t"), 10002},
		inputCase{"trailing garbage", []byte(`{"req":"get","uuid":["` + bob.UUID + `"]} x`), 10002},
		inputCase{"two objects", []byte(`{"req":"get","uuid":["` + bob.UUID + `"]}{"req":"get"}`), 10002},
		inputCase{"no req", body(obj{"uuid": []string{bob.UUID}}, nil), 10002},
		inputCase{"req null", body(obj{"req": nil}, nil), 10002},
		inputCase{"req number", body(obj{"req": 1}, nil), 10002},
		inputCase{"req array", body(obj{"req": []string{"get"}}, nil), 10002},
		inputCase{"unknown req", body(obj{"req": "nope"}, nil), 10002},
		inputCase{"req wrong case", body(obj{"req": "GET", "uuid": []string{bob.UUID}}, nil), 10002},
		inputCase{"debug when not in debug mode", body(obj{"req": "debug"}, nil), 10002},
		inputCase{"head over 1 MiB", append([]byte(`{"req":"get","x":"`), bytes.Repeat([]byte("a"), 1<<20+10)...), 10002},
	)

	// register
	reg := obj{"req": "register"}
	add(
		inputCase{"register number 2 digits", body(reg.with("number", "12"), nil), 10002},
		inputCase{"register number 3 digits", body(reg.with("number", "123"), nil), 10000},
		inputCase{"register number 15 digits", body(reg.with("number", "123456789012345"), nil), 10000},
		inputCase{"register number 16 digits", body(reg.with("number", "1234567890123456"), nil), 10002},
		inputCase{"register number not digits", body(reg.with("number", "12a45"), nil), 10002},
		inputCase{"register number full-width digits", body(reg.with("number", "１２３４"), nil), 10002},
		inputCase{"register number with sign", body(reg.with("number", "+12345"), nil), 10002},
		inputCase{"register number as int", body(reg.with("number", 12345678), nil), 10002},
		inputCase{"register auth as int", body(reg.with("auth", 5), nil), 10002},
		inputCase{"register with data", body(reg, []byte("x")), 10002},
		inputCase{"register taken", body(reg.with("number", alice.Number), nil), 10003},
	)

	// login: every field's bounds, types, and unknown uuids.
	tokenN := 0
	freshLogin := func() obj {
		tokenN++
		return obj{"req": "login", "appid": "test.app", "build": "1.0", "name": "Name", "locale": "en_US",
			"token": fmt.Sprintf("bounds-token-%d", tokenN), "uuid": []string{}}
	}
	login := freshLogin()
	for _, f := range []struct {
		field    string
		min, max int
	}{{"appid", 2, 32}, {"build", 2, 16}, {"name", 2, 32}, {"locale", 2, 6}, {"token", 8, 228}} {
		add(boundCases("login", login, nil, f.field, f.min, f.max, freshLogin)...)
		add(typeCases("login", login, nil, f.field, true, 12345678, []string{"abcdefgh"}, obj{}, true)...)
	}
	add(typeCases("login", login, nil, "uuid", true, alice.UUID, []int{1}, []any{nil}, obj{}, 5)...)
	add(
		inputCase{"login unknown uuid", body(login.with("uuid", []string{ringtestUUID}), nil), 10004},
		inputCase{"login one unknown uuid among known", body(login.with("uuid", []string{alice.UUID, ringtestUUID}), nil), 10004},
		inputCase{"login malformed uuid", body(login.with("uuid", []string{"not-a-uuid"}), nil), 10004},
		inputCase{"login uuid with braces", body(login.with("uuid", []string{"{" + alice.UUID[1:35] + "}"}), nil), 10004},
		inputCase{"login with data", body(login, []byte("x")), 10002},
	)

	// send
	send := obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 5}
	hello := []byte("hello")
	file := send.with("fname", "a.bin")
	add(boundCases("send", send, hello, "caller_name", 2, 32, nil)...)
	add(boundCases("send", file, hello, "fname", 2, 100, nil)...)
	add(boundCases("send", send, hello, "cid", 1, 64, nil)...) // every value differs, so none is a retry
	add(typeCases("send", send, hello, "uuid", true, 5, []string{alice.UUID}, obj{})...)
	add(typeCases("send", send, hello, "callee", true, 12345678, []string{bob.Number})...)
	add(typeCases("send", send, hello, "length", true, "5", 5.5, -1, []int{5}, 1e30)...)
	add(typeCases("send", send, hello, "caller_name", false, 5, []string{"ab"})...)
	add(typeCases("send", send, hello, "fname", false, 5, []string{"ab"})...)
	add(typeCases("send", send, hello, "cid", false, 5, []string{"ab"})...)
	add(
		inputCase{"send callee 2 digits", body(send.with("callee", "12"), hello), 10002},
		inputCase{"send callee 16 digits", body(send.with("callee", "1234567890123456"), hello), 10002},
		inputCase{"send callee letters", body(send.with("callee", "12a45678"), hello), 10002},
		inputCase{"send fname with /", body(file.with("fname", "a/b.txt"), hello), 10002},
		inputCase{"send fname with \\", body(file.with("fname", `a\b.txt`), hello), 10002},
		inputCase{"send fname ..", body(file.with("fname", ".."), hello), 10000}, // no separator, so harmless
		inputCase{"send fname with NUL", body(file.with("fname", "a\x00b"), hello), 10002},
		inputCase{"send fname with newline", body(file.with("fname", "a\nb"), hello), 10002},
		inputCase{"send fname with tab", body(file.with("fname", "a\tb"), hello), 10002},
		inputCase{"send fname with DEL", body(file.with("fname", "a\x7fb"), hello), 10002},
		inputCase{"send fname with C1 control", body(file.with("fname", "a\u0085b"), hello), 10002},
		inputCase{"send data shorter than length", body(send.with("length", 6), hello), 10002},
		inputCase{"send data longer than length", body(send.with("length", 4), hello), 10002},
		inputCase{"send length but no NUL", body(send, nil), 10002},
		inputCase{"send NUL with no length", body(send.without("length"), hello), 10002},
		inputCase{"send length 0 text", body(send.with("length", 0), []byte{}), 10002},
		inputCase{"send length 0 text no NUL", body(send.with("length", 0), nil), 10002},
		inputCase{"send length over max-length", body(send.with("length", 1<<20+1), hello), 10002},
		inputCase{"send invalid UTF-8", body(send.with("length", 3), []byte("a\xffb")), 10002},
		inputCase{"send text ending inside a character", body(send.with("length", 4), []byte("ab\xe2\x82")), 10002},
		inputCase{"send overlong UTF-8", body(send.with("length", 2), []byte("\xc0\xaf")), 10002},
		inputCase{"send UTF-16 surrogate", body(send.with("length", 3), []byte("\xed\xa0\x80")), 10002},
		inputCase{"send invalid UTF-8 is fine in a file", body(file.with("length", 3), []byte("a\xffb")), 10000},
		inputCase{"send malformed uuid", body(send.with("uuid", "x"), hello), 10004},
		inputCase{"send unknown uuid", body(send.with("uuid", ringtestUUID), hello), 10004},
		inputCase{"send sender not logged in", body(send.with("uuid", idle.UUID), hello), 10010},
		inputCase{"send callee not registered", body(send.with("callee", "999999999"), hello), 10011},
		inputCase{"send callee not logged in", body(send.with("callee", idle.Number), hello), 10011},
	)
	// Large texts go through the data file; a broken character anywhere,
	// and across the 32 KiB reads of the body, is refused.
	big := euroText(0, 100_000)
	bigHead := body(send.with("length", len(big)), nil)
	for _, pfx := range []int{0, 1, 2} {
		text := euroText(pfx, 100_000)
		add(inputCase{fmt.Sprintf("send 100 kB multi-byte text, offset %d", pfx), body(send.with("length", len(text)), text), 10000})
	}
	for _, base := range []int{32 << 10, 32<<10 - len(bigHead), 64 << 10, 64<<10 - len(bigHead), 4096} {
		for d := -4; d <= 4; d++ {
			add(inputCase{fmt.Sprintf("send large text broken at %d%+d", base, d),
				body(send.with("length", len(big)), breakAt(big, base+d)), 10002})
		}
	}
	add(
		inputCase{"send large text ending inside a character", body(send.with("length", len(big)-2), big[:len(big)-2]), 10002},
		inputCase{"send large data shorter than length", body(file.with("length", 100_001), big), 10002},
		inputCase{"send large data longer than length", body(file.with("length", 99_999), big), 10002},
		inputCase{"send large length but no NUL", body(file.with("length", 100_000), nil), 10002},
	)

	// sends: the shared checks, and callees.
	sends := obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number}, "length": 5}
	add(typeCases("sends", sends, hello, "callees", true, bob.Number, []int{1}, []any{nil}, obj{})...)
	add(typeCases("sends", sends, hello, "uuid", true, 5)...)
	add(typeCases("sends", sends, hello, "length", true, "5", -1)...)
	add(
		inputCase{"sends callees empty", body(sends.with("callees", []string{}), hello), 10002},
		inputCase{"sends 5 callees (max-callees)", body(sends.with("callees", []string{bob.Number, carol.Number, bob.Number, "1234567", idle.Number}), hello), 10000},
		inputCase{"sends 6 callees (over max-callees)", body(sends.with("callees", []string{bob.Number, carol.Number, bob.Number, "1234567", idle.Number, "7654321"}), hello), 10002},
		inputCase{"sends one callee malformed", body(sends.with("callees", []string{bob.Number, "12"}), hello), 10002},
		inputCase{"sends no callee in use", body(sends.with("callees", []string{idle.Number, "1234567"}), hello), 10011},
		inputCase{"sends data shorter", body(sends.with("length", 6), hello), 10002},
		inputCase{"sends data longer", body(sends.with("length", 4), hello), 10002},
		inputCase{"sends invalid UTF-8", body(sends.with("length", 3), []byte("a\xffb")), 10002},
		inputCase{"sends empty text", body(sends.with("length", 0), []byte{}), 10002},
		inputCase{"sends fname with /", body(sends.with("fname", "x/y"), hello), 10002},
		inputCase{"sends caller_name 33", body(sends.with("caller_name", reps("é", 33)), hello), 10002},
		inputCase{"sends NUL with no length", body(sends.without("length"), hello), 10002},
		inputCase{"sends unknown uuid", body(sends.with("uuid", ringtestUUID), hello), 10004},
		inputCase{"sends sender not in use", body(sends.with("uuid", idle.UUID), hello), 10010},
	)

	// get and history
	for _, req := range []string{"get", "history"} {
		g := obj{"req": req, "uuid": []string{carol.UUID}}
		add(typeCases(req, g, nil, "uuid", true, carol.UUID, []int{1}, []any{nil}, obj{})...)
		add(typeCases(req, g, nil, "after", false, "1", 1.5, []int{1})...)
		add(
			inputCase{req + " uuid empty", body(g.with("uuid", []string{}), nil), 10002},
			inputCase{req + " uuid malformed", body(g.with("uuid", []string{"x"}), nil), 10004},
			inputCase{req + " one uuid unknown", body(g.with("uuid", []string{carol.UUID, ringtestUUID}), nil), 10004},
			inputCase{req + " with data", body(g, []byte("x")), 10002},
			inputCase{req + " with empty data", body(g, []byte{}), 10002},
		)
	}
	hist := obj{"req": "history", "uuid": []string{bob.UUID}}
	add(typeCases("history", hist, nil, "after_msgid", false, 5, []string{"1"})...)
	add(inputCase{"history after_msgid not a msgid", body(hist.with("after_msgid", "x"), nil), 10013})

	// fetch
	fetch := obj{"req": "fetch", "uuid": bob.UUID, "msgid": msgid}
	add(typeCases("fetch", fetch, nil, "uuid", true, 5, []string{bob.UUID})...)
	add(typeCases("fetch", fetch, nil, "msgid", true, 5, []string{msgid})...)
	add(typeCases("fetch", fetch, nil, "offset", false, "1", 1.5)...)
	add(typeCases("fetch", fetch, nil, "limit", false, "1", 1.5)...)
	add(
		inputCase{"fetch offset -1", body(fetch.with("offset", -1), nil), 10002},
		inputCase{"fetch limit -1", body(fetch.with("limit", -1), nil), 10002},
		inputCase{"fetch offset past the end", body(fetch.with("offset", 6), nil), 10002},
		inputCase{"fetch offset at the end", body(fetch.with("offset", 5), nil), 10000},
		inputCase{"fetch msgid not a number", body(fetch.with("msgid", "abc"), nil), 10013},
		inputCase{"fetch msgid 0", body(fetch.with("msgid", "0"), nil), 10013},
		inputCase{"fetch msgid negative", body(fetch.with("msgid", "-1"), nil), 10013},
		inputCase{"fetch msgid unknown", body(fetch.with("msgid", "987654321"), nil), 10013},
		inputCase{"fetch msgid huge", body(fetch.with("msgid", "99999999999999999999999"), nil), 10013},
		inputCase{"fetch malformed uuid", body(fetch.with("uuid", "x"), nil), 10004},
		inputCase{"fetch with data", body(fetch, []byte("x")), 10002},
	)

	// read and status
	for _, req := range []string{"read", "status"} {
		uuid := bob.UUID
		if req == "status" {
			uuid = alice.UUID
		}
		r := obj{"req": req, "uuid": uuid, "msgid": []string{msgid}}
		add(typeCases(req, r, nil, "uuid", true, 5, []string{uuid})...)
		add(typeCases(req, r, nil, "msgid", true, msgid, []int{1}, []any{nil}, obj{})...)
		add(
			inputCase{req + " msgid empty", body(r.with("msgid", []string{}), nil), 10002},
			inputCase{req + " msgid not a number", body(r.with("msgid", []string{msgid, "x"}), nil), 10013},
			inputCase{req + " msgid unknown", body(r.with("msgid", []string{msgid, "987654321"}), nil), 10013},
			inputCase{req + " malformed uuid", body(r.with("uuid", "x"), nil), 10004},
			inputCase{req + " unknown uuid", body(r.with("uuid", ringtestUUID), nil), 10004},
			inputCase{req + " with data", body(r, []byte("x")), 10002},
		)
	}

	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		names[c.name] = true
		ok := t.Run(c.name, func(t *testing.T) {
			before := ""
			if c.code != 10000 {
				before = snapshot(t, db, s)
			}
			status, got, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(c.body))
			if status != http.StatusOK {
				t.Fatalf("HTTP %d %s", status, got)
			}
			if c.code == 10000 {
				var a ringtest.Answer
				if err := json.Unmarshal(bytes.SplitN(got, []byte{0}, 2)[0], &a); err != nil || a.Code() != 10000 {
					t.Fatalf("answer %s, want 10000", got)
				}
				return
			}
			if p := errAnswerProblem(got, c.code); p != "" {
				t.Fatalf("answer %s, want %s: %s", got, errBody(c.code), p)
			}
			if after := snapshot(t, db, s); after != before {
				t.Fatalf("a refused request changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
		if !ok && testing.Short() {
			break
		}
	}

	// Any method but POST: 405 with the 10002 body.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead} {
		status, got, h := rawResponse(t, m, s.URL, bytes.NewReader(body(obj{"req": "get", "uuid": []string{bob.UUID}}, nil)))
		if status != http.StatusMethodNotAllowed {
			t.Errorf("%s: HTTP %d, want 405", m, status)
		}
		if p := errAnswerProblem(got, 10002); m != http.MethodHead && p != "" {
			t.Errorf("%s: body %s, want %s: %s", m, got, errBody(10002), p)
		}
		if h.Get("Allow") != http.MethodPost {
			t.Errorf("%s: Allow %q", m, h.Get("Allow"))
		}
	}
	// The message sent before the table is still undelivered: no refused
	// get marked it.
	if msgs := s.Get(t, bob); len(msgs) == 0 || msgs[0]["msgid"] != msgid {
		t.Fatalf("first message was taken by a refused request: %v", msgs)
	}
}

// ringtestUUID is a well-formed uuid that no number has.
const ringtestUUID = "00000000-0000-4000-8000-000000000000"
