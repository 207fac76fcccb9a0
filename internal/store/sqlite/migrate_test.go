package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateOldSchema: a database made before messages had their data
// column gains it (and arena_off), and the full uri index becomes the
// partial one, keeping its rows; so does one whose uri index was the
// partial messages_uri_shared of before messages held arena extents.
func TestMigrateOldSchema(t *testing.T) {
	for name, index := range map[string]string{
		"full": `CREATE INDEX messages_uri ON messages(uri)`,
		"shared": `ALTER TABLE messages ADD COLUMN data BLOB;
			CREATE INDEX messages_uri_shared ON messages(uri) WHERE data IS NULL`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			old, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`CREATE TABLE messages(id INTEGER PRIMARY KEY, caller TEXT NOT NULL, caller_name TEXT NOT NULL,
					callee TEXT NOT NULL, time INTEGER NOT NULL, uri TEXT NOT NULL, length INTEGER NOT NULL,
					fname TEXT, callid TEXT, state INTEGER NOT NULL DEFAULT 0)`,
				index,
				`INSERT INTO messages(caller, caller_name, callee, time, uri, length) VALUES('1', 'A', '2', 1, 'abc', 3)`,
			} {
				if _, err := old.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			old.Close()
			for range 2 { // and a second start changes nothing more
				db, err := Open(path, Options{})
				if err != nil {
					t.Fatal(err)
				}
				var n int
				if err := db.read.QueryRow(`SELECT count(*) FROM messages WHERE uri = 'abc' AND data IS NULL AND arena_off IS NULL`).Scan(&n); err != nil || n != 1 {
					t.Fatalf("old row: %d, %v", n, err)
				}
				var idx string
				if err := db.read.QueryRow(`SELECT group_concat(name) FROM sqlite_master WHERE type = 'index' AND name LIKE 'messages_uri%'`).Scan(&idx); err != nil || idx != "messages_uri_blobs" {
					t.Fatalf("uri indexes %q, %v", idx, err)
				}
				// The janitor's lookup by uri uses it.
				var id, parent, unused int
				var plan string
				if err := db.read.QueryRow(`EXPLAIN QUERY PLAN SELECT 1 FROM messages WHERE uri = 'abc' AND data IS NULL AND arena_off IS NULL`).
					Scan(&id, &parent, &unused, &plan); err != nil || !strings.Contains(plan, "messages_uri_blobs") {
					t.Fatalf("plan %q, %v", plan, err)
				}
				db.Close()
			}
		})
	}
}

// TestMigrateCursors: a database from before delivery by cursor (state 1
// rows, messages_undelivered) gets each number's cursor just below its
// oldest waiting message, loses the partial index, and answers as before.
func TestMigrateCursors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	// As the schema was: no cursors, the partial index, no version; 2002
	// has 1 delivered, 2 waiting, 3 read; 2003 everything delivered.
	for _, q := range []string{
		`PRAGMA user_version = 0`,
		`DROP TABLE cursors`,
		`CREATE INDEX messages_undelivered ON messages(callee, id) WHERE state = 0`,
		`INSERT INTO numbers(number, uuid_hash, created) VALUES('2002', x'02', 0), ('2003', x'03', 0)`,
		`INSERT INTO messages(id, caller, caller_name, callee, time, uri, length, data, state) VALUES
			(1, '2001', 'A', '2002', 1, 'u', 1, x'61', 1),
			(2, '2001', 'A', '2003', 1, 'u', 1, x'61', 1),
			(3, '2001', 'A', '2002', 1, 'u', 1, x'61', 0),
			(4, '2001', 'A', '2002', 1, 'u', 1, x'61', 2),
			(5, '2001', 'A', '2003', 1, 'u', 1, x'61', 2),
			(6, '2001', 'A', '2002', 1, 'u', 1, x'61', 0)`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	for i := range 2 { // and a second start changes nothing more
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var cursors string
		if err := db.read.QueryRow(`SELECT group_concat(number || ':' || upto, ' ') FROM (SELECT * FROM cursors ORDER BY number)`).Scan(&cursors); err != nil || cursors != "2002:2 2003:5" {
			t.Fatalf("start %d: cursors %q, %v", i, cursors, err)
		}
		var idx int
		if err := db.read.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'messages_undelivered'`).Scan(&idx); err != nil || idx != 0 {
			t.Fatalf("start %d: messages_undelivered left: %d, %v", i, idx, err)
		}
		if n, err := db.countWaiting(); err != nil || len(n) != 1 || n["2002"] != 2 {
			t.Fatalf("start %d: counts %v, %v", i, n, err)
		}
		for id, want := range map[int64]string{1: "delivered", 2: "delivered", 3: "sent", 4: "read", 5: "read", 6: "sent"} {
			m, err := db.Message(context.Background(), id)
			if err != nil || m.State.String() != want {
				t.Fatalf("start %d: message %d %v, %v; want %s", i, id, m.State, err, want)
			}
		}
		db.Close()
	}
}
