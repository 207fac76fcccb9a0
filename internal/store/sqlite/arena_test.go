package sqlite

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/store"
)

// testArena is the arena of the tests here: small chunks, so a test does
// not write 64 MiB of zeros.
var testArena = blob.ArenaOptions{ChunkSize: 4 << 20}

// openWithArena opens a store with numbers 1001-1003 in use, and a small
// arena.
func openWithArena(t *testing.T, opts Options) (*DB, []store.UUIDHash) {
	t.Helper()
	opts.Arena = testArena
	db, err := Open(filepath.Join(t.TempDir(), "a.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	numbers := []string{"1001", "1002", "1003"}
	hashes := make([]store.UUIDHash, len(numbers))
	for i, n := range numbers {
		hashes[i] = store.UUIDHash{byte(i + 1)}
		if err := db.Register(ctx, n, hashes[i], arenaNow); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Login(ctx, store.Device{Token: "t", AppID: "a", Build: "1", Name: "N", Locale: "en"}, hashes, arenaNow); err != nil {
		t.Fatal(err)
	}
	return db, hashes
}

var arenaNow = time.Unix(1_800_000_000, 0)

// fileOf is n bytes no other file of the tests here has.
func fileOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// sendFile sends data as a file from alice to callees.
func sendFile(t *testing.T, db *DB, from store.UUIDHash, data []byte, callees ...string) store.SendResult {
	t.Helper()
	res, err := db.Send(context.Background(), store.NewMessages{SenderHash: from, Callees: callees, Fname: "f.bin",
		Data: bytes.NewReader(data), Length: int64(len(data)), Now: arenaNow})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Data in the arena sent to one number is held by its message row (no
// blobs row), sent to several by one blobs row; the arena's index lists
// both; expiry frees the extents once their messages are gone, and the
// data is gone with them.
func TestArenaRows(t *testing.T) {
	db, hashes := openWithArena(t, Options{})
	ctx := context.Background()
	own, shared := fileOf(10_000, 1), fileOf(20_000, 2)
	r1 := sendFile(t, db, hashes[0], own, "1002")
	r2 := sendFile(t, db, hashes[0], shared, "1002", "1003")
	var blobs, rowOwn int
	if err := db.read.QueryRow(`SELECT (SELECT count(*) FROM blobs), (SELECT count(*) FROM messages WHERE arena_off IS NOT NULL)`).
		Scan(&blobs, &rowOwn); err != nil || blobs != 1 || rowOwn != 1 {
		t.Fatalf("%d blobs rows, %d messages holding an extent; want 1 each (%v)", blobs, rowOwn, err)
	}
	listed := map[int64]int64{}
	if err := db.arenaRows(ctx, func(off, length int64) error { listed[off] = length; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 {
		t.Fatalf("arena rows %v, want two extents", listed)
	}
	size, free := db.arena.Size()
	m1, _ := db.Message(ctx, r1.MsgIDs["1002"])
	m2, _ := db.Message(ctx, r2.MsgIDs["1003"])
	if err := db.Expire(ctx, arenaNow.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []store.Message{m1, m2} {
		if _, err := db.OpenData(ctx, m, 0, m.Length); !errors.Is(err, store.ErrBadMsgID) {
			t.Errorf("data of expired message %d: %v, want ErrBadMsgID", m.ID, err)
		}
	}
	if size2, free2 := db.arena.Size(); free2-free != size2-size+blob.ExtentOf(0, 10_000).Len+blob.ExtentOf(0, 20_000).Len {
		t.Errorf("arena free %d of %d, then %d of %d: want both extents freed", free, size, free2, size2)
	}
}

// A fetch that has read a message's row opens its extent before expiry
// may free it, and reads the message's bytes even as its message expires;
// one that comes after the expiry is told the data is gone.
func TestOpenDataRacesExpiry(t *testing.T) {
	db, hashes := openWithArena(t, Options{})
	ctx := context.Background()
	data := fileOf(50_000, 3)
	res := sendFile(t, db, hashes[0], data, "1002")
	m, err := db.Message(ctx, res.MsgIDs["1002"])
	if err != nil {
		t.Fatal(err)
	}
	expired := make(chan error, 1)
	SetOpenDataHook(db, func() {
		// Between the row read and the open: expiry waits for the open.
		go func() { expired <- db.Expire(ctx, arenaNow.Add(time.Second)) }()
		time.Sleep(20 * time.Millisecond)
	})
	rc, err := db.OpenData(ctx, m, 1000, 40_000)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-expired; err != nil {
		t.Fatal(err)
	}
	// A send now may reuse the freed space; the open reader is pinned.
	sendFile(t, db, hashes[0], fileOf(50_000, 9), "1003")
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[1000:41_000]) {
		t.Fatalf("read %d bytes (%v), not the message's", len(got), err)
	}
	if _, err := db.OpenData(ctx, m, 0, m.Length); !errors.Is(err, store.ErrBadMsgID) {
		t.Fatalf("after expiry: %v, want ErrBadMsgID", err)
	}
}

// A file no row names is an orphan: Expire deletes it once it is older
// than the grace, and not before; Open deletes it at once.
func TestOrphanFilesSwept(t *testing.T) {
	db, _ := openWithArena(t, Options{OrphanGrace: time.Hour})
	ctx := context.Background()
	young, old := uniqueName(), uniqueName()
	for _, name := range []string{young, old} {
		if err := db.blobs.PutNamed(ctx, name, bytes.NewReader([]byte("orphan")), 6); err != nil {
			t.Fatal(err)
		}
	}
	oldPath := filepath.Join(filepath.Dir(db.path), "blobs", old[:2], old)
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(oldPath, past, past); err != nil {
		t.Fatal(err)
	}
	if err := db.Expire(ctx, arenaNow); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(oldPath); !os.IsNotExist(err) {
		t.Errorf("old orphan still there: %v", err)
	}
	youngPath := filepath.Join(filepath.Dir(db.path), "blobs", young[:2], young)
	if _, err := os.Stat(youngPath); err != nil {
		t.Errorf("young orphan swept: %v", err)
	}
}
