package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestMigrateOldSchema: a database made before messages had their data
// column gains it, and the full uri index becomes the partial one, keeping
// its rows.
func TestMigrateOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE messages(id INTEGER PRIMARY KEY, caller TEXT NOT NULL, caller_name TEXT NOT NULL,
			callee TEXT NOT NULL, time INTEGER NOT NULL, uri TEXT NOT NULL, length INTEGER NOT NULL,
			fname TEXT, callid TEXT, state INTEGER NOT NULL DEFAULT 0)`,
		`CREATE INDEX messages_uri ON messages(uri)`,
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
		if err := db.read.QueryRow(`SELECT count(*) FROM messages WHERE uri = 'abc' AND data IS NULL`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("old row: %d, %v", n, err)
		}
		var idx string
		if err := db.read.QueryRow(`SELECT group_concat(name) FROM sqlite_master WHERE type = 'index' AND name LIKE 'messages_uri%'`).Scan(&idx); err != nil || idx != "messages_uri_shared" {
			t.Fatalf("uri indexes %q, %v", idx, err)
		}
		db.Close()
	}
}
