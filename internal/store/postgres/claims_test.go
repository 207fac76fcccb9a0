package postgres_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

func claim(t *testing.T, db *postgres.DB, at time.Time, limit int) []store.Push {
	t.Helper()
	ps, err := db.ClaimDuePushes(t.Context(), at, limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// Two nodes claiming at once take disjoint pushes; a claim holds until its
// lease ends (its node died), when the other node takes the push; a retry
// gives the claim up.
func TestPushClaimsAcrossNodes(t *testing.T) {
	dbs, _ := nodes(t, 2)
	p := &callParties{db: dbs[0], calleeDev: dev("token-callee", "Bob")}
	numbers := register(t, dbs[0], 2)
	p.caller, p.callee = numbers[0], numbers[1]
	for i, d := range []store.Device{dev("token-caller", "Alice"), p.calleeDev} {
		if _, err := dbs[0].Login(t.Context(), d, []store.UUIDHash{uuid(i)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, db := range dbs {
		db.SetPushFilter(func(string) bool { return true })
		db.SetPushLease(time.Minute)
	}
	const calls = 40
	for range calls {
		p.ring(t, 0)
	}
	now := t0.Add(time.Second)
	var mu sync.Mutex // guards taken
	taken := map[int64]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for {
				ps := claim(t, dbs[i%2], now, 3)
				if len(ps) == 0 {
					return
				}
				mu.Lock()
				for _, p := range ps {
					taken[p.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(taken) != calls {
		t.Fatalf("%d pushes claimed, want %d", len(taken), calls)
	}
	for id, n := range taken {
		if n != 1 {
			t.Fatalf("push %d claimed %d times", id, n)
		}
	}
	if ps := claim(t, dbs[1], now.Add(59*time.Second), 100); len(ps) != 0 {
		t.Fatalf("%d pushes claimed again inside the lease", len(ps))
	}
	again := claim(t, dbs[1], now.Add(61*time.Second), 100)
	if len(again) != calls {
		t.Fatalf("after the lease: %d pushes taken over, want %d", len(again), calls)
	}
	if err := dbs[1].RetryPush(t.Context(), again[0].ID, 1, now.Add(62*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, dbs[0], now.Add(62*time.Second), 100); !slices.Equal(pushIDs(got), pushIDs(again[:1])) {
		t.Fatalf("after a retry: %v claimed, want %v", pushIDs(got), pushIDs(again[:1]))
	}
	// A dispatcher that stops gives its claims up: taken at once.
	if err := dbs[1].ReleasePushes(t.Context(), pushIDs(again[1:3])); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, dbs[0], now.Add(63*time.Second), 100); !slices.Equal(pushIDs(got), pushIDs(again[1:3])) {
		t.Fatalf("after a release: %v claimed, want %v", pushIDs(got), pushIDs(again[1:3]))
	}
}

// Every node's timer ends the same due calls at once: each call is ended
// by exactly one, with one missed-call notice.
func TestTimersOnTwoNodesEndEachCallOnce(t *testing.T) {
	dbs, url := nodes(t, 2)
	numbers := register(t, dbs[0], 2)
	for i, token := range []string{"token-caller", "token-callee"} {
		if _, err := dbs[0].Login(t.Context(), dev(token, token), []store.UUIDHash{uuid(i)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	const calls = 30
	for i := range calls {
		_, err := dbs[i%2].CreateCall(t.Context(), store.NewCall{ID: fmt.Sprintf("%032x", i+1), CallerHash: uuid(0),
			Callee: numbers[1], Now: t0, RingDeadline: t0.Add(30 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(31 * time.Second)
	var mu sync.Mutex // guards ended
	ended := map[string]int{}
	var wg sync.WaitGroup
	for i := range 4 { // two timers a node
		wg.Go(func() {
			db := dbs[i%2]
			ids, err := db.DueCalls(t.Context(), now)
			if err != nil {
				t.Error(err)
				return
			}
			for _, id := range ids {
				c, err := db.EndCall(t.Context(), store.CallEnd{ID: id, Now: now})
				if errors.Is(err, store.ErrCallState) {
					continue
				}
				if err != nil || c.Reason != store.ReasonTimeout || c.MissedMsgID == 0 {
					t.Errorf("ending %s: %+v %v", id, c, err)
					return
				}
				mu.Lock()
				ended[id]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(ended) != calls {
		t.Fatalf("%d calls ended, want %d", len(ended), calls)
	}
	for id, n := range ended {
		if n != 1 {
			t.Fatalf("call %s ended %d times", id, n)
		}
	}
	if n := queryInt(t, url, `SELECT count(*) FROM messages WHERE uri = $1`, store.MissedCallURI); n != calls {
		t.Fatalf("%d missed-call notices, want %d", n, calls)
	}
}
