package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/sqlite"
)

// pageSizeOf reads the page size in the header of the database at path,
// through a connection of its own.
func pageSizeOf(t *testing.T, path string) int {
	t.Helper()
	c, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.QueryRow("PRAGMA page_size").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pagesThroughReopen opens the store at path and checks that its pages are
// want bytes; stores a text, closes the store and opens it again, and
// checks that the text is there and the pages are still want bytes.
func pagesThroughReopen(t *testing.T, path string, want int) {
	t.Helper()
	db, numbers, hashes := benchDBAt(t, path, 2)
	if n := pageSizeOf(t, path); n != want {
		t.Fatalf("the store opened with pages of %d bytes, want %d", n, want)
	}
	ctx := context.Background()
	res, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:2], Data: bytes.NewReader(textBlob(1)), Length: int64(len(textBlob(1))), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, _, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1:2], After: time.Now().Add(-time.Hour).Unix(), Limit: 10}, nil)
	if err != nil || len(msgs) != 1 || msgs[0].ID != res.MsgIDs[numbers[1]] || msgs[0].Text == nil || *msgs[0].Text != string(textBlob(1)) {
		t.Fatalf("after a reopen: %d messages (%v), want the one sent (msgid %d)", len(msgs), err, res.MsgIDs[numbers[1]])
	}
	if n := pageSizeOf(t, path); n != want {
		t.Fatalf("after a reopen the pages are %d bytes, want %d", n, want)
	}
}

// A new database gets pages of 1 KiB (db.go, pageSize), and keeps them.
func TestNewDatabasePageSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringd.db")
	pagesThroughReopen(t, path, 1024)
}

// A database made with SQLite's default pages (every ringd database before
// the smaller pages) is opened as it is, and works.
func TestOlderPageSizeKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringd.db")
	c, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA page_size = 4096", "PRAGMA journal_mode = WAL", "CREATE TABLE before(x)"} {
		if _, err := c.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	pagesThroughReopen(t, path, 4096)
}
