package server_test

import (
	"strings"
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

// Upper-case hex is the same uuid (the schema allows it); a callid is
// lower-case hex, and an upper-case one names no call.
func TestSchemaHexCase(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	a, _ := s.Must(t, map[string]any{"req": "call", "uuid": strings.ToUpper(alice.UUID), "callee": bob.Number}, nil)
	upper := strings.ToUpper(a.Str("callid"))
	if got, _ := s.Post(t, map[string]any{"req": "callinfo", "uuid": bob.UUID, "callid": upper}, nil); got.Code() != 10012 {
		t.Fatalf("callinfo with an upper-case callid: %v", got)
	}
}
