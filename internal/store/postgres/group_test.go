package postgres

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/testsrv"
)

var groupT0 = time.Unix(1_800_000_000, 0)

// errRefused stands for the error PostgreSQL refuses a send with.
var errRefused = errors.New("refused by PostgreSQL")

func groupUUID(i int) store.UUIDHash {
	return sha256.Sum256(fmt.Appendf(nil, "group test uuid %d", i))
}

// groupNumbers registers numbers 0..n-1 (number i has groupUUID(i)) and
// logs in those inUse says.
func groupNumbers(t *testing.T, db *DB, n int, inUse func(i int) bool) []string {
	t.Helper()
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("%d", 50000000+i)
		if err := db.Register(t.Context(), numbers[i], groupUUID(i), groupT0); err != nil {
			t.Fatal(err)
		}
		if !inUse(i) {
			continue
		}
		d := store.Device{Token: "token-" + numbers[i], AppID: "com.example.chat", Build: "1", Name: numbers[i], Locale: "en"}
		if _, err := db.Login(t.Context(), d, []store.UUIDHash{groupUUID(i)}, groupT0); err != nil {
			t.Fatal(err)
		}
	}
	return numbers
}

// grouped places m's data as Send does and makes it a send of a group.
func grouped(t *testing.T, db *DB, m store.NewMessages) *groupedSend {
	t.Helper()
	callees := distinct(m.Callees)
	p, err := db.placeData(t.Context(), &m, len(callees))
	if err != nil {
		t.Fatal(err)
	}
	return &groupedSend{m: &m, callees: callees, p: &p}
}

// One group of sends, stored by one statement: each send gets the answer
// it would get alone, the failing ones store nothing (no message, no data
// row), and the group is one commit. A group one of whose sends
// PostgreSQL refuses runs its sends again one by one: that send fails
// alone.
func TestGroupAnswersEachSend(t *testing.T) {
	db, err := Open(t.Context(), testsrv.Postgres(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Numbers 0-3 in use, 4 and 5 registered only.
	n := groupNumbers(t, db, 6, func(i int) bool { return i < 4 })
	long := strings.Repeat("x", store.TextMax+1)
	send := func(from int, to []string, data, fname string) store.NewMessages {
		return store.NewMessages{SenderHash: groupUUID(from), Callees: to, Data: strings.NewReader(data),
			Length: int64(len(data)), Fname: fname, Now: groupT0.Add(time.Duration(from) * time.Second)}
	}
	for _, bad := range []bool{false, true} {
		fname := "f.txt"
		if bad {
			fname = "bad\xff" // not UTF-8: PostgreSQL refuses the statement
		}
		cases := []struct {
			m      store.NewMessages
			err    error
			stored []string
		}{
			{send(0, []string{n[1], n[2]}, "to two", ""), nil, []string{n[1], n[2]}},
			{m: send(99, []string{n[1]}, "unknown sender", ""), err: store.ErrUnknownUUID},
			{m: send(4, []string{n[1]}, "sender not in use", ""), err: store.ErrCallerNotInUse},
			{m: send(0, []string{n[4], n[5]}, "no callee in use", ""), err: store.ErrCalleeNotInUse},
			{send(1, []string{n[4], n[2], n[0]}, long, ""), nil, []string{n[2], n[0]}},
			{send(3, []string{n[2]}, "a file", fname), nil, []string{n[2]}},
			{send(0, []string{n[1], n[2]}, "to two", ""), nil, []string{n[1], n[2]}},
			{m: send(5, []string{n[3], n[4]}, long, ""), err: store.ErrCallerNotInUse},
		}
		if bad {
			cases[5].err, cases[5].stored = errRefused, nil
		}
		group := make([]*groupedSend, len(cases))
		for i, c := range cases {
			group[i] = grouped(t, db, c.m)
		}
		commits := db.stats.commits.Load()
		messages := count(t, db, `SELECT count(*) FROM messages`)
		dataRows := count(t, db, `SELECT count(*) FROM data`)
		db.storeGroup(t.Context(), group)
		wantMessages, wantData, wantCommits := 0, 0, 1
		var lastID int64
		for i, c := range cases {
			s := group[i]
			switch {
			case c.stored == nil && s.err == nil:
				t.Fatalf("bad %v, send %d: stored %v, want %v", bad, i, s.res.MsgIDs, c.err)
			case c.stored == nil && c.err != errRefused && !errors.Is(s.err, c.err):
				t.Fatalf("bad %v, send %d: %v, want %v", bad, i, s.err, c.err)
			case c.stored == nil:
				continue
			case s.err != nil:
				t.Fatalf("bad %v, send %d: %v", bad, i, s.err)
			case len(s.res.MsgIDs) != len(c.stored) || len(s.res.Failed) != len(s.callees)-len(c.stored):
				t.Fatalf("bad %v, send %d: %+v, want messages to %v", bad, i, s.res, c.stored)
			case s.res.Time != c.m.Now.Unix():
				t.Fatalf("bad %v, send %d: time %d", bad, i, s.res.Time)
			}
			// Ids grow with the sends, and within one with its callees.
			for _, callee := range c.stored {
				id := s.res.MsgIDs[callee]
				if id <= lastID {
					t.Fatalf("bad %v, send %d: id %d to %s after %d", bad, i, id, callee, lastID)
				}
				lastID = id
				if got := count(t, db, `SELECT count(*) FROM messages m LEFT JOIN data d ON d.name = m.data
					WHERE id = $1 AND callee = $2 AND caller = $3 AND time = $4
						AND coalesce(m.inline, d.inline) = $5`,
					id, callee, n[groupSender(c.m)], c.m.Now.Unix(), s.p.bytes); got != 1 {
					t.Fatalf("bad %v, send %d: message %d to %s not as sent", bad, i, id, callee)
				}
			}
			wantMessages += len(c.stored)
			if !s.p.inRow() {
				wantData++
			}
		}
		if bad {
			wantCommits = 3 // each stored send alone
		}
		if got := count(t, db, `SELECT count(*) FROM messages`) - messages; got != wantMessages {
			t.Fatalf("bad %v: %d messages stored, want %d", bad, got, wantMessages)
		}
		if got := count(t, db, `SELECT count(*) FROM data`) - dataRows; got != wantData {
			t.Fatalf("bad %v: %d data rows stored, want %d", bad, got, wantData)
		}
		if got := db.stats.commits.Load() - commits; got != int64(wantCommits) {
			t.Fatalf("bad %v: %d commits, want %d", bad, got, wantCommits)
		}
	}
}

// groupSender is the number index of m's sender, as send made it.
func groupSender(m store.NewMessages) int {
	for i := range 6 {
		if m.SenderHash == groupUUID(i) {
			return i
		}
	}
	return -1
}

func count(t *testing.T, db *DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// outboxRow is a row of the outbox as the test reads it.
type outboxRow struct {
	kind, token, appid, caller, callerName, body, callid, reason string
	created, expires, due, login, claimedUntil                   int64
	attempts                                                     int
}

// outboxSince reads the outbox's rows of ids above after, by msgid.
func outboxSince(t *testing.T, db *DB, after int64) map[int64]outboxRow {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT msgid, kind, token, appid, caller, caller_name, body, callid,
		reason, created, expires, due, login, claimed_until, attempts FROM outbox WHERE id > $1`, after)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]outboxRow{}
	var msgid int64
	var r outboxRow
	err = forEach(rows, []any{&msgid, &r.kind, &r.token, &r.appid, &r.caller, &r.callerName, &r.body, &r.callid,
		&r.reason, &r.created, &r.expires, &r.due, &r.login, &r.claimedUntil, &r.attempts}, func() {
		if _, dup := got[msgid]; dup {
			t.Errorf("two pushes of message %d", msgid)
		}
		got[msgid] = r
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// With push configured, a group queues in its transaction the pushes each
// of its sends queues alone: one per message to a callee whose appid the
// filter wants, due at once, with the device's token and login count, the
// caller, the name the message carries and its preview; none for a
// refused send, none for a callee of an unwanted appid. Its commit kicks
// the dispatcher. A group PostgreSQL refuses queues nothing of its own:
// its sends, stored one by one, queue theirs.
func TestGroupQueuesPushes(t *testing.T) {
	db, err := Open(t.Context(), testsrv.Postgres(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Numbers 0-3 in use, 4 and 5 registered only; 3's device is of an
	// app without a provider.
	n := groupNumbers(t, db, 6, func(i int) bool { return i < 4 })
	other := store.Device{Token: "token-other-" + n[3], AppID: "com.example.other", Build: "1", Name: n[3], Locale: "en"}
	if _, err := db.Login(t.Context(), other, []store.UUIDHash{groupUUID(3)}, groupT0); err != nil {
		t.Fatal(err)
	}
	db.SetPushFilter(func(appid string) bool { return appid == "com.example.chat" })
	var kicks atomic.Int64
	db.SetPushKick(func() { kicks.Add(1) })
	long := strings.Repeat("é", store.TextMax/2) + "x"
	send := func(from int, to []string, data, fname, name string) store.NewMessages {
		return store.NewMessages{SenderHash: groupUUID(from), Callees: to, Data: strings.NewReader(data),
			Length: int64(len(data)), Fname: fname, CallerName: name, Now: groupT0.Add(time.Duration(from) * time.Second)}
	}
	for _, bad := range []bool{false, true} {
		fname := "f.txt"
		if bad {
			fname = "bad\xff" // not UTF-8: PostgreSQL refuses the statement
		}
		cases := []struct {
			m          store.NewMessages
			err        bool
			body, name string
		}{
			{m: send(0, []string{n[1], n[3], n[2]}, "to three", "", "Ally"), body: "to three", name: "Ally"},
			{m: send(99, []string{n[1]}, "unknown sender", "", ""), err: true},
			{m: send(4, []string{n[1]}, "sender not in use", "", ""), err: true},
			{m: send(0, []string{n[4], n[5]}, "no callee in use", "", ""), err: true},
			{m: send(1, []string{n[4], n[2], n[0]}, long, "", ""), body: store.Preview(long), name: n[1]},
			{m: send(3, []string{n[2], n[3]}, "a file", fname, ""), body: fname, name: n[3], err: bad},
			{m: send(2, []string{n[3]}, "to an app without a provider", "", ""), name: n[2]},
		}
		group := make([]*groupedSend, len(cases))
		for i, c := range cases {
			group[i] = grouped(t, db, c.m)
		}
		var lastPush int64
		if err := db.pool.QueryRow(t.Context(), `SELECT coalesce(max(id), 0) FROM outbox`).Scan(&lastPush); err != nil {
			t.Fatal(err)
		}
		kicked := kicks.Load()
		db.storeGroup(t.Context(), group)
		want := map[int64]outboxRow{}
		for i, c := range cases {
			s := group[i]
			if (s.err != nil) != c.err {
				t.Fatalf("bad %v, send %d: %v", bad, i, s.err)
			}
			for callee, id := range s.res.MsgIDs {
				if callee == n[3] {
					continue // an app without a provider
				}
				var login int64
				if err := db.pool.QueryRow(t.Context(), `SELECT login FROM devices WHERE token = $1`,
					"token-"+callee).Scan(&login); err != nil {
					t.Fatal(err)
				}
				at := c.m.Now.UnixMilli()
				want[id] = outboxRow{kind: string(store.PushMessage), token: "token-" + callee, appid: "com.example.chat",
					caller: n[groupSender(c.m)], callerName: c.name, body: c.body, created: at, due: at, login: login}
			}
		}
		if got := outboxSince(t, db, lastPush); !maps.Equal(got, want) {
			t.Fatalf("bad %v: pushes queued\n%+v\nwant\n%+v", bad, got, want)
		}
		wantKicks := int64(1)
		if bad {
			wantKicks = 2 // the sends that queued pushes, alone
		}
		if got := kicks.Load() - kicked; got != wantKicks {
			t.Fatalf("bad %v: %d kicks, want %d", bad, got, wantKicks)
		}
	}
}
