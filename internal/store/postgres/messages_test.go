package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

// online registers numbers 1..n and logs each in on a device of its own.
func online(t *testing.T, db *postgres.DB, n int) []string {
	t.Helper()
	numbers := register(t, db, n)
	for i, num := range numbers {
		if _, err := db.Login(t.Context(), dev("token-"+num, num), []store.UUIDHash{uuid(i)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	return numbers
}

func text(from int, to []string, data, cid string) store.NewMessages {
	return store.NewMessages{SenderHash: uuid(from), Callees: to, Data: strings.NewReader(data),
		Length: int64(len(data)), CID: cid, Now: t0}
}

// Many gets of one number on two nodes at once, while its messages are
// still being sent: every message is taken by exactly one get.
func TestConcurrentGetsTakeEachMessageOnce(t *testing.T) {
	dbs, _ := nodes(t, 2)
	numbers := online(t, dbs[0], 2)
	const messages, getters = 400, 16
	ctx, cancel := context.WithTimeout(t.Context(), stuckAfter)
	defer cancel()
	sent := make(map[int64]bool, messages)
	var sentMu sync.Mutex
	var taken sync.Map // id → getter
	errs := make(chan error, getters+1)
	sending := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(sending)
		for i := range messages {
			res, err := dbs[i%2].Send(ctx, text(0, numbers[1:], fmt.Sprint(i), ""))
			if err != nil {
				errs <- err
				return
			}
			sentMu.Lock()
			sent[res.MsgIDs[numbers[1]]] = true
			sentMu.Unlock()
		}
	})
	for g := range getters {
		wg.Go(func() {
			for done := false; !done; {
				select {
				case <-sending:
					done = true // one more round takes what is left
				default:
				}
				msgs, _, err := dbs[g%2].TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1:], Limit: 1 + g%5}, nil)
				if err != nil {
					errs <- err
					return
				}
				for _, m := range msgs {
					if other, dup := taken.LoadOrStore(m.ID, g); dup {
						errs <- fmt.Errorf("message %d taken by getters %d and %d", m.ID, other, g)
						return // one error a getter: errs has room for each
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// What the last rounds raced past is still there for one more get.
	for {
		msgs, _, err := dbs[0].TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1:], Limit: 100}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if _, dup := taken.LoadOrStore(m.ID, -1); dup {
				t.Fatalf("message %d taken twice", m.ID)
			}
		}
	}
	n := 0
	taken.Range(func(id, _ any) bool {
		if !sent[id.(int64)] {
			t.Errorf("taken message %d was never sent", id)
		}
		n++
		return true
	})
	if n != messages {
		t.Fatalf("%d messages taken, want %d", n, messages)
	}
}

// One cid sent at once from many goroutines on two nodes: one message is
// stored, and every answer carries its msgid.
func TestSameCIDAtOnceStoresOne(t *testing.T) {
	dbs, url := nodes(t, 2)
	numbers := online(t, dbs[0], 3)
	const senders = 24
	ctx, cancel := context.WithTimeout(t.Context(), stuckAfter)
	defer cancel()
	results := make([]store.SendResult, senders)
	errs := make([]error, senders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			<-start
			results[i], errs[i] = dbs[i%2].Send(ctx, text(0, numbers[1:], "once", "the-cid"))
		})
	}
	close(start)
	wg.Wait()
	replays := 0
	for i := range senders {
		if errs[i] != nil {
			t.Fatalf("send %d: %v", i, errs[i])
		}
		if !maps.Equal(results[i].MsgIDs, results[0].MsgIDs) || len(results[i].MsgIDs) != 2 {
			t.Fatalf("send %d answered %v, send 0 %v", i, results[i].MsgIDs, results[0].MsgIDs)
		}
		if results[i].Replayed {
			replays++
		}
	}
	if replays != senders-1 {
		t.Fatalf("%d replays of %d sends, want all but one", replays, senders)
	}
	if n := count(t, url, `SELECT count(*) FROM messages`); n != 2 {
		t.Fatalf("%d messages stored, want 2 (one per callee)", n)
	}
}

// count runs a count query on the database at url, beside the engine.
func count(t *testing.T, url, q string, args ...any) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Data above the threshold goes to the object store, named by the
// message's uri; a send refused after its object was put leaves none;
// an orphan object (as a crash between put and commit leaves) is deleted
// by the sweep once past its grace, and an expired message's object with
// the message.
func TestObjectsPlacedAndFreed(t *testing.T) {
	objects, _ := openObjects(t)
	db, url := openWith(t, postgres.Options{Objects: objects, ObjectThreshold: 10, OrphanGrace: time.Nanosecond})
	numbers := online(t, db, 3)
	ctx := t.Context()
	big := strings.Repeat("x", 5000)
	file := text(0, numbers[1:2], big, "")
	file.Fname = "big.txt"
	res, err := db.Send(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := db.Message(ctx, res.MsgIDs[numbers[1]])
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := objects.Open(ctx, m.URI, 4990, 10); err != nil {
		t.Fatalf("object of message %s: %v", m.URI, err)
	} else {
		rc.Close()
	}
	if n := count(t, url, `SELECT count(*) FROM data WHERE inline IS NULL`); n != 1 {
		t.Fatalf("%d data rows in the object store, want 1", n)
	}
	refused := text(2, numbers[1:2], big, "") // number 2 logs out first
	refused.Fname = "big.txt"
	if _, err := db.Login(ctx, dev("token-"+numbers[2], ""), nil, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Send(ctx, refused); !errors.Is(err, store.ErrCallerNotInUse) {
		t.Fatalf("send of a caller not in use: %v", err)
	}
	if names := objectNames(t, objects); len(names) != 1 || names[0] != m.URI {
		t.Fatalf("objects after a refused send %v, want only %s", names, m.URI)
	}
	if err := objects.Put(ctx, "orphan", strings.NewReader("left by a crash"), 15); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // object times have whole seconds
	if err := db.Expire(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if names := objectNames(t, objects); len(names) != 1 || names[0] != m.URI {
		t.Fatalf("objects after the sweep %v, want only %s", names, m.URI)
	}
	if err := db.Expire(ctx, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if names := objectNames(t, objects); len(names) != 0 {
		t.Fatalf("objects after the message expired %v, want none", names)
	}
	if n := count(t, url, `SELECT count(*) FROM data`); n != 0 {
		t.Fatalf("%d data rows after expiry, want 0", n)
	}
}

// objectNames lists every object in the bucket.
func objectNames(t *testing.T, objects *s3.Store) []string {
	t.Helper()
	var names []string
	for obj, err := range objects.ListOlder(t.Context(), time.Now().Add(time.Hour)) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, obj.Name)
	}
	return names
}
