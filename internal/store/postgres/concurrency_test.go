package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

// stuckAfter bounds a concurrency test: a deadlock that is not resolved
// fails it rather than hanging the run.
const stuckAfter = time.Minute

var t0 = time.Unix(1_800_000_000, 0)

// nodes opens n engines on one fresh database, as n ringd nodes would.
func nodes(t *testing.T, n int) ([]*postgres.DB, string) {
	t.Helper()
	first, url := openDB(t)
	dbs := []*postgres.DB{first}
	for range n - 1 {
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs, url
}

func uuid(i int) store.UUIDHash { return sha256.Sum256(fmt.Appendf(nil, "postgres test uuid %d", i)) }

func dev(token, name string) store.Device {
	return store.Device{Token: token, AppID: "com.example.chat", Build: "1", Name: name, Locale: "en"}
}

// register makes numbers 1..n, with uuid(i) for number i.
func register(t *testing.T, db *postgres.DB, n int) []string {
	t.Helper()
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("%d", 40000000+i)
		if err := db.Register(t.Context(), numbers[i], uuid(i), t0); err != nil {
			t.Fatal(err)
		}
	}
	return numbers
}

// Two devices take the same numbers from each other, from many goroutines
// on two nodes at once, each login naming its numbers in a random order:
// every login succeeds without a deadlock, and
// every number ends bound to one of the two devices or to none, under that
// device's name, with the device stored.
func TestLoginsMovingNumbersBetweenTwoDevices(t *testing.T) {
	dbs, url := nodes(t, 2)
	const numberCount, goroutines, rounds = 6, 16, 25
	numbers := register(t, dbs[0], numberCount)
	devices := []store.Device{dev("token-A", "Anna"), dev("token-B", "Bert")}
	ctx, cancel := context.WithTimeout(t.Context(), stuckAfter)
	defer cancel()
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for r := range rounds {
				d := devices[rng.IntN(2)]
				picked := rng.Perm(numberCount)[:1+rng.IntN(numberCount)]
				uuids := make([]store.UUIDHash, len(picked))
				for i, k := range picked {
					uuids[i] = uuid(k)
				}
				if _, err := dbs[g%2].Login(ctx, d, uuids, t0.Add(time.Duration(r)*time.Second)); err != nil {
					errs <- fmt.Errorf("goroutine %d, login %d of %s: %w", g, r, d.Token, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, number := range numbers {
		n, err := dbs[1].Number(t.Context(), number)
		if err != nil {
			t.Fatal(err)
		}
		if !n.InUse() {
			continue
		}
		i := map[string]int{"token-A": 0, "token-B": 1}[n.Token]
		if n.Token != devices[i].Token || n.Name != devices[i].Name || n.Device == nil || *n.Device != devices[i] {
			t.Fatalf("%s: %+v (device %+v)", number, n, n.Device)
		}
	}
	// Retries would hide deadlocks from the logins' errors, but each costs
	// a deadlock_timeout of waiting: the lock order must avoid them.
	if n := deadlocks(t, dbs, url); n != 0 {
		t.Fatalf("%d logins at once deadlocked %d times", goroutines*rounds, n)
	}
}

// deadlocks closes dbs and returns how many deadlocks the server detected
// in the database at url. A backend reports its counts now and then, and
// at the latest when it exits: so it waits for the pools' backends to go.
func deadlocks(t *testing.T, dbs []*postgres.DB, url string) int64 {
	t.Helper()
	for _, db := range dbs {
		db.Close()
	}
	for range 100 {
		others := queryInt(t, url, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if others == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return queryInt(t, url, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)
}

// Of an answer, hangups by both parties and the server's timeout racing on
// one ringing call, from two nodes, the call ends exactly once: one end
// applies; at most one answer does, and then the end is a hangup; the
// callee has exactly one missed-call notice, with its two pushes, when the
// call ended unanswered and undeclined, and none otherwise.
func TestCallEndsExactlyOnce(t *testing.T) {
	dbs, url := nodes(t, 2)
	for _, db := range dbs {
		db.SetPushFilter(func(string) bool { return true })
	}
	numbers := register(t, dbs[0], 2)
	caller, callee := numbers[0], numbers[1]
	for i, token := range []string{"token-caller", "token-callee"} {
		if _, err := dbs[0].Login(t.Context(), dev(token, token), []store.UUIDHash{uuid(i)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), stuckAfter)
	defer cancel()
	const rounds = 20
	for r := range rounds {
		id := fmt.Sprintf("%032x", r+1)
		start := t0.Add(time.Duration(r) * time.Minute)
		c, err := dbs[0].CreateCall(ctx, store.NewCall{ID: id, CallerHash: uuid(0), Callee: callee,
			Now: start, RingDeadline: start.Add(30 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		answers, ends, err := raceCall(ctx, dbs, c, caller, callee)
		if err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		if len(ends) != 1 || answers > 1 {
			t.Fatalf("round %d: %d ends and %d answers applied, want 1 end and at most 1 answer", r, len(ends), answers)
		}
		end := ends[0]
		if (answers == 1) != (end.Reason == store.ReasonHangup) {
			t.Fatalf("round %d: %d answers, ended by %s", r, answers, end.Reason)
		}
		missed := answers == 0 && end.Reason != store.ReasonDeclined
		if got, err := dbs[1].Call(ctx, id); err != nil || got.State != store.Ended || got.Reason != end.Reason {
			t.Fatalf("round %d: call %+v %v, winner %+v", r, got, err, end)
		}
		notices := queryInt(t, url, `SELECT count(*) FROM messages WHERE callid = $1 AND uri = $2`, id, store.MissedCallURI)
		pushes := queryInt(t, url, `SELECT count(*) FROM outbox WHERE callid = $1 AND kind IN ('missed-call', 'call-ended')`, id)
		if want := int64(btoi(missed)); notices != want || pushes != 2*want || (end.MissedMsgID != 0) != missed {
			t.Fatalf("round %d (%s, %d answers): %d notices, %d pushes, msgid %d; want %d notices",
				r, end.Reason, answers, notices, pushes, end.MissedMsgID, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// raceCall runs two answers, two ends by each party and two timeouts of c
// at once, alternating between the nodes, all at c's ring deadline; it
// returns how many answers applied and the ends that did, or the first
// error that is not ErrCallState.
func raceCall(ctx context.Context, dbs []*postgres.DB, c store.Call, caller, callee string) (int, []store.Call, error) {
	var mu sync.Mutex // guards the following
	answers, errs := 0, []error{}
	var ends []store.Call
	record := func(end *store.Call, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && end == nil:
			answers++
		case err == nil:
			ends = append(ends, *end)
		case !errors.Is(err, store.ErrCallState):
			errs = append(errs, err)
		}
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			_, err := dbs[i%2].AnswerCall(ctx, c.ID, callee, []byte("answer"), c.Deadline, time.Hour)
			record(nil, err)
		})
		for _, by := range []string{caller, callee, ""} {
			wg.Go(func() {
				end, err := dbs[(i+1)%2].EndCall(ctx, store.CallEnd{ID: c.ID, By: by, Now: c.Deadline})
				record(&end, err)
			})
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return 0, nil, errs[0]
	}
	return answers, ends, nil
}
