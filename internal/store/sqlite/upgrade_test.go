package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"github.com/ringd/ringd/internal/blob"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// upgradeTime is when the messages of the database of before versions
// were sent.
const upgradeTime = int64(1764489600)

// makeDatabaseOfBeforeVersions makes at path a database as ringd made it
// before schema versions (testdata/schema-before-versions.sql, version 0,
// pages of 1 KiB, WAL), holding two numbers with their devices and, to
// 2002, a message delivered by its cursor, a text in its row, a file
// holding its own arena extent, a text in a shared blobs row, a file in a
// shared blobs row whose data is in the arena, and a missed-call notice
// delivered row by row; to 2001, a message read. A send with a cid is
// remembered.
func makeDatabaseOfBeforeVersions(t *testing.T, path string) {
	t.Helper()
	schema, err := os.ReadFile("testdata/schema-before-versions.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.SetMaxOpenConns(1)
	alice, bob := sha256.Sum256([]byte("alice-uuid")), sha256.Sum256([]byte("bob-uuid"))
	for _, q := range []struct {
		q    string
		args []any
	}{
		{q: `PRAGMA page_size = 1024`},
		{q: `PRAGMA journal_mode = WAL`},
		{q: string(schema)},
		{q: `INSERT INTO numbers(number, uuid_hash, name, token, created) VALUES('2001', ?, 'Alice', 'tok-a', 1), ('2002', ?, 'Bob', 'tok-b', 2)`,
			args: []any{alice[:], bob[:]}},
		{q: `INSERT INTO devices(token, appid, build, name, locale, updated) VALUES
			('tok-a', 'app', '1.0', 'Phone A', 'en', 1), ('tok-b', 'app', '1.0', 'Phone B', 'de', 2)`},
		{q: `INSERT INTO blobs(hash, length, inline, arena_off) VALUES('u-shared', 10, CAST('hello both' AS BLOB), NULL), ('u-file', 5000, NULL, 8192)`},
		{q: `INSERT INTO messages(id, caller, caller_name, callee, time, uri, length, fname, callid, state, data, arena_off) VALUES
			(1, '2001', 'Alice', '2002', ?1, 'u1', 5, NULL, NULL, 0, CAST('first' AS BLOB), NULL),
			(2, '2001', 'Alice', '2002', ?1, 'u2', 6, NULL, NULL, 0, CAST('hi bob' AS BLOB), NULL),
			(3, '2001', 'Alice', '2002', ?1, 'u3', 3000, 'photo.jpg', NULL, 0, NULL, 4096),
			(4, '2001', 'Alice', '2002', ?1, 'u-shared', 10, NULL, NULL, 0, NULL, NULL),
			(5, '2001', 'Alice', '2002', ?1, 'u-file', 5000, 'big.bin', NULL, 0, NULL, NULL),
			(6, '2002', 'Bob', '2001', ?1, 'u6', 7, NULL, NULL, 2, CAST('read me' AS BLOB), NULL),
			(7, '2001', 'Alice', '2002', ?1, 'missed.call', 0, NULL, 'call-1', 1, NULL, NULL)`,
			args: []any{upgradeTime}},
		{q: `INSERT INTO cursors(number, upto) VALUES('2002', 1)`},
		{q: `INSERT INTO sends(caller, cid, time, result) VALUES('2001', 'cid-1', ?, ?)`,
			args: []any{upgradeTime, fmt.Sprintf(`{"time":%d,"msgids":{"2002":2}}`, upgradeTime)}},
	} {
		if _, err := old.Exec(q.q, q.args...); err != nil {
			t.Fatalf("%.60s: %v", q.q, err)
		}
	}
}

// messagesOfBeforeVersions are the messages makeDatabaseOfBeforeVersions
// stores, by id, as the store reads them.
func messagesOfBeforeVersions() map[int64]store.Message {
	text := func(s string) *string { return &s }
	m := func(id int64, caller, name, callee, uri string, length int64, st store.State) store.Message {
		return store.Message{ID: id, Caller: caller, CallerName: name, Callee: callee, Time: upgradeTime,
			URI: uri, Length: length, State: st}
	}
	msgs := map[int64]store.Message{
		1: m(1, "2001", "Alice", "2002", "u1", 5, store.Delivered),
		2: m(2, "2001", "Alice", "2002", "u2", 6, store.Sent),
		3: m(3, "2001", "Alice", "2002", "u3", 3000, store.Sent),
		4: m(4, "2001", "Alice", "2002", "u-shared", 10, store.Sent),
		5: m(5, "2001", "Alice", "2002", "u-file", 5000, store.Sent),
		6: m(6, "2002", "Bob", "2001", "u6", 7, store.Read),
		7: m(7, "2001", "Alice", "2002", store.MissedCallURI, 0, store.Delivered),
	}
	for id, t := range map[int64]string{1: "first", 2: "hi bob", 4: "hello both", 6: "read me"} {
		x := msgs[id]
		x.Text = text(t)
		msgs[id] = x
	}
	x := msgs[3]
	x.Fname = "photo.jpg"
	msgs[3] = x
	x = msgs[5]
	x.Fname = "big.bin"
	msgs[5] = x
	x = msgs[7]
	x.CallID = "call-1"
	msgs[7] = x
	return msgs
}

// schemaOf returns what sqlite_master holds.
func schemaOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	var s string
	if err := db.QueryRow(`SELECT group_concat(type || ' ' || name || ': ' || coalesce(sql, ''), char(10))
		FROM (SELECT * FROM sqlite_master ORDER BY type, name)`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// makeArenaChunk makes the arena's first chunk in dir, where the rows of
// the database of before versions point.
func makeArenaChunk(t *testing.T, dir string) {
	t.Helper()
	a, err := blob.OpenArena(filepath.Join(dir, "arena"), testArena, func(func(off, length int64) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(context.Background(), strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A database made before schema versions, with messages of every kind in
// it, is brought to the current version, and the store reads back every
// message as it was, by id, in the history and in a get, and answers a
// retried send from what it remembered; its schema is then a new
// database's. A second start runs no step again.
func TestUpgradeFromBeforeVersions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ringd.db")
	makeDatabaseOfBeforeVersions(t, path)
	makeArenaChunk(t, dir)
	want := messagesOfBeforeVersions()

	db, err := Open(path, Options{Arena: testArena})
	if err != nil {
		t.Fatal(err)
	}
	if v := userVersion(t, db.read); v != len(steps) {
		t.Fatalf("upgraded to version %d, want %d", v, len(steps))
	}
	checkMessagesByID(t, db, want, "upgraded")
	readBackOfBeforeVersions(t, db, want)
	// A new database has the same schema: no step was left out.
	fresh, err := Open(filepath.Join(dir, "new.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schemaOf(t, db.read), schemaOf(t, fresh.read); got != want {
		t.Errorf("upgraded schema:\n%s\nnew database's:\n%s", got, want)
	}
	fresh.Close()
	db.Close()

	reopenRunsNoStep(t, path, func(db *DB) { checkMessagesByID(t, db, want, "after a restart") })
}

// checkMessagesByID checks that Message reads each of want as it is.
func checkMessagesByID(t *testing.T, db *DB, want map[int64]store.Message, when string) {
	t.Helper()
	for id, w := range want {
		if m, err := db.Message(context.Background(), id); err != nil || !reflect.DeepEqual(m, w) {
			t.Errorf("%s, message %d: %v\n got %s\nwant %s", when, id, err, show(m), show(w))
		}
	}
}

// readBackOfBeforeVersions reads the database of before versions through
// the store's other methods: the history and a blob; a retried send is
// answered as the first was; and a get takes what waits for 2002, which
// want then has as delivered.
func readBackOfBeforeVersions(t *testing.T, db *DB, want map[int64]store.Message) {
	t.Helper()
	ctx := context.Background()
	hist, more, err := db.History(ctx, store.GetQuery{Callees: []string{"2002"}, Limit: 10})
	if err != nil || more || !sameMessages(hist, want, 1, 2, 3, 4, 5, 7) {
		t.Errorf("history of 2002 (more %v, %v): %s", more, err, show(hist...))
	}
	// Where the data of a file is stays where it was: the rows are the
	// arena's index.
	var blobLength, blobOff, ownOff int64
	err = db.read.QueryRow(`SELECT length, arena_off, (SELECT arena_off FROM messages WHERE id = 3) FROM blobs WHERE hash = 'u-file'`).
		Scan(&blobLength, &blobOff, &ownOff)
	if err != nil || blobLength != 5000 || blobOff != 8192 || ownOff != 4096 {
		t.Errorf("blob u-file: %d bytes at %d, message 3's at %d, %v", blobLength, blobOff, ownOff, err)
	}
	alice := sha256.Sum256([]byte("alice-uuid"))
	res, err := db.Send(ctx, store.NewMessages{SenderHash: alice, Callees: []string{"2002"}, CID: "cid-1",
		Data: strings.NewReader("again"), Length: 5, Now: time.Now()})
	if err != nil || !res.Replayed || res.Time != upgradeTime || !reflect.DeepEqual(res.MsgIDs, map[string]int64{"2002": 2}) {
		t.Errorf("retried send: %+v, %v", res, err)
	}
	got, more, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: []string{"2002"}, Limit: 10}, nil)
	for id := int64(2); id <= 5; id++ {
		x := want[id]
		x.State = store.Delivered
		want[id] = x
	}
	if err != nil || more || !sameMessages(got, want, 2, 3, 4, 5) {
		t.Errorf("get of 2002 (more %v, %v): %s", more, err, show(got...))
	}
}

// reopenRunsNoStep opens the database at path, which is at the current
// version, showing that no step runs again: the baseline would drop an
// index named messages_undelivered, which is left for it to drop. check
// runs on the open store.
func reopenRunsNoStep(t *testing.T, path string, check func(*DB)) {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(`CREATE INDEX messages_undelivered ON messages(callee, id) WHERE state = 0`); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v := userVersion(t, db.read); v != len(steps) {
		t.Fatalf("reopened at version %d, want %d", v, len(steps))
	}
	var n int
	if err := db.read.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'messages_undelivered'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("a step ran again at a restart (messages_undelivered %d, %v)", n, err)
	}
	check(db)
}

// A database whose version is newer than this ringd's steps stops Open,
// saying so, and is left as it was.
func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringd.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	newer := len(steps) + 1
	if _, err := c.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, newer)); err != nil {
		t.Fatal(err)
	}
	before := schemaOf(t, c)
	db, err = Open(path, Options{})
	if err == nil {
		db.Close()
		t.Fatal("opened a database of a newer schema")
	}
	msg := fmt.Sprintf("database schema version %d is newer than this ringd (%d); upgrade ringd", newer, len(steps))
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q, want it to say %q", err, msg)
	}
	if v := userVersion(t, c); v != newer || schemaOf(t, c) != before {
		t.Fatalf("the refused database changed: version %d", v)
	}
}

// Steps run in order, each once, each with its version's bump; a step
// that fails leaves nothing of itself and the version where it was; a
// version beyond the steps is refused.
func TestMigrateSteps(t *testing.T) {
	w, err := openWConn("file:" + filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	ctx := context.Background()
	var ran []int
	mk := func(n int, fail bool) step {
		return func(ctx context.Context, w *wconn) error {
			ran = append(ran, n)
			if err := w.run(ctx, fmt.Sprintf(`CREATE TABLE t%d(x)`, n)); err != nil {
				return err
			}
			if fail {
				return errors.New("boom")
			}
			return nil
		}
	}
	version := func() (int, string) { return versionAndTables(t, w) }
	two := []step{mk(1, false), mk(2, false)}
	for range 2 {
		if err := migrate(ctx, w, two); err != nil {
			t.Fatal(err)
		}
		if v, tables := version(); v != 2 || tables != "t1,t2" || fmt.Sprint(ran) != "[1 2]" {
			t.Fatalf("version %d, tables %q, steps run %v; want 2, t1,t2, [1 2]", v, tables, ran)
		}
	}
	err = migrate(ctx, w, append(two, mk(3, true)))
	if err == nil || !strings.Contains(err.Error(), "schema step 3: boom") {
		t.Fatalf("failing step: %v", err)
	}
	if v, tables := version(); v != 2 || tables != "t1,t2" || w.inTx() {
		t.Fatalf("after a failed step: version %d, tables %q, in a transaction %v", v, tables, w.inTx())
	}
	var newer *newerSchemaError
	if err := migrate(ctx, w, two[:1]); !errors.As(err, &newer) || newer.version != 2 || newer.known != 1 || w.inTx() {
		t.Fatalf("a version beyond the steps: %v (in a transaction %v)", err, w.inTx())
	}
}

// versionAndTables returns the version of the database on w and its
// tables' names.
func versionAndTables(t *testing.T, w *wconn) (v int, tables string) {
	t.Helper()
	ctx := context.Background()
	if err := w.queryRow(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err := w.queryRow(ctx, `SELECT coalesce(group_concat(name), '') FROM (SELECT name FROM sqlite_master ORDER BY name)`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	return v, tables
}

// sameMessages reports whether msgs are want's of ids, in order.
func sameMessages(msgs []store.Message, want map[int64]store.Message, ids ...int64) bool {
	if len(msgs) != len(ids) {
		return false
	}
	for i, id := range ids {
		if !reflect.DeepEqual(msgs[i], want[id]) {
			return false
		}
	}
	return true
}

func show(msgs ...store.Message) string {
	var sb strings.Builder
	for _, m := range msgs {
		text := "<nil>"
		if m.Text != nil {
			text = *m.Text
		}
		fmt.Fprintf(&sb, "{%d %s %q→%s t%d %s %d %q %q %v text %q} ", m.ID, m.Caller, m.CallerName, m.Callee,
			m.Time, m.URI, m.Length, m.Fname, m.CallID, m.State, text)
	}
	return sb.String()
}
