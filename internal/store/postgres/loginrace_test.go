package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/testsrv"
)

// A send whose callee logs in on another device while the send waits for
// the callee's row: once the login commits, the send stores the message
// and queues its push to the new device, with that device's login count,
// whether it is stored alone (a cid, or no other send waiting) or in a
// group of several.
func TestSendWaitingForLoginPushesNewDevice(t *testing.T) {
	db, err := Open(t.Context(), testsrv.Postgres(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetPushFilter(func(string) bool { return true })
	numbers := groupNumbers(t, db, 2, func(int) bool { return true })
	text := func(cid string, i int) store.NewMessages {
		return store.NewMessages{SenderHash: groupUUID(0), Callees: []string{numbers[1]}, Data: strings.NewReader("hello"),
			Length: 5, CID: cid, Now: groupT0.Add(time.Duration(i) * time.Second)}
	}
	ways := map[string]func(i int) []int64{
		"alone": func(i int) []int64 { return sent(t, db, text("", i)) },
		"cid":   func(i int) []int64 { return sent(t, db, text("cid-1", i)) },
		"group of two": func(i int) []int64 {
			group := []*groupedSend{grouped(t, db, text("", i)), grouped(t, db, text("", i))}
			db.storeGroup(t.Context(), group)
			var ids []int64
			for _, s := range group {
				if s.err != nil {
					t.Errorf("a send of the group: %v", s.err)
				}
				ids = append(ids, s.res.MsgIDs[numbers[1]])
			}
			return ids
		},
	}
	i := 0
	for way, send := range ways {
		i++
		token := "new-device-" + way
		commit := holdLogin(t, db, numbers[1], token)
		done := make(chan []int64, 1)
		go func() { done <- send(i) }()
		waitForLockWait(t, db)
		commit()
		for _, id := range <-done {
			var pushes int
			if err := db.pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox o JOIN devices d ON d.token = o.token
				WHERE o.msgid = $1 AND o.token = $2 AND o.login = d.login`, id, token).Scan(&pushes); err != nil {
				t.Fatal(err)
			}
			if id == 0 || pushes != 1 {
				t.Errorf("%s: a send waiting for a login queued %d pushes of message %d to the new device, want 1",
					way, pushes, id)
			}
		}
	}
}

// sent is the message ids of m, sent through db.
func sent(t *testing.T, db *DB, m store.NewMessages) []int64 {
	res, err := db.Send(t.Context(), m)
	if err != nil {
		t.Errorf("send: %v", err)
	}
	return []int64{res.MsgIDs[m.Callees[0]]}
}

// holdLogin writes what a login of number on a new device token writes
// (tx.login), in a transaction it leaves open until commit is called.
func holdLogin(t *testing.T, db *DB, number, token string) (commit func()) {
	t.Helper()
	tx, err := db.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `INSERT INTO devices(token, appid, build, name, locale, updated, login)
		VALUES($1, 'com.example.chat', '1', 'new', 'en', 0, nextval('login_count'))`, token); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `UPDATE numbers SET token = $1 WHERE number = $2`, token, number); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(t.Context()); err != nil {
			t.Error(err)
		}
	}
}

// waitForLockWait returns once a session of db waits for a row lock.
func waitForLockWait(t *testing.T, db *DB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var waiting int
		if err := db.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
	}
	t.Fatal("no send waited for the login's lock")
}
