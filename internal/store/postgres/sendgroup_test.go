package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

// metric is the value of db's metric name.
func metric(t *testing.T, db *postgres.DB, name string) int64 {
	t.Helper()
	for _, m := range db.Metrics() {
		if m.Name == name {
			return int64(m.Value())
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// groupedSend is one send of TestConcurrentSendsInGroups and its answer.
type groupedSend struct {
	from    int
	callees []string
	data    string
	cid     string
	res     store.SendResult
	err     error
}

// Many sends at once on two nodes, some of an unknown sender, of a sender
// or to callees not in use, some repeating another's cid: each gets the
// answer it would get alone, the messages stored are exactly those the
// answers name, with their data, and the sends without a cid were stored
// in groups (fewer commits than sends), with no deadlock between groups.
// With push configured, each message stored has its push, but those to a
// device of an app without a provider, and no other push is queued.
func TestConcurrentSendsInGroups(t *testing.T) {
	for _, push := range []bool{false, true} {
		t.Run(fmt.Sprintf("push=%v", push), func(t *testing.T) { testConcurrentSendsInGroups(t, push) })
	}
}

func testConcurrentSendsInGroups(t *testing.T, push bool) {
	dbs, url := nodes(t, 2)
	// Numbers 0-9 in use, 10 and 11 registered only; sender 99 unknown.
	// Number 9's device is of an app without a provider.
	numbers := online(t, dbs[0], 10)
	other := store.Device{Token: "token-other", AppID: "com.example.other", Build: "1", Name: "other", Locale: "en"}
	if _, err := dbs[0].Login(t.Context(), other, []store.UUIDHash{uuid(9)}, t0); err != nil {
		t.Fatal(err)
	}
	if push {
		for _, db := range dbs {
			db.SetPushFilter(func(appid string) bool { return appid == "com.example.chat" })
		}
	}
	for i := 10; i < 12; i++ {
		numbers = append(numbers, fmt.Sprintf("%d", 40000000+i))
		if err := dbs[0].Register(t.Context(), numbers[i], uuid(i), t0); err != nil {
			t.Fatal(err)
		}
	}
	const goroutines, rounds = 48, 25
	sends := make([][]groupedSend, goroutines)
	for g := range sends {
		rng := rand.New(rand.NewPCG(uint64(g), 2))
		for r := range rounds {
			s := groupedSend{from: rng.IntN(10), data: fmt.Sprintf("send %d of %d", r, g)}
			switch rng.IntN(12) {
			case 0:
				s.from = 99
			case 1:
				s.from = 10
			case 2, 3:
				s.cid = fmt.Sprintf("cid-%d", rng.IntN(4)) // repeated by other sends of s.from
			}
			for _, k := range rng.Perm(12)[:1+rng.IntN(4)] {
				s.callees = append(s.callees, numbers[k])
			}
			sends[g] = append(sends[g], s)
		}
	}
	commits := metric(t, dbs[0], "ringd_postgres_commits_total") + metric(t, dbs[1], "ringd_postgres_commits_total")
	ctx, cancel := context.WithTimeout(t.Context(), stuckAfter)
	defer cancel()
	var wg sync.WaitGroup
	for g := range sends {
		wg.Go(func() {
			for r := range sends[g] {
				s := &sends[g][r]
				m := text(s.from, s.callees, s.data, s.cid)
				m.Now = t0.Add(1)
				s.res, s.err = dbs[g%2].Send(ctx, m)
			}
		})
	}
	wg.Wait()
	var all []*groupedSend
	for g := range sends {
		for r := range sends[g] {
			all = append(all, &sends[g][r])
		}
	}
	stored := checkAnswers(t, numbers, all)
	checkMessages(t, url, numbers, stored)
	checkPushes(t, url, numbers, stored, push)
	commits = metric(t, dbs[0], "ringd_postgres_commits_total") + metric(t, dbs[1], "ringd_postgres_commits_total") - commits
	if commits >= int64(len(stored)) {
		t.Fatalf("%d sends stored in %d commits: no groups formed", len(stored), commits)
	}
	t.Logf("%d sends stored in %d commits", len(stored), commits)
	if n := deadlocks(t, dbs, url); n != 0 {
		t.Fatalf("sends in groups deadlocked %d times", n)
	}
}

// checkAnswers checks each send's answer against what it would be alone,
// and returns the sends that stored messages.
func checkAnswers(t *testing.T, numbers []string, all []*groupedSend) []*groupedSend {
	t.Helper()
	firsts := map[string]*groupedSend{} // by sender and cid
	var stored []*groupedSend
	for _, s := range all {
		var live, dead []string
		for _, c := range s.callees {
			if slices.Index(numbers, c) < 10 {
				live = append(live, c)
			} else {
				dead = append(dead, c)
			}
		}
		var want error
		switch {
		case s.from == 99:
			want = store.ErrUnknownUUID
		case s.from == 10:
			want = store.ErrCallerNotInUse
		case len(live) == 0 && !s.res.Replayed:
			want = store.ErrCalleeNotInUse
		}
		if !errors.Is(s.err, want) || (want == nil && s.err != nil) {
			t.Fatalf("send %q from %d to %v: %v, want %v", s.data, s.from, s.callees, s.err, want)
		}
		if s.err != nil {
			continue
		}
		if s.cid != "" {
			key := fmt.Sprint(s.from, s.cid)
			if first, ok := firsts[key]; !ok {
				firsts[key] = s
			} else if !maps.Equal(first.res.MsgIDs, s.res.MsgIDs) {
				t.Fatalf("cid %s of %d answered %v and %v", s.cid, s.from, first.res.MsgIDs, s.res.MsgIDs)
			}
			if s.res.Replayed {
				continue
			}
		}
		got := slices.Sorted(maps.Keys(s.res.MsgIDs))
		if slices.Sort(live); !slices.Equal(got, live) || !slices.Equal(s.res.Failed, dead) {
			t.Fatalf("send %q to %v: stored %v failed %v", s.data, s.callees, s.res.MsgIDs, s.res.Failed)
		}
		stored = append(stored, s)
	}
	for key := range firsts {
		n := 0
		for _, s := range stored {
			if s.cid != "" && fmt.Sprint(s.from, s.cid) == key {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("cid %s stored by %d sends, want 1", key, n)
		}
	}
	return stored
}

// checkMessages checks that the database holds the messages the stored
// sends answered, as sent, and no other.
func checkMessages(t *testing.T, url string, numbers []string, stored []*groupedSend) {
	t.Helper()
	want := map[int64]string{}
	for _, s := range stored {
		for callee, id := range s.res.MsgIDs {
			want[id] = strings.Join([]string{numbers[s.from], callee, s.data}, "|")
		}
	}
	got := rowsByID(t, url, `SELECT m.id, m.caller || '|' || m.callee || '|' ||
			convert_from(coalesce(m.inline, d.inline), 'UTF8')
		FROM messages m LEFT JOIN data d ON d.name = m.data`)
	if !maps.Equal(got, want) {
		t.Fatalf("%d messages stored, answers name %d, or they differ", len(got), len(want))
	}
}

// rowsByID runs query, whose rows are an id and a string, on url.
func rowsByID(t *testing.T, url, query string) map[int64]string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	var id int64
	var row string
	if _, err := pgx.ForEachRow(rows, []any{&id, &row}, func() error { got[id] = row; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// checkPushes checks that the outbox holds a push of each message the
// stored sends answered, to its callee's device, if push is configured,
// but to number 9's, and no other.
func checkPushes(t *testing.T, url string, numbers []string, stored []*groupedSend, push bool) {
	t.Helper()
	want := map[int64]string{}
	for _, s := range stored {
		for callee, id := range s.res.MsgIDs {
			if push && callee != numbers[9] {
				want[id] = numbers[s.from] + "|token-" + callee
			}
		}
	}
	got := rowsByID(t, url, `SELECT msgid, caller || '|' || token FROM outbox`)
	if !maps.Equal(got, want) {
		t.Fatalf("%d pushes queued, want %d, or they differ", len(got), len(want))
	}
}
