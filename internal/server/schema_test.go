package server_test

import (
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// A msgid with leading zeros names the same message: the server accepts it,
// so the schema must too (every exchange here is checked against it).
func TestSchemaMsgIDLeadingZeros(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	id := s.Send(t, alice, bob.Number, "hello").Str("msgid")
	if id == "" {
		t.Fatal("send failed")
	}
	_, data := s.Must(t, map[string]any{"req": "fetch", "uuid": bob.UUID, "msgid": "00" + id}, nil)
	if string(data) != "hello" {
		t.Fatalf("fetched %q", data)
	}
	s.Must(t, map[string]any{"req": "read", "uuid": bob.UUID, "msgid": []string{"0" + id}}, nil)
	a, _ := s.Must(t, map[string]any{"req": "status", "uuid": alice.UUID, "msgid": []string{"0" + id}}, nil)
	if st, _ := a["status"].(map[string]any); len(st) != 1 {
		t.Fatalf("status %v", a)
	}
}
