package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/store"
)

// encodedMessage has messageJSON's fields and tags: what encoding/json
// makes of it is what get answered before it put answers together from the
// senders' renderings.
type encodedMessage struct {
	MsgID      string  `json:"msgid"`
	Caller     string  `json:"caller"`
	CallerName string  `json:"caller_name"`
	Callee     string  `json:"callee"`
	Time       int64   `json:"time"`
	URI        string  `json:"uri"`
	Length     int64   `json:"length"`
	Fname      string  `json:"fname,omitempty"`
	Text       *string `json:"text,omitempty"`
	CallID     string  `json:"callid,omitempty"`
}

type encodedGet struct {
	Answer   int              `json:"answer"`
	Messages []encodedMessage `json:"messages"`
	More     bool             `json:"more"`
}

// rawGet posts a get and checks its answer is byte for byte what
// encoding/json makes of it; it returns the messages.
func rawGet(t *testing.T, s *ringtest.Server, u ringtest.User) []encodedMessage {
	t.Helper()
	status, got, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(body(obj{"req": "get", "uuid": []string{u.UUID}}, nil)))
	var a encodedGet
	if err := json.Unmarshal(got, &a); status != http.StatusOK || err != nil {
		t.Fatalf("get: %d %s %v", status, got, err)
	}
	want, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get answered\n%s\nencoding/json makes\n%s", got, want)
	}
	return a.Messages
}

// TestGetAnswerBytes: get's answer over HTTP, for texts and names that
// encoding/json escapes, files, sends to several, a missed call, and
// messages held or read back after a restart, is what encoding/json made.
func TestGetAnswerBytes(t *testing.T) {
	dir := t.TempDir()
	cfg := ringtest.NewConfig(t)
	s := ringtest.NewAt(t, cfg, dir)
	us := users(t, s, `A<&>"é"`, "Bob", "Carol")
	alice, bob, carol := us[0], us[1], us[2]
	// The last is in the arena: sent to one number, its message holds it.
	texts := []string{`"quoted" \ back`, "<b>&amp;</b>", "日本 🎉 \u2028\u2029", "tab\t newline\n", strings.Repeat("long <&> é ", 500)}
	sendAll := func() int {
		n := 0
		for _, text := range texts {
			s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(text)}, []byte(text))
			s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number},
				"caller_name": `Z<&>"`, "length": len(text)}, []byte(text))
			s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "fname": `f<&>".txt`,
				"length": len(text)}, []byte(text))
			n += 3
		}
		return n
	}
	n := sendAll()
	id := call(t, s, alice, bob.Number, nil)
	s.Must(t, obj{"req": "hangup", "uuid": alice.UUID, "callid": id}, nil)
	got := rawGet(t, s, bob)
	if len(got) != n+1 || got[n].CallID != id || got[0].Text == nil || *got[0].Text != texts[0] {
		t.Fatalf("get of %d: %+v", n+1, got)
	}
	wantNoLongText(t, got)
	if got := rawGet(t, s, carol); len(got) != len(texts) || got[0].CallerName != `Z<&>"` {
		t.Fatalf("carol's get: %+v", got)
	}
	if got := rawGet(t, s, bob); len(got) != 0 {
		t.Fatalf("a second get: %+v", got)
	}
	// After a restart what waits is read from the database.
	n = sendAll()
	s.Close()
	s = ringtest.NewAt(t, cfg, dir)
	got = rawGet(t, s, bob)
	if len(got) != n {
		t.Fatalf("get after a restart: %d messages, want %d", len(got), n)
	}
	wantNoLongText(t, got)
}

// wantNoLongText checks that get answers data over store.TextMax without
// its text (the client fetches it), and shorter texts with theirs.
func wantNoLongText(t *testing.T, got []encodedMessage) {
	t.Helper()
	long := 0
	for _, m := range got {
		if m.Length > store.TextMax {
			long++
			if m.Text != nil {
				t.Fatalf("a text of %d bytes answered inline: %+v", m.Length, m)
			}
		} else if m.Fname == "" && m.CallID == "" && m.Text == nil {
			t.Fatalf("a text of %d bytes answered without it: %+v", m.Length, m)
		}
	}
	if long != 3 {
		t.Fatalf("%d messages of long data, want 3", long)
	}
}

// TestGetAfterRename: a send's rendering is made from the sender's name as
// the server last saw it; after a login renames the sender (through this
// server, or with caller_name given), get still answers the name stored,
// byte for byte as encoding/json would.
func TestGetAfterRename(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	want := []string{"Alice"}
	if a := s.Send(t, alice, bob.Number, "before"); a.Code() != 10000 {
		t.Fatal(a)
	}
	s.Login(t, alice.Token, "Alicia", alice.UUID)
	want = append(want, "Alicia")
	if a := s.Send(t, alice, bob.Number, "after"); a.Code() != 10000 {
		t.Fatal(a)
	}
	if a, _ := s.Post(t, map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 5, "caller_name": "Ally"}, []byte("named")); a.Code() != 10000 {
		t.Fatal(a)
	}
	want = append(want, "Ally")
	msgs := rawGet(t, s, bob)
	if len(msgs) != len(want) {
		t.Fatalf("got %d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		if m.CallerName != want[i] {
			t.Fatalf("message %d: caller_name %q, want %q", i, m.CallerName, want[i])
		}
	}
}
