package storetest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

var concurrencyCases = []testCase{
	{"SendsAndTakesOfOneNumber", testSendsAndTakes},
	{"TakesOfOverlappingNumbers", testTakesOfOverlappingNumbers},
	{"SameCIDAtOnce", testSameCIDAtOnce},
	{"LoginsMovingNumbers", testConcurrentLogins},
}

// stuckAfter bounds a concurrency test: an engine that deadlocks fails it
// (every call errs once the context ends) rather than hanging the suite.
const stuckAfter = time.Minute

const (
	senders        = 6
	sendsPerSender = 40
	takers         = 4
)

// Many senders and many takers of one number at once: every message sent
// is taken exactly once, and each take answers its messages oldest first.
func testSendsAndTakes(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(f.ctx, stuckAfter)
	defer cancel()
	from := make([]party, senders)
	for i := range from {
		from[i] = f.online(fmt.Sprintf("Sender %d", i))
	}
	to := f.online("Inbox")
	var sent, taken sync.Map // id → sender, id → taker
	var sendersLeft atomic.Int32
	sendersLeft.Store(senders)
	errs := make(chan error, senders+takers)
	var wg sync.WaitGroup
	for i, p := range from {
		wg.Go(func() {
			defer sendersLeft.Add(-1)
			for j := range sendsPerSender {
				res, err := f.st.Send(ctx, newText(p.UUID, to.Number, fmt.Sprintf("%d/%d", i, j), at(1)))
				if err != nil {
					errs <- fmt.Errorf("sender %d: %w", i, err)
					return
				}
				sent.Store(res.MsgIDs[to.Number], i)
			}
		})
	}
	for k := range takers {
		wg.Go(func() { errs <- takeUntilDone(ctx, f.st, []string{to.Number}, 7, k, &sendersLeft, &taken) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var nSent, nTaken int
	sent.Range(func(id, _ any) bool {
		nSent++
		if _, ok := taken.Load(id); !ok {
			t.Errorf("message %d was sent and never taken", id)
		}
		return true
	})
	taken.Range(func(id, _ any) bool {
		nTaken++
		if _, ok := sent.Load(id); !ok {
			t.Errorf("message %d was taken and never sent", id)
		}
		return true
	})
	if nSent != senders*sendsPerSender || nTaken != nSent {
		t.Fatalf("%d sent, %d taken; want %d each", nSent, nTaken, senders*sendsPerSender)
	}
}

// Takers of overlapping sets of numbers at once, while messages to each
// are sent: every message is taken exactly once, each take oldest first
// and only of its own numbers, and no take waits forever on another.
func testTakesOfOverlappingNumbers(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(f.ctx, stuckAfter)
	defer cancel()
	from := f.online("Sender")
	to := []party{f.online("Inbox 0"), f.online("Inbox 1"), f.online("Inbox 2")}
	sets := [][]string{{to[0].Number, to[1].Number}, {to[1].Number, to[2].Number},
		{to[2].Number, to[0].Number}, {to[0].Number, to[1].Number, to[2].Number}}
	const sends = 150
	var sent, taken sync.Map // id → true, id → taker
	var sendersLeft atomic.Int32
	sendersLeft.Store(1)
	errs := make(chan error, 1+len(sets))
	var wg sync.WaitGroup
	wg.Go(func() {
		defer sendersLeft.Add(-1)
		for i := range sends {
			c := to[i%len(to)].Number
			res, err := f.st.Send(ctx, newText(from.UUID, c, fmt.Sprint(i), at(1)))
			if err != nil {
				errs <- err
				return
			}
			sent.Store(res.MsgIDs[c], true)
		}
	})
	for k, set := range sets {
		wg.Go(func() { errs <- takeUntilDone(ctx, f.st, set, 1+k*3, k, &sendersLeft, &taken) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	sent.Range(func(id, _ any) bool {
		n++
		if _, ok := taken.Load(id); !ok {
			t.Errorf("message %d was sent and never taken", id)
		}
		return true
	})
	if n != sends {
		t.Fatalf("%d sent, want %d", n, sends)
	}
}

// newText is the NewMessages of a text, for the goroutines of a
// concurrency test, which cannot use the fixture's helpers (they fail the
// test from the test's goroutine only).
func newText(from store.UUIDHash, to, text string, when time.Time) store.NewMessages {
	return sendingMessages(sending{From: from, To: []string{to}, Data: text, At: when})
}

// takeUntilDone takes the messages of numbers, limit at a time, until the
// senders are done and nothing waits, recording in taken which taker took
// each; a message taken twice, or to a number not asked for, is an error.
func takeUntilDone(ctx context.Context, st store.Store, numbers []string, limit, taker int, sendersLeft *atomic.Int32, taken *sync.Map) error {
	for {
		done := sendersLeft.Load() == 0 // before the take: then it sees every send
		msgs, _, err := st.TakeUndelivered(ctx, store.GetQuery{Callees: numbers, Limit: limit}, nil)
		if err != nil {
			return fmt.Errorf("taker %d: %w", taker, err)
		}
		if !slices.IsSortedFunc(msgs, func(a, b store.Message) int { return int(a.ID - b.ID) }) {
			return fmt.Errorf("taker %d: a take not oldest first: %v", taker, idsOf(msgs))
		}
		for _, m := range msgs {
			if !slices.Contains(numbers, m.Callee) {
				return fmt.Errorf("taker %d of %v took message %d to %s", taker, numbers, m.ID, m.Callee)
			}
			if other, dup := taken.LoadOrStore(m.ID, taker); dup {
				return fmt.Errorf("message %d taken by takers %d and %d", m.ID, other, taker)
			}
		}
		if len(msgs) == 0 {
			if done {
				return nil
			}
			runtime.Gosched()
		}
	}
}

// The same send with the same cid, many times at once: one message is
// stored, one send is the original, and every result carries its id.
func testSameCIDAtOnce(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(f.ctx, stuckAfter)
	defer cancel()
	a, b := f.online("Alice"), f.online("Bob")
	const n = 8
	results := make([]store.SendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := newText(a.UUID, b.Number, "once", at(1))
			m.CID = "the-cid"
			results[i], errs[i] = f.st.Send(ctx, m)
		})
	}
	wg.Wait()
	originals := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("send %d: %v", i, errs[i])
		}
		if r.MsgIDs[b.Number] != results[0].MsgIDs[b.Number] || len(r.MsgIDs) != 1 || r.Time != results[0].Time {
			t.Fatalf("results differ: %+v and %+v", r, results[0])
		}
		if !r.Replayed {
			originals++
		}
	}
	if originals != 1 {
		t.Fatalf("%d sends were not replays, want exactly 1", originals)
	}
	if s := f.stats(); s.Messages != 1 {
		t.Fatalf("stats %+v, want one message", s)
	}
}

const (
	loginDevices = 5
	loginNumbers = 6
	loginRounds  = 15
)

// Logins of several devices moving the same numbers between them at once
// all succeed (no deadlock), and leave every number bound only to a device
// whose last login named it, under that device's name.
func testConcurrentLogins(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(f.ctx, stuckAfter)
	defer cancel()
	nums := make([]party, loginNumbers)
	for i := range nums {
		nums[i] = f.register()
	}
	last := make([][]party, loginDevices) // each device's last login
	errs := make([]error, loginDevices)
	var wg sync.WaitGroup
	for d := range loginDevices {
		dev := device(fmt.Sprintf("token-dev-%04d", d), fmt.Sprintf("Device %d", d))
		wg.Go(func() {
			for r := range loginRounds {
				// Each device names numbers in its own rotation, so that
				// two logins lock the same numbers in different orders.
				set := make([]party, 0, 3)
				uuids := make([]store.UUIDHash, 0, 3)
				for k := range 3 {
					p := nums[(d*5+r*(d+1)+k*(d+2))%loginNumbers]
					if !slices.Contains(set, p) {
						set, uuids = append(set, p), append(uuids, p.UUID)
					}
				}
				if _, err := f.st.Login(ctx, dev, uuids, at(float64(r))); err != nil {
					errs[d] = fmt.Errorf("device %d, login %d: %w", d, r, err)
					return
				}
				last[d] = set
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.checkBindings(nums, last)
}

// checkBindings checks that every number of nums is bound, if at all, to a
// device whose last login (last, by device index) named it.
func (f *fixture) checkBindings(nums []party, last [][]party) {
	f.t.Helper()
	for _, p := range nums {
		n := f.number(p.Number)
		if !n.InUse() {
			continue
		}
		var d int
		if _, err := fmt.Sscanf(n.Token, "token-dev-%04d", &d); err != nil || d >= len(last) {
			f.t.Fatalf("%s bound to %q", p.Number, n.Token)
		}
		if !slices.Contains(last[d], p) || n.Name != fmt.Sprintf("Device %d", d) ||
			n.Device == nil || n.Device.Token != n.Token {
			f.t.Fatalf("%s bound to device %d (%+v), whose last login named %v", p.Number, d, n, last[d])
		}
	}
}
