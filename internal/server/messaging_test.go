package server_test

import (
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

func TestSendGetFetch(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice := s.User(t, "Alice")
	bob := s.User(t, "Bob")

	a := s.Send(t, alice, bob.Number, "hello bob")
	if a.Code() != 10000 || a.Str("msgid") == "" || a["time"] == nil {
		t.Fatalf("send: %v", a)
	}
	msgs := s.Get(t, bob)
	if len(msgs) != 1 {
		t.Fatalf("get: %d messages, want 1: %v", len(msgs), msgs)
	}
	m := msgs[0]
	if m["msgid"] != a.Str("msgid") || m["caller"] != alice.Number || m["caller_name"] != "Alice" ||
		m["callee"] != bob.Number || m["text"] != "hello bob" || m["length"] != float64(9) {
		t.Fatalf("message: %v", m)
	}
	if again := s.Get(t, bob); len(again) != 0 {
		t.Fatalf("second get returned %v: delivered messages must not come again", again)
	}
	f, data := s.Must(t, map[string]any{"req": "fetch", "uuid": bob.UUID, "msgid": a.Str("msgid"), "offset": 6}, nil)
	if string(data) != "bob" || f["length"] != float64(3) || f["total"] != float64(9) {
		t.Fatalf("fetch: %v %q", f, data)
	}
}
