package sqlite

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// TestBindingsFollowLogins: the writer's copy of numbers' bindings never
// lets a send see a binding that is no longer committed: a logout in the
// same batch, just before the send, is seen; and a login undone by its
// savepoint leaves no trace.
func TestBindingsFollowLogins(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	db, hashes := openWithNumbers(t, filepath.Join(t.TempDir(), "b.db"), []string{"1001", "1002"}, "", now)
	defer db.Close()
	ctx := context.Background()
	alice, bob := hashes[0], hashes[1]
	login := func(token string, u ...store.UUIDHash) error {
		_, err := db.Login(ctx, store.Device{Token: token, AppID: "a", Build: "1", Name: "N", Locale: "en"}, u, now)
		return err
	}
	if err := login("ta", alice); err != nil {
		t.Fatal(err)
	}
	if err := login("tb", bob); err != nil {
		t.Fatal(err)
	}
	text := []byte("hi")
	send := func() error {
		_, err := db.Send(ctx, store.NewMessages{SenderHash: alice, Callees: []string{"1002"}, Now: now,
			Data: bytes.NewReader(text), Length: int64(len(text))})
		return err
	}
	if err := send(); err != nil { // fills the copy: bob is bound to tb
		t.Fatal(err)
	}

	// Hold the writer so that bob's logout and the send share one batch.
	release := make(chan struct{})
	held := make(chan error, 1)
	go func() { held <- db.write(ctx, func(*wtx) error { <-release; return nil }) }()
	for len(db.ops) > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // let the writer take the holding op
	logout, sent := make(chan error, 1), make(chan error, 1)
	go func() { logout <- login("tb") }()
	for len(db.ops) < 1 {
		time.Sleep(time.Millisecond)
	}
	go func() { sent <- send() }()
	for len(db.ops) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-logout; err != nil {
		t.Fatal(err)
	}
	if err := <-sent; !errors.Is(err, store.ErrCalleeNotInUse) {
		t.Fatalf("send after a logout in its batch: %v, want %v", err, store.ErrCalleeNotInUse)
	}

	// A login whose operation fails after binding is undone, and so is
	// its trace in the copy.
	err := db.write(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`UPDATE numbers SET token = 'tb' WHERE number = '1002'`); err != nil {
			return err
		}
		if _, err := tx.callee("1002"); err != nil { // fills the copy with the undone binding
			return err
		}
		return errors.New("undo")
	})
	if err == nil {
		t.Fatal("the failing operation succeeded")
	}
	if err := send(); !errors.Is(err, store.ErrCalleeNotInUse) {
		t.Fatalf("send after an undone login: %v, want %v", err, store.ErrCalleeNotInUse)
	}
	if err := login("tb2", bob); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatalf("send after bob's new login: %v", err)
	}
}
