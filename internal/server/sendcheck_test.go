package server_test

import (
	"bytes"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// A text small enough to be read at once is read before the sender is
// checked, but the answers are those of checking the sender first: an
// unknown or idle sender is refused as such even when its data is bad,
// and a sender in use with bad data gets a format error. Nothing is stored.
func TestSmallSendSenderCheckedFirst(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	idle := s.Register(t)
	before := snapshot(t, db, s)
	bad := []byte("\xff\xfe") // not UTF-8
	for _, c := range []struct {
		head obj
		data []byte
		code int
	}{
		{obj{"req": "send", "uuid": ringtestUUID, "callee": bob.Number, "length": 2}, bad, 10004},
		{obj{"req": "send", "uuid": ringtestUUID, "callee": bob.Number, "length": 2}, []byte("hi"), 10004},
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": 2}, bad, 10010},
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": 2}, []byte("hi"), 10010},
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": 3}, []byte("hi"), 10010},
		{obj{"req": "sends", "uuid": idle.UUID, "callees": []string{bob.Number}, "length": 2}, bad, 10010},
		{obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 2}, bad, 10002},
		{obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 3}, []byte("hi"), 10002},
	} {
		status, got, _ := rawResponse(t, "POST", s.URL, bytes.NewReader(body(c.head, c.data)))
		if p := errAnswerProblem(got, c.code); status != 200 || p != "" {
			t.Errorf("%v %q: answer %d %s, want %s: %s", c.head, c.data, status, got, errBody(c.code), p)
		}
	}
	if after := snapshot(t, db, s); after != before {
		t.Fatal("a refused send stored something")
	}
}

// Data the arena takes, from a sender the number cache knows, is written
// before the sender is checked (the store checks it at commit), with the
// same answers as checking first: an idle sender is refused as such, bad
// data from it too, and a sender in use with bad data gets a format
// error. Nothing is stored, and the arena's space is all free again.
func TestArenaSendSenderCheckedFirst(t *testing.T) {
	ringtest.NeedSQLite(t)
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	idle := s.Register(t)
	before := snapshot(t, db, s)
	good := bytes.Repeat([]byte("é"), 5000)
	bad := bytes.Clone(good)
	bad[len(bad)-1] = 0xff // not UTF-8, at the end
	for _, c := range []struct {
		head obj
		data []byte
		code int
	}{
		{obj{"req": "send", "uuid": ringtestUUID, "callee": bob.Number, "length": len(bad)}, bad, 10004},
		{obj{"req": "send", "uuid": ringtestUUID, "callee": bob.Number, "length": len(good)}, good, 10004},
		// The first from idle is checked before its data (the cache
		// does not know it yet), the others after.
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": len(good)}, good, 10010},
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": len(good)}, good, 10010},
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": len(bad)}, bad, 10010},
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": len(good) + 1}, good, 10010},
		{obj{"req": "send", "uuid": idle.UUID, "callee": bob.Number, "length": len(good), "fname": "f.bin"}, good, 10010},
		{obj{"req": "sends", "uuid": idle.UUID, "callees": []string{bob.Number}, "length": len(bad)}, bad, 10010},
		{obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(bad)}, bad, 10002},
		{obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(good) + 1}, good, 10002},
	} {
		status, got, _ := rawResponse(t, "POST", s.URL, bytes.NewReader(body(c.head, c.data)))
		if p := errAnswerProblem(got, c.code); status != 200 || p != "" {
			t.Errorf("%v: answer %d %s, want %s: %s", c.head, status, got, errBody(c.code), p)
		}
	}
	if after := snapshot(t, db, s); after != before {
		t.Fatal("a refused send stored something")
	}
	if size, free := s.ArenaSpace(t); free != size {
		t.Fatalf("arena: %d of %d bytes free after refused sends", free, size)
	}
}
