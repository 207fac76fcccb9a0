package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

func TestManySendersOneNumber(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	bob := s.User(t, "Bob")
	const senders, each = 16, 12
	type sent struct {
		text []byte
		file bool
	}
	var mu sync.Mutex
	want := map[string]sent{}
	var wg sync.WaitGroup
	for i := range senders {
		u := s.User(t, fmt.Sprint("Sender ", i))
		wg.Go(func() {
			for j := range each {
				text := []byte(fmt.Sprintf("from %d, message %d", i, j))
				head := obj{"req": "send", "uuid": u.UUID, "callee": bob.Number, "length": len(text)}
				file := j%4 == 3
				if file { // some large, each different
					text = bytes.Repeat(text, 400)
					head = head.with("length", len(text), "fname", "big.txt")
				}
				a, _ := s.Post(t, head, text)
				if a.Code() != 10000 {
					t.Errorf("send: %v", a)
					return
				}
				mu.Lock()
				want[a.Str("msgid")] = sent{text, file}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(want) != senders*each {
		t.Fatalf("%d distinct msgids for %d sends", len(want), senders*each)
	}
	got := getAll(t, s, bob)
	if len(got) != len(want) {
		t.Fatalf("bob got %d messages, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, m := range got {
		id := m["msgid"].(string)
		w, ok := want[id]
		if !ok || seen[id] {
			t.Fatalf("message %s unexpected or repeated", id)
		}
		seen[id] = true
		if w.file {
			_, data := s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": id}, nil)
			if !bytes.Equal(data, w.text) {
				t.Fatalf("message %s: data differs", id)
			}
		} else if m["text"] != string(w.text) {
			t.Fatalf("message %s: text %q, want %q", id, m["text"], w.text)
		}
	}
}

func TestRetention(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.Retention = 48 * time.Hour
	s := ringtest.New(t, cfg)
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob", "Carol")
	alice, bob, carol := us[0], us[1], us[2]
	t0 := time.Unix(1_800_000_000, 0)
	s.Clock.Set(t0)

	only := bytes.Repeat([]byte("only old "), 1000) // one old message holds it
	// Two sends to several of the same data, each sharing a blobs row
	// between its messages: old messages and newer.
	shared := bytes.Repeat([]byte("shared data "), 1000)
	both := []string{bob.Number, carol.Number}
	oldText := s.Send(t, alice, bob.Number, "old text")
	oldFile, _ := s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(only), "fname": "a.txt"}, only)
	oldShared, _ := s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": both, "length": len(shared), "fname": "s.txt"}, shared)
	s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 1, "cid": "old-cid"}, []byte("x"))
	s.Clock.Set(t0.Add(30 * time.Hour))
	newShared, _ := s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": both, "length": len(shared), "fname": "s2.txt"}, shared)
	if n := len(blobFiles(t, s)); n != 3 {
		t.Fatalf("%d data files, want 3", n)
	}

	// Inside the window nothing goes.
	if err := s.Server.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM messages`); n != 7 {
		t.Fatalf("%d messages after an early sweep, want 7", n)
	}
	oldID := oldFile.Str("msgid")
	s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": oldID}, nil)

	// Past the window of the old ones: before the janitor runs they are
	// already gone for every request.
	s.Clock.Set(t0.Add(48*time.Hour + time.Second))
	for _, id := range []string{oldText.Str("msgid"), oldID} {
		wantError(t, s, body(obj{"req": "fetch", "uuid": bob.UUID, "msgid": id}, nil), 10013)
		wantError(t, s, body(obj{"req": "read", "uuid": bob.UUID, "msgid": []string{id}}, nil), 10013)
		wantError(t, s, body(obj{"req": "status", "uuid": alice.UUID, "msgid": []string{id}}, nil), 10013)
	}
	if err := s.Server.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM messages`); n != 2 {
		t.Fatalf("%d messages after the sweep, want only the newer sends' two", n)
	}
	if n := count(t, db, `SELECT count(*) FROM sends`); n != 0 {
		t.Fatalf("an expired cid is still remembered")
	}
	newURI := ""
	if err := db.QueryRow(`SELECT uri FROM messages LIMIT 1`).Scan(&newURI); err != nil {
		t.Fatal(err)
	}
	files := blobFiles(t, s)
	if len(files) != 1 || !strings.HasSuffix(files[0], newURI) {
		t.Fatalf("data files %v: want only the newer sends', %s", files, newURI)
	}
	if n := count(t, db, `SELECT count(*) FROM blobs`); n != 1 {
		t.Fatalf("%d blob records, want 1", n)
	}
	newIDs, _ := newShared["msgids"].(map[string]any)
	_, data := s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": newIDs[bob.Number]}, nil)
	if !bytes.Equal(data, shared) {
		t.Fatal("the shared data changed")
	}
	ids, _ := oldShared["msgids"].(map[string]any)
	wantError(t, s, body(obj{"req": "fetch", "uuid": bob.UUID, "msgid": ids[bob.Number]}, nil), 10013)
	// The expired cid may be used again: a new message.
	again, _ := s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 1, "cid": "old-cid"}, []byte("x"))
	if n := count(t, db, `SELECT count(*) FROM messages`); n != 3 || again.Str("msgid") == "" {
		t.Fatalf("a send with an expired cid stored %d messages", n)
	}

	// Later still: everything goes, and the last file with it.
	s.Clock.Set(t0.Add(100 * time.Hour))
	if err := s.Server.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM messages`) + count(t, db, `SELECT count(*) FROM blobs`); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	if f := blobFiles(t, s); len(f) != 0 {
		t.Fatalf("files left: %v", f)
	}
	if size, free := s.ArenaSpace(t); free != size {
		t.Fatalf("arena: %d of %d bytes free after everything expired", free, size)
	}
}

func TestSecurity(t *testing.T) {
	var logs syncBuffer
	cfg := ringtest.NewConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.RegisterKey = "register-key-9f8e7d"
	cfg.AdminToken = "admin-token-1a2b3c"
	cfg.Debug = true
	s := ringtest.New(t, cfg)
	key := obj{"auth": cfg.RegisterKey}

	var uuids, tokens []string
	user := func(name string) ringtest.User {
		a, _ := s.Must(t, key.with("req", "register"), nil)
		u := ringtest.User{Number: a.Str("number"), UUID: a.Str("uuid"), Token: "push-token-" + name + "-0123456789"}
		s.Login(t, u.Token, name, u.UUID)
		uuids, tokens = append(uuids, u.UUID), append(tokens, u.Token)
		return u
	}
	alice, bob, eve := user("Alice"), user("Bob"), user("Eve")

	// Do everything, failures too, with the secrets in the bodies.
	m := s.Send(t, alice, bob.Number, "for bob only")
	big := bytes.Repeat([]byte("secret file "), 1000)
	f, _ := s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(big), "fname": "x.bin"}, big)
	s.Must(t, obj{"req": "sends", "uuid": bob.UUID, "callees": []string{alice.Number, eve.Number}, "length": 2}, []byte("hi"))
	for _, id := range []string{m.Str("msgid"), f.Str("msgid")} {
		// Eve's uuid reaches none of Alice's and Bob's messages.
		wantError(t, s, body(obj{"req": "fetch", "uuid": eve.UUID, "msgid": id}, nil), 10013)
		wantError(t, s, body(obj{"req": "read", "uuid": eve.UUID, "msgid": []string{id}}, nil), 10013)
		wantError(t, s, body(obj{"req": "status", "uuid": eve.UUID, "msgid": []string{id}}, nil), 10013)
		// Without a valid uuid nothing is reached at all.
		for _, u := range []string{ringtestUUID, strings.ToUpper(ringtestUUID), "", bob.UUID[:35], bob.UUID + "0"} {
			wantError(t, s, body(obj{"req": "fetch", "uuid": u, "msgid": id}, nil), 10004)
			wantError(t, s, body(obj{"req": "read", "uuid": u, "msgid": []string{id}}, nil), 10004)
			wantError(t, s, body(obj{"req": "status", "uuid": u, "msgid": []string{id}}, nil), 10004)
		}
	}
	a, _ := s.Must(t, obj{"req": "get", "uuid": []string{eve.UUID}}, nil)
	for _, msg := range ringtest.Messages(a) {
		if msg["callee"] != eve.Number {
			t.Fatalf("eve got another's message: %v", msg)
		}
	}
	a, _ = s.Must(t, obj{"req": "history", "uuid": []string{eve.UUID}}, nil)
	if n := len(ringtest.Messages(a)); n != 1 {
		t.Fatalf("eve's history holds %d messages, want her 1", n)
	}
	wantError(t, s, body(obj{"req": "get", "uuid": []string{eve.UUID, ringtestUUID}}, nil), 10004)
	s.Get(t, bob)
	s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": f.Str("msgid")}, nil)
	s.Must(t, obj{"req": "read", "uuid": bob.UUID, "msgid": []string{m.Str("msgid")}}, nil)
	s.Must(t, obj{"req": "status", "uuid": alice.UUID, "msgid": []string{m.Str("msgid")}}, nil)
	wantError(t, s, body(obj{"req": "register"}, nil), 10061)
	wantError(t, s, body(obj{"req": "register", "auth": "wrong-key"}, nil), 10061)
	wantError(t, s, body(obj{"req": "login", "appid": "x.y", "build": "1.0", "name": "Al", "locale": "en",
		"token": tokens[0], "uuid": []string{alice.UUID, "not-a-uuid"}}, nil), 10004)
	wantError(t, s, body(obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 9}, []byte("short")), 10002)
	s.Post(t, obj{"req": "debug", "uuid": alice.UUID, "token": tokens[0]}, nil)
	s.Post(t, obj{"req": "stats", "auth": cfg.AdminToken}, nil)
	s.Login(t, tokens[2], "Eve") // logout
	if err := s.Server.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Logged at debug level, yet no secret appears.
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") {
		t.Fatalf("no debug logs were captured; the test would prove nothing:\n%s", out)
	}
	secrets := append(append(append([]string{}, uuids...), tokens...), cfg.RegisterKey, cfg.AdminToken)
	for _, sec := range secrets {
		for _, form := range []string{sec, strings.ToUpper(sec), strings.ReplaceAll(sec, "-", "")} {
			if strings.Contains(out, form) {
				t.Errorf("the logs hold a secret %q", form)
			}
		}
	}

	ringtest.NeedSQLite(t) // the rest reads its files
	// The database holds only hashes of the uuids, in its file and WAL.
	s.Close()
	var stored []byte
	for _, name := range []string{"ringd.db", "ringd.db-wal", "ringd.db-shm"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err == nil {
			stored = append(stored, b...)
		}
	}
	if len(stored) == 0 {
		t.Fatal("no database files found")
	}
	for _, u := range uuids {
		for _, form := range []string{u, strings.ToUpper(u), strings.ReplaceAll(u, "-", "")} {
			if bytes.Contains(stored, []byte(form)) {
				t.Errorf("the database holds uuid %s in clear", u)
			}
		}
	}
	if !bytes.Contains(stored, []byte(alice.Number)) {
		t.Fatal("the database files do not even hold a number; the check proves nothing")
	}
}

// TestOverload: with -max-inflight requests being worked on, one more is
// answered 10009, with Retry-After, at once; the slots come back once
// those requests are done.
func TestOverload(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxInFlight = 2
	s := ringtest.New(t, cfg)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	msgid := sendFile(t, s, alice, bob.Number, []byte("fetched"))

	// Two fetches hold the server's two slots: they wait in the fetch hook.
	// (Cleanups run last first: a failure below lets them go before the
	// server's Close waits for them.)
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	server.SetFetchHook(s.Server, func(stage string) {
		if stage == "lookup" {
			<-hold
		}
	})
	done := make(chan ringtest.Answer, 2)
	for range 2 {
		go func() {
			a, _, err := callPost(s, obj{"req": "fetch", "uuid": bob.UUID, "msgid": msgid}, nil)
			if err != nil {
				t.Error(err)
			}
			done <- a
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for inFlight(t, s) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the held fetches never reached the handler: %d in flight", inFlight(t, s))
		}
		time.Sleep(5 * time.Millisecond)
	}
	status, got, hdr := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(body(obj{"req": "get", "uuid": []string{bob.UUID}}, nil)))
	if string(got) != errBody(10009) {
		t.Fatalf("not refused while two requests are held: %s", got)
	}
	if status != http.StatusOK || hdr.Get("Retry-After") == "" {
		t.Fatalf("10009 with HTTP %d, Retry-After %q", status, hdr.Get("Retry-After"))
	}
	select {
	case a := <-done:
		t.Fatalf("a held request was answered early: %v", a)
	default:
	}
	// Once they go on they are answered, and the slots come back.
	release()
	for range 2 {
		if a := <-done; a.Code() != 10000 {
			t.Fatalf("held fetch: %v", a)
		}
	}
	if n := inFlight(t, s); n != 0 {
		t.Fatalf("%d requests in flight after all were answered", n)
	}
}

// inFlight reads the gauge of requests being handled from /metrics.
func inFlight(t testing.TB, s *ringtest.Server) int {
	t.Helper()
	res, err := http.Get(s.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "ringd_requests_in_flight "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("ringd_requests_in_flight %q", v)
			}
			return n
		}
	}
	t.Fatal("/metrics has no ringd_requests_in_flight")
	return 0
}

func TestLengthOverLimitRefusedBeforeData(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.MaxLength = 1 << 20
	s := ringtest.New(t, cfg)
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	before := snapshot(t, db, s)
	for _, c := range []struct {
		head obj
		code int
	}{
		{obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 1<<20 + 1, "fname": "big.bin"}, 10002},
		{obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number}, "length": 1 << 40, "fname": "big.bin"}, 10002},
		// An unknown sender is refused before its data is read, too.
		{obj{"req": "send", "uuid": ringtestUUID, "callee": bob.Number, "length": 1 << 20, "fname": "big.bin"}, 10004},
	} {
		l, _ := c.head["length"].(int)
		prefix := body(c.head, []byte{})
		a, raw := headOnly(t, s, prefix, int64(len(prefix))+int64(l))
		if p := errAnswerProblem([]byte(raw), c.code); p != "" {
			t.Fatalf("%v: answer %s (%v), want %s: %s", c.head, raw, a, errBody(c.code), p)
		}
	}
	if after := snapshot(t, db, s); after != before {
		t.Fatal("a refused send stored something")
	}
}

// TestStorageBusy: when the database stays locked past the store's wait
// (another process holding its write lock), a write answers 10009 with
// Retry-After at once, stores nothing, and works again once the lock goes.
// It waits out the store's 5 s busy timeout, so it is skipped with -short.
func TestStorageBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the store's busy timeout")
	}
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	before := snapshot(t, db, s)

	p := filepath.Join(s.Dir, "ringd.db")
	other, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: p}).EscapedPath())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	status, got, hdr := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(body(obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 2}, []byte("hi"))))
	if status != http.StatusOK || string(got) != errBody(10009) || hdr.Get("Retry-After") == "" {
		t.Fatalf("send while the database is locked: HTTP %d %s, Retry-After %q", status, got, hdr.Get("Retry-After"))
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, db, s); after != before {
		t.Fatal("a busy send stored something")
	}
	if a := s.Send(t, alice, bob.Number, "hi"); a.Code() != 10000 {
		t.Fatalf("send after the lock went: %v", a)
	}
}
