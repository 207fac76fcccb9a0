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
	db, hashes := openWithNumbers(t, filepath.Join(t.TempDir(), "a.db"), []string{"1001", "1002", "1003"}, "t", arenaNow)
	defer db.Close()
	ctx := context.Background()
	alice := hashes[0]
	res, err := db.Send(ctx, store.NewMessages{SenderHash: alice, Callees: []string{"1002"}, Fname: "a.bin", Blob: arenaOwn, Now: arenaNow})
	if err != nil || res.BlobExisted {
		t.Fatalf("send: %+v, %v", res, err)
	}
	if _, err := db.Send(ctx, store.NewMessages{SenderHash: alice, Callees: []string{"1002", "1003"}, Fname: "b.bin", Blob: arenaShared, Now: arenaNow}); err != nil {
		t.Fatal(err)
	}
	var blobs int
	if err := db.read.QueryRow(`SELECT count(*) FROM blobs`).Scan(&blobs); err != nil || blobs != 1 {
		t.Fatalf("%d blobs rows, want only the shared one (%v)", blobs, err)
	}
	m, err := db.Message(ctx, res.MsgIDs["1002"])
	if err != nil || !m.InArena || m.ArenaOff != arenaOwn.ArenaOff || m.URI != arenaOwn.Hash || m.Length != arenaOwn.Length {
		t.Fatalf("message %+v, %v: want its own extent", m, err)
	}
	checkArenaListed(t, db)
	checkArenaInUse(t, db)
	checkArenaExpiry(t, db)
}

var (
	arenaNow    = time.Unix(1_800_000_000, 0)
	arenaOwn    = store.Blob{Hash: "own", Length: 10_000, InArena: true, ArenaOff: 0}
	arenaShared = store.Blob{Hash: "shared", Length: 20_000, InArena: true, ArenaOff: 16384}
)

// checkArenaListed checks that ArenaBlobs lists both extents.
func checkArenaListed(t *testing.T, db *DB) {
	t.Helper()
	listed := map[int64]int64{}
	if err := db.ArenaBlobs(context.Background(), func(off, length int64) error { listed[off] = length; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[arenaOwn.ArenaOff] != arenaOwn.Length || listed[arenaShared.ArenaOff] != arenaShared.Length {
		t.Fatalf("ArenaBlobs listed %v", listed)
	}
}

// checkArenaInUse checks that ArenaInUse finds both extents, and nothing
// at another offset or second.
func checkArenaInUse(t *testing.T, db *DB) {
	t.Helper()
	own, shared, now := arenaOwn, arenaShared, arenaNow
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
		if used, err := db.ArenaInUse(context.Background(), c.hash, c.off, c.at); err != nil || used != c.want {
			t.Errorf("ArenaInUse(%s, %d, %v) = %v, %v; want %v", c.hash, c.off, c.at, used, err, c.want)
		}
	}
}

// checkArenaExpiry checks that expiry hands back the extent the deleted
// message held, once, and the shared uri.
func checkArenaExpiry(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	own := arenaOwn
	gone, err := db.ExpireMessages(ctx, arenaNow.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if g := gone.Arena; len(g) != 1 || g[0].Hash != own.Hash || !g[0].InArena || g[0].ArenaOff != own.ArenaOff || g[0].Length != own.Length {
		t.Fatalf("expired extents %+v, want only %+v", gone.Arena, own)
	}
	if len(gone.URIs) != 1 || gone.URIs[0] != arenaShared.Hash {
		t.Fatalf("expired uris %v, want only the shared one", gone.URIs)
	}
	if used, err := db.ArenaInUse(ctx, own.Hash, own.ArenaOff, arenaNow); err != nil || used {
		t.Fatalf("the expired message's extent is in use: %v, %v", used, err)
	}
}
