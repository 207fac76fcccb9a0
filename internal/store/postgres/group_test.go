package postgres

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
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
