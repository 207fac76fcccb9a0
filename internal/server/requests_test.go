package server_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRegister(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	seen := map[string]bool{}
	for range 20 {
		a, _ := s.Must(t, obj{"req": "register"}, nil)
		n, u := a.Str("number"), a.Str("uuid")
		if len(n) != 8 || n[0] == '0' || strings.Trim(n, "0123456789") != "" {
			t.Fatalf("allocated number %q: want 8 digits, no leading zero", n)
		}
		if !uuidRE.MatchString(u) || seen[u] || seen[n] {
			t.Fatalf("uuid %q (or number %q) malformed or repeated", u, n)
		}
		seen[u], seen[n] = true, true
	}
	a, _ := s.Must(t, obj{"req": "register", "number": "88886666"}, nil)
	if a.Str("number") != "88886666" || !uuidRE.MatchString(a.Str("uuid")) {
		t.Fatalf("register 88886666: %v", a)
	}
	wantError(t, s, body(obj{"req": "register", "number": "88886666"}, nil), 10003)

	// A reserved number is not available either (reserved by the operator;
	// written here straight into the database, as reserve would).
	ringtest.NeedSQLite(t) // the rest writes into its file
	p := filepath.Join(s.Dir, "ringd.db")
	rw, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: p}).EscapedPath()+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.Exec(`INSERT INTO reserved(number) VALUES('110')`); err != nil {
		t.Fatal(err)
	}
	wantError(t, s, body(obj{"req": "register", "number": "110"}, nil), 10003)

	// The uuid works: it logs the number in.
	s.Login(t, "token-88886666", "Owner", a.Str("uuid"))
}

func TestRegisterKey(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.RegisterKey = "s3cret-register-key"
	s := ringtest.New(t, cfg)
	db := rawDB(t, s)
	before := snapshot(t, db, s)
	wantError(t, s, body(obj{"req": "register"}, nil), 10061)
	wantError(t, s, body(obj{"req": "register", "auth": "wrong"}, nil), 10061)
	wantError(t, s, body(obj{"req": "register", "auth": ""}, nil), 10061)
	wantError(t, s, body(obj{"req": "register", "auth": "s3cret-register-key "}, nil), 10061)
	wantError(t, s, body(obj{"req": "register", "number": "5551234", "auth": "s3cret-register-kex"}, nil), 10061)
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("refused register stored something:\n%s", after)
	}
	a, _ := s.Must(t, obj{"req": "register", "auth": "s3cret-register-key"}, nil)
	if a.Str("number") == "" {
		t.Fatalf("register with key: %v", a)
	}
}

// token returns the push token the number is bound to ("" when none).
func token(t testing.TB, db *sql.DB, number string) string {
	t.Helper()
	var tok sql.NullString
	if err := db.QueryRow(`SELECT token FROM numbers WHERE number = ?`, number).Scan(&tok); err != nil {
		t.Fatal(err)
	}
	return tok.String
}

func TestLoginMoveAndLogout(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	a, b, c := s.Register(t), s.Register(t), s.Register(t)
	s.Login(t, "device-three", "Carol", c.UUID)
	c.Token = "device-three"

	// Not yet in use: nobody can send to a or b, nor can they send.
	if got := s.Send(t, c, a.Number, "hi"); got.Code() != 10011 {
		t.Fatalf("send to a number never logged in: %v", got)
	}
	if got := s.Send(t, a, c.Number, "hi"); got.Code() != 10010 {
		t.Fatalf("send from a number never logged in: %v", got)
	}

	// One device, two numbers; the answer lists them in the order of uuid.
	got := s.Login(t, "device-one", "Ann", b.UUID, a.UUID)
	if fmt.Sprint(got["numbers"]) != fmt.Sprint([]any{b.Number, a.Number}) {
		t.Fatalf("login numbers %v, want [%s %s]", got["numbers"], b.Number, a.Number)
	}
	if token(t, db, a.Number) != "device-one" || token(t, db, b.Number) != "device-one" {
		t.Fatal("login did not bind both numbers")
	}
	if m := s.Send(t, a, c.Number, "from a"); m.Code() != 10000 {
		t.Fatalf("send after login: %v", m)
	}
	if msgs := s.Get(t, c); len(msgs) != 1 || msgs[0]["caller_name"] != "Ann" {
		t.Fatalf("caller_name should be the login's name: %v", msgs)
	}

	// a moves to a second device; b stays on the first.
	s.Login(t, "device-two", "Anna", a.UUID)
	if token(t, db, a.Number) != "device-two" || token(t, db, b.Number) != "device-one" {
		t.Fatalf("after the move: a on %q, b on %q", token(t, db, a.Number), token(t, db, b.Number))
	}
	// Logging device-one in again with only b unbinds nothing else; logging
	// it in with [] unbinds b (logout).
	s.Login(t, "device-one", "Ann", b.UUID)
	if token(t, db, a.Number) != "device-two" {
		t.Fatal("re-login of device-one took a back")
	}
	s.Login(t, "device-one", "Ann")
	if token(t, db, b.Number) != "" {
		t.Fatal("logout left b bound")
	}
	if count(t, db, `SELECT count(*) FROM devices WHERE token = 'device-one'`) != 0 {
		t.Fatal("logout kept the device")
	}
	if m := s.Send(t, c, b.Number, "hi"); m.Code() != 10011 {
		t.Fatalf("send to a logged-out number: %v", m)
	}
	if m := s.Send(t, b, c.Number, "hi"); m.Code() != 10010 {
		t.Fatalf("send from a logged-out number: %v", m)
	}
	if m := s.Send(t, c, a.Number, "hi"); m.Code() != 10000 {
		t.Fatalf("send to the moved number: %v", m)
	}

	// The old device of a, logging in with a's uuid and an unknown one,
	// changes nothing at all.
	before := snapshot(t, db, s)
	wantError(t, s, body(obj{"req": "login", "appid": "test.app", "build": "1.0", "name": "Thief", "locale": "en",
		"token": "device-one", "uuid": []string{a.UUID, ringtestUUID}}, nil), 10004)
	wantError(t, s, body(obj{"req": "login", "appid": "test.app", "build": "1.0", "name": "Thief", "locale": "en",
		"token": "device-two", "uuid": []string{ringtestUUID}}, nil), 10004)
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("login with an unknown uuid changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestSendCIDRetry(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes: a data file
	for _, data := range [][]byte{[]byte("hello once"), big} {
		head := obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(data), "fname": "f.bin", "cid": "c-" + fmt.Sprint(len(data))}
		_, first, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(body(head, data)))
		if !strings.HasPrefix(string(first), `{"answer":10000,"msgid":`) {
			t.Fatalf("first send: %s", first)
		}
		before := snapshot(t, db, s)
		s.Clock.Advance(time.Hour) // the retry's time must not leak into the answer
		for range 3 {
			_, again, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(body(head, data)))
			if string(again) != string(first) {
				t.Fatalf("retry answered %s, first answer %s", again, first)
			}
		}
		if after := snapshot(t, db, s); after != before {
			t.Fatalf("retry stored something:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}
	// Another cid, or another sender with the same cid, is a new message.
	if count(t, db, `SELECT count(*) FROM messages`) != 2 {
		t.Fatal("want 2 messages")
	}
	head := obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 2, "cid": "c-other"}
	s.Must(t, head, []byte("hi"))
	s.Must(t, head.with("uuid", bob.UUID, "callee", alice.Number), []byte("hi"))
	if n := count(t, db, `SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages, want 4", n)
	}
	if msgs := getAll(t, s, bob); len(msgs) != 3 {
		t.Fatalf("bob got %d messages, want 3", len(msgs))
	}
}

func TestSends(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob", "Carol", "Dave")
	alice, bob, carol, dave := us[0], us[1], us[2], us[3]
	idle := s.Register(t)
	for _, data := range [][]byte{[]byte("to all of you"), bytes.Repeat([]byte("large "), 2000)} {
		filesBefore := len(blobFiles(t, s))
		blobsBefore := count(t, db, `SELECT count(*) FROM blobs`)
		a, _ := s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "length": len(data),
			"callees": []string{bob.Number, carol.Number, bob.Number, idle.Number, "5550000", dave.Number, carol.Number}}, data)
		ids, _ := a["msgids"].(map[string]any)
		if len(ids) != 3 || ids[bob.Number] == nil || ids[carol.Number] == nil || ids[dave.Number] == nil {
			t.Fatalf("msgids %v: want one per callee in use", a["msgids"])
		}
		if fmt.Sprint(a["failed"]) != fmt.Sprint([]any{idle.Number, "5550000"}) {
			t.Fatalf("failed %v, want [%s 5550000]", a["failed"], idle.Number)
		}
		if a["time"] == nil {
			t.Fatalf("no time: %v", a)
		}
		var uri string
		for _, u := range []ringtest.User{bob, carol, dave} {
			msgs := s.Get(t, u)
			if len(msgs) != 1 || msgs[0]["msgid"] != ids[u.Number] || msgs[0]["length"] != float64(len(data)) {
				t.Fatalf("%s got %v", u.Number, msgs)
			}
			if uri == "" {
				uri, _ = msgs[0]["uri"].(string)
			}
			if msgs[0]["uri"] != uri || uri == "" {
				t.Fatalf("uris differ: %v and %q", msgs[0]["uri"], uri)
			}
			_, got := s.Must(t, obj{"req": "fetch", "uuid": u.UUID, "msgid": ids[u.Number]}, nil)
			if !bytes.Equal(got, data) {
				t.Fatalf("fetched %d bytes, want the %d sent", len(got), len(data))
			}
		}
		if n := count(t, db, `SELECT count(*) FROM blobs`) - blobsBefore; n != 1 {
			t.Fatalf("%d blob records for one sends, want 1", n)
		}
		wantFiles := filesBefore
		if len(data) > 4096 {
			wantFiles++
		}
		if n := len(blobFiles(t, s)); n != wantFiles {
			t.Fatalf("%d data files, want %d: %v", n, wantFiles, blobFiles(t, s))
		}
	}
	// The same bytes sent again (past store.TextMax) are another send's
	// data, under a name of their own (docs/API.md, uri), stored once for
	// its callees; sent to one number they are kept with that message
	// (its own extent, no blobs row).
	data := bytes.Repeat([]byte("large "), 2000)
	blobsBefore := count(t, db, `SELECT count(*) FROM blobs`)
	filesBefore := len(blobFiles(t, s))
	s.Must(t, obj{"req": "sends", "uuid": bob.UUID, "callees": []string{alice.Number, carol.Number}, "length": len(data), "fname": "again.txt"}, data)
	if n := len(blobFiles(t, s)); n != filesBefore+1 {
		t.Fatalf("%d data files after resending the same data, want %d", n, filesBefore+1)
	}
	a, _ := s.Must(t, obj{"req": "send", "uuid": bob.UUID, "callee": alice.Number, "length": len(data), "fname": "again.txt"}, data)
	if n := len(blobFiles(t, s)); n != filesBefore+2 {
		t.Fatalf("%d data files after sending the same data to one number, want %d", n, filesBefore+2)
	}
	if n := count(t, db, `SELECT count(*) FROM blobs`); n != blobsBefore+1 {
		t.Fatalf("%d blobs rows after a send to one, want %d", n, blobsBefore+1)
	}
	if n := count(t, db, `SELECT count(*) FROM messages WHERE id = ? AND length(uri) = 64 AND uri != ? AND arena_off IS NOT NULL`, a.Str("msgid"), sha(data)); n != 1 {
		t.Fatalf("the send to one number is not in its row under a name of its own")
	}
	if _, got := s.Must(t, obj{"req": "fetch", "uuid": alice.UUID, "msgid": a.Str("msgid")}, nil); !bytes.Equal(got, data) {
		t.Fatalf("fetched %d bytes, want the %d sent", len(got), len(data))
	}
	// No callee in use: 10011, nothing stored.
	before := snapshot(t, db, s)
	wantError(t, s, body(obj{"req": "sends", "uuid": alice.UUID, "length": len(data), "callees": []string{idle.Number, "5550000"}}, data), 10011)
	wantError(t, s, body(obj{"req": "sends", "uuid": alice.UUID, "length": 5, "callees": []string{idle.Number}}, []byte("hello")), 10011)
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("sends to nobody stored something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestGetAfterClamp(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	t0 := time.Unix(1_800_000_000, 0)
	s.Clock.Set(t0)
	old := s.Send(t, alice, bob.Number, "old")
	s.Clock.Set(t0.Add(23 * time.Hour))
	recent := s.Send(t, alice, bob.Number, "recent")
	s.Clock.Set(t0.Add(24*time.Hour + time.Second)) // old is now more than a day old

	// after asks for more than a day back: clamped, old is not returned.
	for _, after := range []any{0, t0.Unix() - 10, nil} {
		h := obj{"req": "history", "uuid": []string{bob.UUID}}
		if after != nil {
			h["after"] = after
		}
		a, _ := s.Must(t, h, nil)
		msgs := ringtest.Messages(a)
		if len(msgs) != 1 || msgs[0]["msgid"] != recent.Str("msgid") {
			t.Fatalf("history after=%v: %v, want only the recent message", after, msgs)
		}
	}
	// after at the recent message's time: strictly later only, and the
	// message stays undelivered.
	a, _ := s.Must(t, obj{"req": "get", "uuid": []string{bob.UUID}, "after": recent["time"]}, nil)
	if msgs := ringtest.Messages(a); len(msgs) != 0 {
		t.Fatalf("get after the message's time returned %v", msgs)
	}
	a, _ = s.Must(t, obj{"req": "get", "uuid": []string{bob.UUID}, "after": 0}, nil)
	msgs := ringtest.Messages(a)
	if len(msgs) != 1 || msgs[0]["msgid"] != recent.Str("msgid") || msgs[0]["time"] != recent["time"] {
		t.Fatalf("get: %v, want the recent message", msgs)
	}
	_ = old
}

func TestGetMorePaging(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxGet = 3
	s := ringtest.New(t, cfg)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	var want []string
	for i := range 7 {
		want = append(want, s.Send(t, alice, bob.Number, fmt.Sprint("message ", i)).Str("msgid"))
	}
	var got []string
	for i, wantLen := range []int{3, 3, 1, 0} {
		a, _ := s.Must(t, obj{"req": "get", "uuid": []string{bob.UUID}}, nil)
		msgs := ringtest.Messages(a)
		if len(msgs) != wantLen || a["more"] != (i < 2) {
			t.Fatalf("page %d: %d messages, more %v", i, len(msgs), a["more"])
		}
		for _, m := range msgs {
			got = append(got, m["msgid"].(string))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages %v, want oldest first %v", got, want)
	}
}

func TestGetInlineText(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	at4096 := strings.Repeat("€", 1365) + "a" // 4096 bytes, 1366 characters
	over := at4096 + "b"                      // 4097 bytes
	s.Send(t, alice, bob.Number, at4096)
	s.Send(t, alice, bob.Number, over)
	s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 5, "fname": "x.txt"}, []byte("hello"))
	msgs := s.Get(t, bob)
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	if msgs[0]["text"] != at4096 || msgs[0]["length"] != float64(4096) {
		t.Fatalf("a 4096-byte text must come inline")
	}
	if _, ok := msgs[1]["text"]; ok || msgs[1]["length"] != float64(4097) {
		t.Fatalf("a 4097-byte text must not come inline: %v", msgs[1]["length"])
	}
	if _, ok := msgs[2]["text"]; ok || msgs[2]["fname"] != "x.txt" {
		t.Fatalf("a file must not come as text: %v", msgs[2])
	}
	_, data := s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": msgs[1]["msgid"]}, nil)
	if string(data) != over {
		t.Fatal("fetch of the 4097-byte text differs")
	}
}

func TestConcurrentGetsTakeEachMessageOnce(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxGet = 7
	s := ringtest.New(t, cfg)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	const n = 150
	want := map[string]bool{}
	for i := range n {
		want[s.Send(t, alice, bob.Number, fmt.Sprint("m", i)).Str("msgid")] = true
	}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				a, _ := s.Post(t, obj{"req": "get", "uuid": []string{bob.UUID}}, nil)
				if a.Code() != 10000 {
					t.Errorf("get: %v", a)
					return
				}
				msgs := ringtest.Messages(a)
				mu.Lock()
				for _, m := range msgs {
					got[m["msgid"].(string)]++
				}
				mu.Unlock()
				if len(msgs) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	for id, c := range got {
		if c != 1 || !want[id] {
			t.Errorf("message %s returned %d times", id, c)
		}
	}
	if len(got) != n {
		t.Fatalf("%d messages returned, want %d", len(got), n)
	}
}

func TestFetch(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	us := users(t, s, "Alice", "Bob", "Eve")
	alice, bob, eve := us[0], us[1], us[2]
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	m, _ := s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(data), "fname": "photo.jpg"}, data)
	small := s.Send(t, alice, bob.Number, "small text")
	for _, c := range []struct {
		offset, limit any
		lo, hi        int
	}{
		{nil, nil, 0, len(data)},
		{0, nil, 0, len(data)},
		{1000, nil, 1000, len(data)},
		{nil, 10, 0, 10},
		{65535, 70000, 65535, 135535},
		{len(data) - 3, 100, len(data) - 3, len(data)},
		{len(data), nil, len(data), len(data)},
		{5, 0, 5, 5},
	} {
		h := obj{"req": "fetch", "uuid": bob.UUID, "msgid": m.Str("msgid")}
		if c.offset != nil {
			h["offset"] = c.offset
		}
		if c.limit != nil {
			h["limit"] = c.limit
		}
		a, got := s.Must(t, h, nil)
		if a["length"] != float64(c.hi-c.lo) || a["total"] != float64(len(data)) || a["fname"] != "photo.jpg" {
			t.Fatalf("fetch %v/%v: head %v", c.offset, c.limit, a)
		}
		if !bytes.Equal(got, data[c.lo:c.hi]) {
			t.Fatalf("fetch %v/%v: %d bytes, want data[%d:%d]", c.offset, c.limit, len(got), c.lo, c.hi)
		}
	}
	// The sender may fetch too; a third number may not, nor may anyone
	// with an unknown uuid.
	_, got := s.Must(t, obj{"req": "fetch", "uuid": alice.UUID, "msgid": m.Str("msgid"), "offset": 299_990}, nil)
	if !bytes.Equal(got, data[299_990:]) {
		t.Fatal("sender's fetch differs")
	}
	a, got := s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": small.Str("msgid"), "offset": 6, "limit": 3}, nil)
	if string(got) != "tex" || a["total"] != float64(10) {
		t.Fatalf("inline fetch: %v %q", a, got)
	}
	for _, id := range []string{m.Str("msgid"), small.Str("msgid")} {
		wantError(t, s, body(obj{"req": "fetch", "uuid": eve.UUID, "msgid": id}, nil), 10013)
		wantError(t, s, body(obj{"req": "fetch", "uuid": ringtestUUID, "msgid": id}, nil), 10004)
	}
}

func TestReadStatusHistory(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxGet = 2
	s := ringtest.New(t, cfg)
	us := users(t, s, "Alice", "Bob", "Eve")
	alice, bob, eve := us[0], us[1], us[2]
	var ids []string
	for i := range 5 {
		ids = append(ids, s.Send(t, alice, bob.Number, fmt.Sprint("m", i)).Str("msgid"))
	}
	status := func() map[string]any { // in pieces: a status names at most max-get msgids
		st := map[string]any{}
		for i := 0; i < len(ids); i += 2 {
			a, _ := s.Must(t, obj{"req": "status", "uuid": alice.UUID, "msgid": ids[i:min(i+2, len(ids))]}, nil)
			part, _ := a["status"].(map[string]any)
			for k, v := range part {
				st[k] = v
			}
		}
		return st
	}
	for _, id := range ids {
		if status()[id] != "sent" {
			t.Fatalf("status %v, want all sent", status())
		}
	}
	// history pages with after_msgid and marks nothing.
	var seen []string
	after := ""
	for page := 0; ; page++ {
		h := obj{"req": "history", "uuid": []string{bob.UUID}}
		if after != "" {
			h["after_msgid"] = after
		}
		a, _ := s.Must(t, h, nil)
		for _, m := range ringtest.Messages(a) {
			if m["state"] != "sent" {
				t.Fatalf("history state %v", m["state"])
			}
			seen = append(seen, m["msgid"].(string))
			after = m["msgid"].(string)
		}
		if a["more"] != true {
			break
		}
		if page > 5 {
			t.Fatal("history does not end")
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("history %v, want %v", seen, ids)
	}
	if status()[ids[0]] != "sent" {
		t.Fatal("history marked a message")
	}
	s.Get(t, bob) // the first two (max-get 2)
	if st := status(); st[ids[0]] != "delivered" || st[ids[1]] != "delivered" || st[ids[2]] != "sent" {
		t.Fatalf("after get: %v", st)
	}
	s.Must(t, obj{"req": "read", "uuid": bob.UUID, "msgid": []string{ids[1], ids[3]}}, nil)
	st := status()
	if st[ids[0]] != "delivered" || st[ids[1]] != "read" || st[ids[3]] != "read" || st[ids[4]] != "sent" {
		t.Fatalf("after read: %v", st)
	}
	a, _ := s.Must(t, obj{"req": "history", "uuid": []string{bob.UUID}}, nil)
	if m := ringtest.Messages(a); len(m) != 2 || m[1]["state"] != "read" {
		t.Fatalf("history after read: %v", m)
	}
	// A read message is not returned by get again.
	rest := getAll(t, s, bob)
	if len(rest) != 2 || rest[0]["msgid"] != ids[2] || rest[1]["msgid"] != ids[4] {
		t.Fatalf("get after read: %v", rest)
	}

	// Only the receiver reads, only the sender asks the status.
	db := rawDB(t, s)
	before := snapshot(t, db, s)
	wantError(t, s, body(obj{"req": "read", "uuid": alice.UUID, "msgid": []string{ids[0]}}, nil), 10013)
	wantError(t, s, body(obj{"req": "read", "uuid": eve.UUID, "msgid": []string{ids[0]}}, nil), 10013)
	wantError(t, s, body(obj{"req": "read", "uuid": bob.UUID, "msgid": []string{ids[0], "99999999"}}, nil), 10013)
	wantError(t, s, body(obj{"req": "status", "uuid": bob.UUID, "msgid": []string{ids[0]}}, nil), 10013)
	wantError(t, s, body(obj{"req": "status", "uuid": eve.UUID, "msgid": []string{ids[0]}}, nil), 10013)
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("a refused read changed the store")
	}
	if status()[ids[0]] != "delivered" {
		t.Fatal("a refused read marked a message")
	}
}

func TestStorageFaults(t *testing.T) {
	ringtest.NeedSQLite(t)
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]

	// The data directory cannot take files: a large send is 10001 and
	// leaves nothing; a small one (kept in the database) still works.
	// Data up to the arena's limit goes to the arena, larger to files.
	tmp := filepath.Join(s.Dir, "blobs", "tmp")
	arenaDir := filepath.Join(s.Dir, "arena")
	for _, dir := range []string{tmp, arenaDir} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, []byte("not a directory"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, db, s)
	for _, data := range [][]byte{bytes.Repeat([]byte("x"), 10_000), bytes.Repeat([]byte("x"), ringtest.ArenaMax+1)} {
		wantError(t, s, body(obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(data), "fname": "a.bin"}, data), 10001)
		wantError(t, s, body(obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number}, "length": len(data), "fname": "a.bin"}, data), 10001)
	}
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("a failed send left something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if a := s.Send(t, alice, bob.Number, "small"); a.Code() != 10000 {
		t.Fatalf("small send: %v", a)
	}
	for _, dir := range []string{tmp, arenaDir} {
		os.Remove(dir)
		os.Mkdir(dir, 0o700)
	}
	// The arena works again once its directory does.
	data := bytes.Repeat([]byte("y"), 10_000)
	a, _ := s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(data), "fname": "b.bin"}, data)
	if _, got := s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": a.Str("msgid")}, nil); !bytes.Equal(got, data) {
		t.Fatal("fetched other data than sent")
	}

	// The database is gone: every request is 10001.
	s.DB.Close()
	wantError(t, s, body(obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 2}, []byte("hi")), 10001)
	wantError(t, s, body(obj{"req": "get", "uuid": []string{bob.UUID}}, nil), 10001)
	wantError(t, s, body(obj{"req": "register"}, nil), 10001)
}

// sha is the hex SHA-256 of b.
func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
