package server_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/ringtest"
)

// Data stored by a send that crashed before its commit has no record; the
// store deletes it when it opens next, and keeps data that messages refer
// to.
func TestDropStraysKeepsReferencedData(t *testing.T) {
	ringtest.NeedSQLite(t)
	cfg := ringtest.NewConfig(t)
	s := ringtest.New(t, cfg)
	alice, bob := s.User(t, "Alice"), s.User(t, "Bob")
	// Larger than the arena takes: a file of its own.
	kept := bytes.Repeat([]byte("k"), ringtest.ArenaMax+1)
	a, _ := s.Must(t, map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number,
		"length": len(kept), "fname": "kept.bin"}, kept)
	uri := messageURI(t, s, bob)

	files, err := blob.NewDisk(filepath.Join(s.Dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	stray := bytes.Repeat([]byte("s"), 10000)
	hash, err := files.Put(context.Background(), bytes.NewReader(stray), int64(len(stray)))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = ringtest.NewAt(t, cfg, s.Dir)
	if _, err := os.Stat(filepath.Join(s.Dir, "blobs", hash[:2], hash)); !os.IsNotExist(err) {
		t.Fatalf("stray data still there: %v", err)
	}
	_, data := s.Must(t, map[string]any{"req": "fetch", "uuid": bob.UUID, "msgid": a.Str("msgid")}, nil)
	if !bytes.Equal(data, kept) {
		t.Fatalf("referenced data damaged: %d bytes", len(data))
	}
	rc, err := files.Open(context.Background(), uri, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, kept) {
		t.Fatal("referenced file damaged")
	}
}

func messageURI(t *testing.T, s *ringtest.Server, u ringtest.User) string {
	t.Helper()
	a, _ := s.Must(t, map[string]any{"req": "history", "uuid": []string{u.UUID}}, nil)
	msgs := ringtest.Messages(a)
	if len(msgs) == 0 {
		t.Fatal("no messages")
	}
	return msgs[0]["uri"].(string)
}
