package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/fsync"
	"github.com/ringd/ringd/internal/store"
)

// The syncer's descriptor stays on the file SQLite writes: checkpoints
// that restart and truncate the WAL, and a journal_size_limit, rewrite it
// in place, never replace it (walsync.go relies on it).
func TestWALKeepsItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	// On the writer's connection, so on the writer goroutine.
	if err := db.write(ctx, func(tx *wtx) error { return db.wexec(tx.ctx, `PRAGMA journal_size_limit = 0`) }); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	check := func(when string) {
		t.Helper()
		id, err := fsync.IdentityOf(path + "-wal")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !id.Same(db.wal.id) {
			t.Fatalf("%s: the WAL is another file than the one the syncer opened", when)
		}
	}
	for i, ckpt := range []string{"PASSIVE", "FULL", "RESTART", "TRUNCATE"} {
		for j := range 20 {
			if err := db.Register(ctx, fmt.Sprint(100000+100*i+j), store.UUIDHash{byte(i), byte(j), 9}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := other.ExecContext(ctx, `PRAGMA wal_checkpoint(`+ckpt+`)`); err != nil {
			t.Fatal(err)
		}
		check("after a " + ckpt + " checkpoint")
		if err := db.Register(ctx, fmt.Sprint(200000+i), store.UUIDHash{byte(i), 1, 8}, time.Now()); err != nil {
			t.Fatal(err)
		}
		check("after a write that follows a " + ckpt + " checkpoint")
	}
}

// If the path comes to name another file, the syncer follows it (syncing
// the old file too); if the file is gone it fails rather than sync a file
// nobody writes.
func TestWALFileReplacedOrGone(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	if err := os.WriteFile(db+"-wal", []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := openWAL(db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { w.close() }()
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}
	old := w.id
	if err := os.WriteFile(filepath.Join(dir, "new"), []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "new"), db+"-wal"); err != nil {
		t.Fatal(err)
	}
	if err := w.sync(); err != nil {
		t.Fatal(err)
	}
	id, err := fsync.IdentityOf(db + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if old.Same(w.id) || !id.Same(w.id) {
		t.Fatal("the syncer did not follow the replaced WAL")
	}
	if err := os.Remove(db + "-wal"); err != nil {
		t.Fatal(err)
	}
	if err := w.sync(); err == nil {
		t.Fatal("sync of a WAL that is gone succeeded")
	}
}

// holdSyncs makes each sync of db wait until release is closed; entered
// gets a value per sync that reached the hook. release is closed at the
// test's end at the latest, so that Close does not wait forever.
func holdSyncs(t *testing.T, db *DB) (entered chan struct{}, release func()) {
	entered, gate := make(chan struct{}, 100), make(chan struct{})
	f := func() error {
		entered <- struct{}{}
		<-gate
		return nil
	}
	SetSyncHook(db, f)
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return entered, release
}

// reserve is an operation that stores number, and closes ran when it has.
func reserve(number string, ran chan struct{}) func(*wtx) error {
	return func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO reserved(number) VALUES(?)`, number)
		if ran != nil {
			close(ran)
		}
		return err
	}
}

func reserved(t *testing.T, db *DB, number string) bool {
	t.Helper()
	var n int
	if err := db.read.QueryRow(`SELECT count(*) FROM reserved WHERE number = ?`, number).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// A write is committed before its sync but answered only after it: while
// the sync is held the write is in the database (a reader sees it) and its
// caller waits. Meanwhile the writer goes on: three writes that come one
// by one during the held sync run at once, in one open transaction, and
// are committed together once the syncer is free, and synced by one sync.
func TestAnswerWaitsForSync(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after holdSyncs' release
	ctx := context.Background()
	entered, release := holdSyncs(t, db)
	c0, s0 := db.Commits(), db.Syncs()

	first := make(chan error, 1)
	go func() { first <- db.write(ctx, reserve("1000", nil)) }()
	<-entered // committed; its sync has started and is held
	if !reserved(t, db, "1000") {
		t.Fatal("the write is not committed while its sync runs")
	}
	select {
	case err := <-first:
		t.Fatalf("write answered (%v) before the WAL was synced", err)
	default:
	}

	var later []chan error
	for i := range 3 {
		ran, done := make(chan struct{}), make(chan error, 1)
		go func() { done <- db.write(ctx, reserve(fmt.Sprint(2000+i), ran)) }()
		<-ran // the writer is not held by the sync
		later = append(later, done)
	}
	if c := db.Commits() - c0; c != 1 {
		t.Fatalf("%d commits while the first sync is held, want 1: the later writes wait in the open transaction", c)
	}
	for _, c := range later {
		select {
		case err := <-c:
			t.Fatalf("write answered (%v) before its commit was synced", err)
		default:
		}
	}

	release()
	for _, c := range append(later, first) {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"1000", "2000", "2001", "2002"} {
		if !reserved(t, db, n) {
			t.Fatalf("%s not stored", n)
		}
	}
	if c, s := db.Commits()-c0, db.Syncs()-s0; c != 2 || s != 2 {
		t.Errorf("%d commits and %d syncs for a write and three made during its sync, want 2 and 2", c, s)
	}
}

// Close waits for the sync of what was committed, and answers it.
func TestCloseSyncsAndAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	entered, release := holdSyncs(t, db)
	done := make(chan error, 1)
	go func() { done <- db.write(ctx, reserve("1000", nil)) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a sync was held", err)
	case err := <-done:
		t.Fatalf("write answered (%v) before its sync", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !reserved(t, db, "1000") {
		t.Fatal("write lost across Close")
	}
}
