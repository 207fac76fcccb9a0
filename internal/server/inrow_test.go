package server_test

import (
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestTextInRow: a text sent to one number is kept in its message row, not
// in blobs (issue 5), and every request that reads it still sees the same
// bytes under the same uri, the SHA-256 of the text.
func TestTextInRow(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	text := "héllo, in its own row"
	a := s.Send(t, alice, bob.Number, text)
	b := s.Send(t, alice, bob.Number, text) // the same text again: a row of its own
	if n := count(t, db, `SELECT count(*) FROM blobs`); n != 0 {
		t.Fatalf("%d blobs rows for texts to one number, want 0", n)
	}
	if n := count(t, db, `SELECT count(*) FROM messages WHERE data = CAST(? AS BLOB) AND uri = ?`, text, sha([]byte(text))); n != 2 {
		t.Fatalf("%d message rows hold the text under its SHA-256, want 2", n)
	}
	msgs := s.Get(t, bob)
	if len(msgs) != 2 {
		t.Fatalf("got %v", msgs)
	}
	for _, m := range msgs {
		if m["text"] != text || m["uri"] != sha([]byte(text)) || m["length"] != float64(len(text)) {
			t.Fatalf("get answered %v", m)
		}
	}
	for _, id := range []string{a.Str("msgid"), b.Str("msgid")} {
		for _, u := range []ringtest.User{alice, bob} { // sender and receiver
			if _, got := s.Must(t, obj{"req": "fetch", "uuid": u.UUID, "msgid": id}, nil); string(got) != text {
				t.Fatalf("fetched %q", got)
			}
		}
		head, got := s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": id, "offset": 1, "limit": 3}, nil)
		if string(got) != text[1:4] || head["length"] != float64(3) || head["total"] != float64(len(text)) {
			t.Fatalf("fetched range %v %q", head, got)
		}
	}
	// A sends to one number is a send to one number.
	s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number}, "length": 2}, []byte("hi"))
	if n := count(t, db, `SELECT count(*) FROM blobs`); n != 0 {
		t.Fatalf("%d blobs rows, want 0", n)
	}
}
