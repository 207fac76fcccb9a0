package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// Data in the arena sent to one number is held by its message row (no
// blobs row), sent to several by one blobs row; ArenaBlobs lists both,
// ArenaInUse finds both (and nothing at another offset or second), and
// expiry hands back the extents the deleted messages held, once.
func TestArenaRows(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "a.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	alice := store.UUIDHash{1}
	for n, u := range map[string]store.UUIDHash{"1001": alice, "1002": {2}, "1003": {3}} {
		if err := db.Register(ctx, n, u, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Login(ctx, store.Device{Token: "t", AppID: "a", Build: "1", Name: "N", Locale: "en"},
		[]store.UUIDHash{alice, {2}, {3}}, now); err != nil {
		t.Fatal(err)
	}
	own := store.Blob{Hash: "own", Length: 10_000, InArena: true, ArenaOff: 0}
	shared := store.Blob{Hash: "shared", Length: 20_000, InArena: true, ArenaOff: 16384}
	res, err := db.Send(ctx, store.NewMessages{SenderHash: alice, Callees: []string{"1002"}, Fname: "a.bin", Blob: own, Now: now})
	if err != nil || res.BlobExisted {
		t.Fatalf("send: %+v, %v", res, err)
	}
	if _, err := db.Send(ctx, store.NewMessages{SenderHash: alice, Callees: []string{"1002", "1003"}, Fname: "b.bin", Blob: shared, Now: now}); err != nil {
		t.Fatal(err)
	}
	var blobs int
	if err := db.read.QueryRow(`SELECT count(*) FROM blobs`).Scan(&blobs); err != nil || blobs != 1 {
		t.Fatalf("%d blobs rows, want only the shared one (%v)", blobs, err)
	}
	m, err := db.Message(ctx, res.MsgIDs["1002"])
	if err != nil || !m.InArena || m.ArenaOff != own.ArenaOff || m.URI != own.Hash || m.Length != own.Length {
		t.Fatalf("message %+v, %v: want its own extent", m, err)
	}

	listed := map[int64]int64{}
	if err := db.ArenaBlobs(ctx, func(off, length int64) error { listed[off] = length; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[own.ArenaOff] != own.Length || listed[shared.ArenaOff] != shared.Length {
		t.Fatalf("ArenaBlobs listed %v", listed)
	}

	for _, c := range []struct {
		hash string
		off  int64
		at   time.Time
		want bool
	}{
		{own.Hash, own.ArenaOff, now, true},
		{shared.Hash, shared.ArenaOff, now, true},
		{shared.Hash, shared.ArenaOff, now.Add(time.Hour), true}, // a blobs row, whenever
		{own.Hash, own.ArenaOff, now.Add(time.Second), false},    // not the second it was stored
		{own.Hash, 4096, now, false},
		{shared.Hash, 4096, now, false},
	} {
		if used, err := db.ArenaInUse(ctx, c.hash, c.off, c.at); err != nil || used != c.want {
			t.Errorf("ArenaInUse(%s, %d, %v) = %v, %v; want %v", c.hash, c.off, c.at, used, err, c.want)
		}
	}

	gone, err := db.ExpireMessages(ctx, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if g := gone.Arena; len(g) != 1 || g[0].Hash != own.Hash || !g[0].InArena || g[0].ArenaOff != own.ArenaOff || g[0].Length != own.Length {
		t.Fatalf("expired extents %+v, want only %+v", gone.Arena, own)
	}
	if len(gone.URIs) != 1 || gone.URIs[0] != shared.Hash {
		t.Fatalf("expired uris %v, want only the shared one", gone.URIs)
	}
	if used, err := db.ArenaInUse(ctx, own.Hash, own.ArenaOff, now); err != nil || used {
		t.Fatalf("the expired message's extent is in use: %v, %v", used, err)
	}
}
