package sqlite

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openTestDB opens a database at path with one connection, through the
// WAL write joiner when joined, with a page cache of cachePages pages
// (small ones make SQLite spill uncommitted frames into the WAL
// mid-transaction) and no automatic checkpoints.
func openTestDB(t *testing.T, path string, joined bool, cachePages int) *sql.DB {
	t.Helper()
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=NORMAL"
	if joined {
		if err := registerWALJoin(); err != nil {
			t.Fatal(err)
		}
		dsn += "&vfs=" + walJoinVFS
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	mustExec(t, db, fmt.Sprintf(`PRAGMA cache_size = %d`, cachePages))
	mustExec(t, db, `PRAGMA wal_autocheckpoint = 0`)
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// snapshot copies the database and its WAL as the files hold them now
// (what an fdatasync would make durable) into a new directory, and opens
// the copy with the plain unix VFS, so SQLite recovers it from the WAL.
func snapshot(t *testing.T, path string) *sql.DB {
	t.Helper()
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "copy.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "copy.db")+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func integrity(t *testing.T, db *sql.DB) {
	t.Helper()
	var s string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&s); err != nil || s != "ok" {
		t.Fatalf("integrity_check: %q, %v", s, err)
	}
}

// Every commit is in the WAL file when COMMIT returns, the joiner holding
// nothing back: a copy of the files taken right after it, recovered by
// plain SQLite, has it. That is what the syncer's fdatasync relies on.
func TestWALJoinCommitIsInTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	db := openTestDB(t, path, true, 2000)
	mustExec(t, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB)`)
	mustExec(t, db, `CREATE INDEX t_k ON t(k)`)
	in0, out0 := walJoinCounts()
	const commits = 40
	for i := range commits {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		// Rows scattered over the index, so each commit writes many
		// pages: many frames to join.
		for j := range 30 {
			if _, err := tx.Exec(`INSERT INTO t(k, v) VALUES (?, ?)`, fmt.Sprintf("%03d-%d", (j*37+i)%997, i), strings.Repeat("x", 300)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := snapshot(t, path).QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 30*(i+1) {
			t.Fatalf("after commit %d the files hold %d rows, want %d: the WAL write joiner held frames back past COMMIT "+
				"(its assumption that the commit frame's page is SQLite's last frame write of a transaction no longer holds: "+
				"TestWALJoinAssumptions says more); walvfs.c must be checked again or removed", i, n, 30*(i+1))
		}
	}
	in, out := walJoinCounts()
	in, out = in-in0, out-out0
	t.Logf("%d commits: %d writes from SQLite, %d to the file", commits, in, out)
	// Each commit is at least 2 frames (4 writes from SQLite); joined, it
	// is one write to the file, or a few where it passes JOIN_MAX.
	if in < 4*commits || out > in/4 {
		t.Fatalf("%d writes from SQLite became %d writes to the file: not joined (SQLite no longer appends frames "+
			"as the WAL write joiner assumes: TestWALJoinAssumptions says which way)", in, out)
	}
	integrity(t, snapshot(t, path))
}

// Transactions larger than the page cache spill frames into the WAL before
// they commit, read them back, rewrite them in place and then rewrite
// their checksums; one rolled back leaves frames the next overwrites. The
// joiner keeps all of that in SQLite's order: the result is what SQLite
// without it makes of the same statements, and survives recovery.
func TestWALJoinSpillsRollbacksAndRestarts(t *testing.T) {
	dir := t.TempDir()
	joined := openTestDB(t, filepath.Join(dir, "j.db"), true, 10)
	plain := openTestDB(t, filepath.Join(dir, "p.db"), false, 10)
	run := func(db *sql.DB) {
		mustExec(t, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB)`)
		mustExec(t, db, `CREATE INDEX t_k ON t(k)`)
		for round := range 6 {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			// 400 rows of 1 KiB through a 10-page cache: it spills, and
			// the updates rewrite spilled pages.
			for j := range 400 {
				if _, err := tx.Exec(`INSERT INTO t(k, v) VALUES (?, ?)`, fmt.Sprintf("%d-%d", (j*7919)%401, round), strings.Repeat(fmt.Sprint(round), 1000)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tx.Exec(`UPDATE t SET v = substr(v, 1, 500) WHERE id % 3 = ?`, round%3); err != nil {
				t.Fatal(err)
			}
			if round%2 == 1 {
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
			} else if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if round == 3 {
				// The WAL starts over from its first frame.
				mustExec(t, db, `PRAGMA wal_checkpoint(RESTART)`)
			}
		}
	}
	in0, _ := walJoinCounts()
	run(joined)
	if in, _ := walJoinCounts(); in == in0 {
		t.Fatal("the joined database's writes did not go through the joiner")
	}
	run(plain)
	digest := func(db *sql.DB) string {
		var n int
		var s string
		if err := db.QueryRow(`SELECT count(*), coalesce(sum(length(v)), 0) || ':' || coalesce(group_concat(k, ','), '') FROM (SELECT * FROM t ORDER BY id)`).Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(n, " ", s)
	}
	want := digest(plain)
	if got := digest(joined); got != want {
		t.Fatalf("joined database differs from plain SQLite's:\n got %.200s\nwant %.200s", got, want)
	}
	recovered := snapshot(t, filepath.Join(dir, "j.db"))
	if got := digest(recovered); got != want {
		t.Fatalf("joined database recovered from its files differs:\n got %.200s\nwant %.200s", got, want)
	}
	integrity(t, recovered)
}

// walJoinCheckedWith is the SQLite whose WAL code (wal.c: walFrames,
// walWriteOneFrame) and unix VFS the joiner's assumptions were last read
// against.
const walJoinCheckedWith = "3.54.1"

// The joiner rests on how SQLite writes the WAL, which is SQLite's
// internal affair; each of those assumptions is checked here against the
// SQLite linked in, and a failure names the one that broke. The base VFS
// is the unix VFS; a frame is a 24-byte header and its page, and SQLite
// appends it with two writes, the header and then the page, each where the
// last ended; bytes 4..7 of the header are non-zero in a transaction's
// commit frame only, so the joiner, writing at the commit frame's page,
// makes one write of a transaction; and that write comes before SQLite
// publishes the commit, so a reader never sees a commit whose frames are
// not in the file. What no test can see (that nothing SQLite writes after
// the commit frame is a frame of the transaction, and that the publish
// follows the frames) is why a SQLite other than the one checked fails
// too: it must be read again before it is trusted.
func TestWALJoinAssumptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := openTestDB(t, path, true, 2000)
	var version string
	var pageSize int64
	if err := db.QueryRow(`SELECT sqlite_version()`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	broken := func(assumption, format string, args ...any) {
		t.Helper()
		t.Fatalf("the WAL write joiner's assumption that %s does not hold with SQLite %s: %s.\n"+
			"walvfs.c must be checked again against this SQLite's wal.c (walFrames, walWriteOneFrame) and fixed, "+
			"or the joiner removed (docs/PERFORMANCE.md, \"The WAL write joiner\").", assumption, version, fmt.Sprintf(format, args...))
	}
	if base := walJoinBase(); base != "unix" {
		broken("it wraps SQLite's unix VFS", "the default VFS is %q", base)
	}
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	// The first transaction writes the WAL's header too: the one measured
	// appends frames to a WAL that has some.
	mustExec(t, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB)`)
	mustExec(t, db, `CREATE INDEX t_k ON t(k)`)
	size0 := fileSize(t, path+"-wal")
	in0, out0 := walJoinCounts()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for j := range 20 {
		if _, err := tx.Exec(`INSERT INTO t(k, v) VALUES (?, ?)`, fmt.Sprintf("%03d", (j*37)%997), strings.Repeat("x", 300)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	in, out := walJoinCounts()
	in, out = in-in0, out-out0
	var n int
	if err := snapshot(t, path).QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 20 {
		broken("the commit is in the file when COMMIT returns", "a copy of the files holds %d rows (%v), not 20", n, err)
	}
	grown, frameSize := fileSize(t, path+"-wal")-size0, walFrameHeader+pageSize
	if grown%frameSize != 0 {
		broken("a frame is a 24-byte header and its page", "a transaction grew the WAL by %d bytes, not a multiple of %d", grown, frameSize)
	}
	frames := grown / frameSize
	if frames < 2 {
		t.Fatalf("the transaction wrote %d frames: it shows nothing of joining", frames)
	}
	if in != 2*frames {
		broken("SQLite appends each frame with two writes, its header and then its page", "%d frames came in %d writes", frames, in)
	}
	checkCommitFlags(t, path+"-wal", size0, frames, frameSize, broken)
	if out != 1 {
		broken("the joiner recognises the commit frame and writes the transaction with it",
			"%d frames became %d writes to the file, not 1", frames, out)
	}
	if version != walJoinCheckedWith {
		t.Errorf("SQLite is %s, and the WAL write joiner's assumptions were read against %s: the checks above hold, "+
			"but what no test sees must be read again in this SQLite's wal.c (that nothing of a transaction is written after "+
			"its commit frame's page but checksums rewritten in place, and that the commit is published in the wal-index "+
			"only after its frames are written); then set walJoinCheckedWith to %s, or remove the joiner.", version, walJoinCheckedWith, version)
	}
}

// walFrameHeader is the size of a WAL frame's header.
const walFrameHeader = 24

// checkCommitFlags checks the frames of the WAL at path from offset from:
// bytes 4..7 of each header, the database size after the commit, are
// non-zero in the last (the commit frame) only.
func checkCommitFlags(t *testing.T, path string, from, frames, frameSize int64, broken func(string, string, ...any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range frames {
		hdr := b[from+i*frameSize:][:walFrameHeader]
		size := binary.BigEndian.Uint32(hdr[4:8])
		if commit := i == frames-1; commit != (size != 0) {
			broken("bytes 4..7 of a frame's header are non-zero in a transaction's commit frame only",
				"frame %d of %d has %d there", i+1, frames, size)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
