package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

// arenaRow is a row pointing into the arena: a blobs row, or a message
// holding its own extent (msgid set).
type arenaRow struct {
	hash  string // the blobs row's key, or the message's uri
	msgid string
	ext   blob.Extent
	sum   string // the SHA-256 of the bytes in the extent
}

// arenaRows checks that the rows pointing into the arena (blobs rows and
// messages holding their own extent) do not overlap, and returns them in
// the arena's order with the bytes they hold (in whole units) and the
// SHA-256 of their data, read from s's arena.
func arenaRows(t testing.TB, s *ringtest.Server, db *sql.DB) []arenaRow {
	t.Helper()
	rows, err := db.Query(`SELECT hash, '', arena_off, length FROM blobs WHERE arena_off IS NOT NULL
		UNION ALL SELECT uri, id, arena_off, length FROM messages WHERE arena_off IS NOT NULL ORDER BY 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []arenaRow
	var prev blob.Extent
	for rows.Next() {
		var r arenaRow
		var off, length int64
		if err := rows.Scan(&r.hash, &r.msgid, &off, &length); err != nil {
			t.Fatal(err)
		}
		r.ext = blob.ExtentOf(off, length)
		if prev.Len > 0 && prev.Off+prev.Len > r.ext.Off {
			t.Fatalf("arena extents %+v and %+v overlap", prev, r.ext)
		}
		prev = r.ext
		b := make([]byte, length)
		if _, err := s.Arena.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		r.sum = sha(b)
		// Data past store.TextMax is named by a name of its own, of the
		// shape of a SHA-256 (docs/API.md, uri).
		if _, err := hex.DecodeString(r.hash); err != nil || len(r.hash) != 64 || r.hash == r.sum {
			t.Fatalf("arena row %s (message %q) holds data whose SHA-256 is %s: want 64 hex digits of its own", r.hash, r.msgid, r.sum)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// arenaOf returns the extent of the one row that holds data in the arena
// (none: the zero Extent), and the msgid of the message holding it
// itself ("" for a blobs row).
func arenaOf(t testing.TB, s *ringtest.Server, db *sql.DB, data []byte) (blob.Extent, string) {
	t.Helper()
	var found []arenaRow
	for _, r := range arenaRows(t, s, db) {
		if r.sum == sha(data) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return blob.Extent{}, ""
	case 1:
		return found[0].ext, found[0].msgid
	}
	t.Fatalf("%d rows hold the same data in the arena: %+v", len(found), found)
	return blob.Extent{}, ""
}

// wantArenaFree checks that the arena's free space is all it holds but the
// rows' extents.
func wantArenaFree(t testing.TB, s *ringtest.Server, db *sql.DB) {
	t.Helper()
	var used int64
	for _, r := range arenaRows(t, s, db) {
		used += r.ext.Len
	}
	if size, free := s.ArenaSpace(t); free != size-used {
		t.Fatalf("arena: %d of %d bytes free, want %d (all but the %d the rows hold)", free, size, size-used, used)
	}
}

// fetchAll fetches every message of want as bob and compares the bytes.
func fetchAll(t *testing.T, s *ringtest.Server, bob ringtest.User, want map[string][]byte) {
	t.Helper()
	for id, data := range want {
		_, got := s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": id}, nil)
		if !bytes.Equal(got, data) {
			t.Fatalf("message %s: fetched %d bytes that differ from the %d sent", id, len(got), len(data))
		}
		_, got = s.Must(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": id, "offset": len(data) / 3, "limit": 5000}, nil)
		if end := min(len(data), len(data)/3+5000); !bytes.Equal(got, data[len(data)/3:end]) {
			t.Fatalf("message %s: a range differs", id)
		}
	}
}

// TestArenaRestart: files sent concurrently are in the arena, each sent
// to one number in its message's row, a sends' in a blobs row; after a
// restart on the same directory the arena is rebuilt from the database
// (both kinds of rows): every file is fetched byte for byte, space written
// but never committed is free, and files sent afterwards take no extent
// already in use.
func TestArenaRestart(t *testing.T) {
	ringtest.NeedSQLite(t)
	cfg := ringtest.NewConfig(t)
	s := ringtest.New(t, cfg)
	us := users(t, s, "Alice", "Bob", "Carol")
	alice, bob, carol := us[0], us[1], us[2]

	var mu sync.Mutex // guards sent
	sent := map[string][]byte{}
	sendMany := func(s *ringtest.Server, n int) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range n {
					data := randomData(t, 4097+(g*n+i)*3001%250_000)
					id := sendFile(t, s, alice, bob.Number, data)
					mu.Lock()
					sent[id] = data
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	sendMany(s, 5)
	shared := randomData(t, 70_000)
	a, _ := s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number}, "length": len(shared), "fname": "s.bin"}, shared)
	sharedID, _ := a["msgids"].(map[string]any)[bob.Number].(string)
	sent[sharedID] = shared
	// Data written and synced whose message never committed, as a crash
	// between the two leaves it.
	if _, err := s.Arena.Put(context.Background(), bytes.NewReader(randomData(t, 300_000)), 300_000); err != nil {
		t.Fatal(err)
	}
	rows := arenaRows(t, s, rawDB(t, s))
	if len(rows) != len(sent) {
		t.Fatalf("%d arena rows for %d files", len(rows), len(sent))
	}
	for _, r := range rows {
		want := r.msgid
		if want == "" {
			want = sharedID // the one blobs row
		}
		if data, ok := sent[want]; !ok || sha(data) != r.sum || (r.msgid == "") != (want == sharedID) {
			t.Fatalf("arena row %+v: not the row of a file sent", r)
		}
	}
	s.Close()

	s = ringtest.NewAt(t, cfg, s.Dir)
	db := rawDB(t, s)
	wantArenaFree(t, s, db) // the uncommitted data's space is free again
	fetchAll(t, s, bob, sent)
	sendMany(s, 5)
	if n := len(arenaRows(t, s, db)); n != len(sent) {
		t.Fatalf("%d arena rows for %d files", n, len(sent))
	}
	wantArenaFree(t, s, db)
	fetchAll(t, s, bob, sent)
}

// TestArenaDataStoredOnce: data sent to several is stored once per send,
// in one blobs row its messages share; sent to one number it is its
// message's own (no blobs row). A retry's extent is free again, and so is
// every refused send's.
func TestArenaDataStoredOnce(t *testing.T) {
	ringtest.NeedSQLite(t)
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob", "Carol")
	alice, bob, carol := us[0], us[1], us[2]
	idle := s.Register(t)

	data := randomData(t, 10_000)
	sendFile(t, s, alice, bob.Number, data)
	sendFile(t, s, alice, carol.Number, data)
	s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number}, "length": len(data), "fname": "g.bin"}, data)
	s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number}, "length": len(data), "fname": "h.bin"}, data)
	if n := count(t, db, `SELECT count(*) FROM blobs`); n != 2 {
		t.Fatalf("%d blobs rows for data sent twice to several, want one per send", n)
	}
	if n := count(t, db, `SELECT count(*) FROM messages WHERE uri IN (SELECT hash FROM blobs)`); n != 4 {
		t.Fatalf("%d messages share the blobs rows, want the 4 of the two sends", n)
	}
	// Sent to one number, it is its message's own, under a name of its
	// own (arenaRows checks the names).
	own := 0
	for _, r := range arenaRows(t, s, db) {
		if r.msgid != "" && r.sum == sha(data) {
			own++
		}
	}
	if own != 2 {
		t.Fatalf("%d messages hold their own extent, want the 2 sent to one number", own)
	}
	if n := len(arenaRows(t, s, db)); n != 4 {
		t.Fatalf("%d rows in the arena, want 4", n)
	}
	wantArenaFree(t, s, db)

	// A retry (same cid) is answered as the first and stores nothing, even
	// with other data.
	first, _ := s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 20_000, "fname": "c.bin", "cid": "c1"}, randomData(t, 20_000))
	again, _ := s.Must(t, obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 20_000, "fname": "c.bin", "cid": "c1"}, randomData(t, 20_000))
	if first.Str("msgid") != again.Str("msgid") {
		t.Fatalf("a retry got msgid %s, the first %s", again.Str("msgid"), first.Str("msgid"))
	}
	wantArenaFree(t, s, db)

	before := snapshot(t, db, s)
	big := randomData(t, 50_000)
	bad := bytes.Repeat([]byte("é"), 5000)
	bad[9000] = 0xff
	wantError(t, s, body(obj{"req": "send", "uuid": alice.UUID, "callee": idle.Number, "length": len(big), "fname": "i.bin"}, big), 10011)
	wantError(t, s, body(obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(big) + 1, "fname": "s.bin"}, big), 10002)
	wantError(t, s, body(obj{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(bad)}, bad), 10002)
	if after := snapshot(t, db, s); after != before {
		t.Fatalf("refused sends stored something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	wantArenaFree(t, s, db)
}

// TestArenaExpiryFreesSpace: a file to one number keeps its extent in its
// message's row until it expires, the janitor's expiry frees it, and the
// next file is stored there.
func TestArenaExpiryFreesSpace(t *testing.T) {
	ringtest.NeedSQLite(t)
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	t0 := time.Unix(1_800_000_000, 0)
	s.Clock.Set(t0)

	old := randomData(t, 20_000)
	oldID := sendFile(t, s, alice, bob.Number, old)
	oldExt, holder := arenaOf(t, s, db, old)
	if holder != oldID || oldExt.Len == 0 || count(t, db, `SELECT count(*) FROM blobs`) != 0 {
		t.Fatalf("the file is at %+v held by message %q, want its own row %s and no blobs row", oldExt, holder, oldID)
	}
	// Not expired yet: its space is not reused, and a sweep keeps it.
	s.Clock.Set(t0.Add(server.DefaultRetention - time.Second))
	if err := s.Server.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := randomData(t, 20_000)
	otherID := sendFile(t, s, alice, bob.Number, other)
	fetchAll(t, s, bob, map[string][]byte{oldID: old, otherID: other}) // arenaRows: no overlap
	if e, _ := arenaOf(t, s, db, old); e != oldExt {
		t.Fatalf("the file moved from %+v to %+v", oldExt, e)
	}
	s.Clock.Set(t0.Add(server.DefaultRetention + time.Second))
	if err := s.Server.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	otherExt, _ := arenaOf(t, s, db, other)
	if size, free := s.ArenaSpace(t); free != size-otherExt.Len {
		t.Fatalf("arena: %d of %d bytes free after expiry, want all but the live file's %d", free, size, otherExt.Len)
	}
	wantError(t, s, body(obj{"req": "fetch", "uuid": bob.UUID, "msgid": oldID}, nil), 10013)
	data := randomData(t, 20_000)
	id := sendFile(t, s, alice, bob.Number, data)
	if e, _ := arenaOf(t, s, db, data); e != oldExt {
		t.Fatalf("the new file is at %+v, not in the freed %+v", e, oldExt)
	}
	fetchAll(t, s, bob, map[string][]byte{id: data, otherID: other})
	wantArenaFree(t, s, db)
}

// TestArenaFetchRacingExpiry: a fetch never returns another message's
// bytes when its message expires, its extent is freed and another file is
// written while the fetch runs. A hook inside the fetch expires the
// message and sends another file of the same size at each stage: before
// the lookup (the other file takes the freed extent; the fetch answers
// 10013), between the lookup and opening the extent (the expiry must wait
// for the fetch's hold on blobMu), and once the extent is open (the
// extent is freed only when the fetch is done with it). Both for a file to
// one number (the extent in its message's row, which the fetch reads
// again under blobMu) and for one sent to several (a blobs row).
func TestArenaFetchRacingExpiry(t *testing.T) {
	ringtest.NeedSQLite(t)
	for _, kind := range []string{"own", "shared"} {
		// Between the lookup and the open is the engine's to test
		// (sqlite, TestOpenDataRacesExpiry).
		for _, stage := range []string{"lookup", "read"} {
			t.Run(kind+"/"+stage, func(t *testing.T) { testArenaFetchRacingExpiry(t, kind, stage) })
		}
	}
}

func testArenaFetchRacingExpiry(t *testing.T, kind, stage string) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob", "Carol")
	alice, bob, carol := us[0], us[1], us[2]
	sendFile := func(t testing.TB, s *ringtest.Server, from ringtest.User, to string, data []byte) string {
		if kind == "own" {
			return sendFile(t, s, from, to, data)
		}
		a, _ := s.Must(t, obj{"req": "sends", "uuid": from.UUID, "callees": []string{to, carol.Number}, "length": len(data), "fname": "f.bin"}, data)
		id, _ := a["msgids"].(map[string]any)[to].(string)
		return id
	}
	t0 := time.Unix(1_800_000_000, 0)
	s.Clock.Set(t0)
	old := randomData(t, 30_000)
	id := sendFile(t, s, alice, bob.Number, old)
	oldExt, holder := arenaOf(t, s, db, old)
	if (holder == id) != (kind == "own") || oldExt.Len == 0 {
		t.Fatalf("the file is at %+v, held by message %q (sent %s)", oldExt, holder, id)
	}

	newer := randomData(t, 30_000)
	var once sync.Once
	var raced sync.WaitGroup
	server.SetFetchHook(s.Server, func(at string) {
		if at != stage {
			return
		}
		once.Do(func() {
			raced.Go(func() {
				s.Clock.Set(t0.Add(server.DefaultRetention + time.Second))
				if err := s.Server.Sweep(context.Background()); err != nil {
					t.Error(err)
				}
				if stage == "open" {
					// The expiry waited for the fetch to open the
					// extent, and frees it once the fetch closes it:
					// the newer file is to take it, as it would
					// have at once had the expiry not waited.
					for i := 0; i < 5000; i++ {
						if size, free := s.ArenaSpace(t); free == size {
							break
						}
						time.Sleep(time.Millisecond)
					}
				}
				sendFile(t, s, alice, bob.Number, newer)
			})
			if stage == "open" {
				// The expiry waits for this fetch: give it a
				// chance to go wrong.
				time.Sleep(50 * time.Millisecond)
			} else {
				raced.Wait()
			}
		})
	})
	a, got := s.Post(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": id}, nil)
	raced.Wait()
	switch {
	case a.Code() == 10000 && !bytes.Equal(got, old):
		t.Fatalf("fetch returned %d bytes that are not the message's (the newer file's: %v)", len(got), bytes.Equal(got, newer))
	case a.Code() != 10000 && a.Code() != 10013:
		t.Fatalf("fetch answered %v", a)
	case stage == "lookup" && a.Code() != 10013:
		t.Fatalf("fetch after the expiry answered %v", a)
	case stage != "lookup" && a.Code() != 10000:
		t.Fatalf("fetch of an open extent answered %v", a)
	}
	e, _ := arenaOf(t, s, db, newer)
	if stage == "read" {
		if e.Off < oldExt.Off+oldExt.Len && oldExt.Off < e.Off+e.Len {
			t.Fatalf("the newer file went to %+v, into %+v while it was read", e, oldExt)
		}
		// Freed once the fetch closed it (just after its answer).
		for i := 0; ; i++ {
			size, free := s.ArenaSpace(t)
			if free == size-e.Len {
				break
			}
			if i == 5000 {
				t.Fatalf("the expired extent is still taken: %d of %d free", free, size)
			}
			time.Sleep(time.Millisecond)
		}
	} else if e != oldExt {
		t.Fatalf("the newer file is at %+v, not in the freed %+v: the race did not happen", e, oldExt)
	}
}

// TestArenaFetchesDuringExpiry: fetchers, the janitor and new sends at
// once; every fetch answers the message's own bytes or 10013.
func TestArenaFetchesDuringExpiry(t *testing.T) {
	ringtest.NeedSQLite(t)
	s := ringtest.New(t, ringtest.NewConfig(t))
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	t0 := time.Unix(1_800_000_000, 0)
	s.Clock.Set(t0)
	want := map[string][]byte{}
	var ids []string
	for i := range 30 {
		data := randomData(t, 8000+i*1000)
		id := sendFile(t, s, alice, bob.Number, data)
		want[id] = data
		ids = append(ids, id)
	}
	// A message that outlives the others keeps their msgids from being
	// given again (a new row's id is the largest plus one).
	s.Clock.Set(t0.Add(time.Hour))
	s.Send(t, alice, bob.Number, "anchor")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // guards answers
	answers := map[int]int{}
	for g := range 4 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := ids[i%len(ids)]
				a, got := s.Post(t, obj{"req": "fetch", "uuid": bob.UUID, "msgid": id}, nil)
				if a.Code() == 10000 && !bytes.Equal(got, want[id]) {
					t.Errorf("message %s: fetched other bytes", id)
				} else if a.Code() != 10000 && a.Code() != 10013 {
					t.Errorf("message %s: %v", id, a)
				}
				mu.Lock()
				answers[a.Code()]++
				mu.Unlock()
			}
		})
	}
	for { // the fetchers are under way before anything expires
		mu.Lock()
		n := answers[10000]
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.Clock.Set(t0.Add(server.DefaultRetention + time.Second))
	for i := range 30 {
		if err := s.Server.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		sendFile(t, s, alice, bob.Number, randomData(t, 8000+i*1000))
	}
	close(stop)
	wg.Wait()
	t.Logf("answers: %v", answers)
}
