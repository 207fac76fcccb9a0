package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

func randomData(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sendFile sends data as a file and returns its msgid.
func sendFile(t testing.TB, s *ringtest.Server, from ringtest.User, to string, data []byte) string {
	t.Helper()
	a, _ := s.Must(t, obj{"req": "send", "uuid": from.UUID, "callee": to, "length": len(data), "fname": "f.bin"}, data)
	return a.Str("msgid")
}

// arenaRows checks that the blobs rows pointing into the arena do not
// overlap, and returns the bytes they hold (in whole units) by hash.
func arenaRows(t testing.TB, db *sql.DB) map[string]blob.Extent {
	t.Helper()
	rows, err := db.Query(`SELECT hash, arena_off, length FROM blobs WHERE arena_off IS NOT NULL ORDER BY arena_off`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]blob.Extent{}
	var prev blob.Extent
	for rows.Next() {
		var h string
		var off, length int64
		if err := rows.Scan(&h, &off, &length); err != nil {
			t.Fatal(err)
		}
		e := blob.ExtentOf(off, length)
		if prev.Len > 0 && prev.Off+prev.Len > e.Off {
			t.Fatalf("arena extents %+v and %+v overlap", prev, e)
		}
		prev = e
		out[h] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantArenaFree checks that the arena's free space is all it holds but the
// rows' extents.
func wantArenaFree(t testing.TB, s *ringtest.Server, db *sql.DB) {
	t.Helper()
	var used int64
	for _, e := range arenaRows(t, db) {
		used += e.Len
	}
	if size, free := s.Arena.Size(); free != size-used {
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

// TestArenaRestart: files sent concurrently are in the arena; after a
// restart on the same directory the arena is rebuilt from the database:
// every file is fetched byte for byte, space written but never committed
// is free, and files sent afterwards take no extent already in use.
func TestArenaRestart(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	s := ringtest.New(t, cfg)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]

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
	// Data written and synced whose message never committed, as a crash
	// between the two leaves it.
	if _, _, err := s.Arena.Put(context.Background(), bytes.NewReader(randomData(t, 300_000)), 300_000); err != nil {
		t.Fatal(err)
	}
	if n := len(arenaRows(t, rawDB(t, s))); n != len(sent) {
		t.Fatalf("%d arena rows for %d files", n, len(sent))
	}
	s.Close()

	s = ringtest.NewAt(t, cfg, s.Dir)
	db := rawDB(t, s)
	wantArenaFree(t, s, db) // the uncommitted data's space is free again
	fetchAll(t, s, bob, sent)
	sendMany(s, 5)
	if n := len(arenaRows(t, db)); n != len(sent) {
		t.Fatalf("%d arena rows for %d files", n, len(sent))
	}
	wantArenaFree(t, s, db)
	fetchAll(t, s, bob, sent)
}

// TestArenaDataStoredOnce: the same data sent again is stored once, and the
// second copy's extent is free again; so is that of a retry and of every
// refused send.
func TestArenaDataStoredOnce(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob", "Carol")
	alice, bob, carol := us[0], us[1], us[2]
	idle := s.Register(t)

	data := randomData(t, 10_000)
	sendFile(t, s, alice, bob.Number, data)
	sendFile(t, s, alice, carol.Number, data)
	s.Must(t, obj{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number}, "length": len(data), "fname": "g.bin"}, data)
	if n := count(t, db, `SELECT count(*) FROM blobs WHERE hash = ?`, sha(data)); n != 1 {
		t.Fatalf("%d blobs rows for data sent three times", n)
	}
	if n := count(t, db, `SELECT count(*) FROM messages WHERE uri = ?`, sha(data)); n != 4 {
		t.Fatalf("%d messages, want 4", n)
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

// TestArenaExpiryFreesSpace: the janitor's expiry frees a file's extent,
// and the next file is stored there.
func TestArenaExpiryFreesSpace(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	db := rawDB(t, s)
	us := users(t, s, "Alice", "Bob")
	alice, bob := us[0], us[1]
	t0 := time.Unix(1_800_000_000, 0)
	s.Clock.Set(t0)

	old := randomData(t, 20_000)
	sendFile(t, s, alice, bob.Number, old)
	oldExt := arenaRows(t, db)[sha(old)]
	s.Clock.Set(t0.Add(server.DefaultRetention + time.Second))
	if err := s.Server.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if size, free := s.Arena.Size(); free != size {
		t.Fatalf("arena: %d of %d bytes free after expiry", free, size)
	}
	data := randomData(t, 20_000)
	id := sendFile(t, s, alice, bob.Number, data)
	if e := arenaRows(t, db)[sha(data)]; e != oldExt {
		t.Fatalf("the new file is at %+v, not in the freed %+v", e, oldExt)
	}
	fetchAll(t, s, bob, map[string][]byte{id: data})
	wantArenaFree(t, s, db)
}

// TestArenaFetchRacingExpiry: a fetch never returns another message's
// bytes when its message expires, its extent is freed and another file is
// written while the fetch runs. A hook inside the fetch expires the
// message and sends another file of the same size at each stage: before
// the lookup (the other file takes the freed extent; the fetch answers
// 10013), between the lookup and opening the extent (the expiry must wait
// for the fetch's hold on blobMu), and once the extent is open (the
// extent is freed only when the fetch is done with it).
func TestArenaFetchRacingExpiry(t *testing.T) {
	for _, stage := range []string{"lookup", "open", "read"} {
		t.Run(stage, func(t *testing.T) {
			s := ringtest.New(t, ringtest.NewConfig(t))
			db := rawDB(t, s)
			us := users(t, s, "Alice", "Bob")
			alice, bob := us[0], us[1]
			t0 := time.Unix(1_800_000_000, 0)
			s.Clock.Set(t0)
			old := randomData(t, 30_000)
			id := sendFile(t, s, alice, bob.Number, old)
			oldExt := arenaRows(t, db)[sha(old)]

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
			e := arenaRows(t, db)[sha(newer)]
			if stage == "read" {
				if e.Off < oldExt.Off+oldExt.Len && oldExt.Off < e.Off+e.Len {
					t.Fatalf("the newer file went to %+v, into %+v while it was read", e, oldExt)
				}
				// Freed once the fetch closed it (just after its answer).
				for i := 0; ; i++ {
					size, free := s.Arena.Size()
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
		})
	}
}

// TestArenaFetchesDuringExpiry: fetchers, the janitor and new sends at
// once; every fetch answers the message's own bytes or 10013.
func TestArenaFetchesDuringExpiry(t *testing.T) {
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
