package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// Send runs without a savepoint when it writes one row (a text to one
// number, no cid, no push) and opens one when it writes more: either way a
// send that fails leaves nothing behind, in the tables or in what waits.
func TestFailedSendLeavesNothing(t *testing.T) {
	now := time.Now()
	db, hashes := openWithNumbers(t, filepath.Join(t.TempDir(), "u.db"), []string{"1001", "1002", "1003"}, "t", now)
	defer db.Close()
	ctx := context.Background()
	text := []byte("hello")
	blob := text
	send := func(cid string, callees ...string) error {
		_, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: callees, Data: bytes.NewReader(blob), Length: int64(len(blob)), Now: now, CID: cid})
		return err
	}
	count := func(table string) int {
		var n int
		if err := db.read.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	trigger := func(q string) {
		if err := db.write(ctx, func(tx *wtx) error { _, err := tx.exec(q); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := send("", "1002"); err != nil { // one row
		t.Fatal(err)
	}

	// The second write of a send with a cid fails: its message goes too.
	trigger(`CREATE TRIGGER no_sends BEFORE INSERT ON sends BEGIN SELECT RAISE(ABORT, 'no sends'); END`)
	if err := inBatch(t, db, func() error { return send("c1", "1002") }); err == nil || !strings.Contains(err.Error(), "no sends") {
		t.Fatalf("send whose sends row fails: %v", err)
	}
	// The last message of a sends to two fails: the first and the blobs row go too.
	trigger(`CREATE TRIGGER no_carol BEFORE INSERT ON messages WHEN NEW.callee = '1003' BEGIN SELECT RAISE(ABORT, 'no carol'); END`)
	if err := inBatch(t, db, func() error { return send("", "1002", "1003") }); err == nil || !strings.Contains(err.Error(), "no carol") {
		t.Fatalf("sends whose second message fails: %v", err)
	}
	// The one write of a plain send fails.
	if err := inBatch(t, db, func() error { return send("", "1003") }); err == nil || !strings.Contains(err.Error(), "no carol") {
		t.Fatalf("send whose message fails: %v", err)
	}
	if m, s, b := count("messages"), count("sends"), count("blobs"); m != 1 || s != 0 || b != 0 {
		t.Fatalf("%d messages, %d sends rows, %d blobs rows after failed sends, want 1, 0, 0", m, s, b)
	}
	if w := checkWaiting(t, db, "after failed sends"); w["1002"] != 1 || w["1003"] != 0 {
		t.Fatalf("waiting %v", w)
	}
	// The writer goes on, and savepoints still work.
	if err := send("c2", "1002"); err == nil {
		t.Fatal("the trigger is gone")
	}
	if err := send("", "1002"); err != nil {
		t.Fatal(err)
	}
	checkWaiting(t, db, "after a send")
}

// inBatch runs failing in one batch with a write that succeeds, so that
// the batch commits: whatever failing left behind would stay. It returns
// failing's error.
func inBatch(t *testing.T, db *DB, failing func() error) error {
	t.Helper()
	ctx := context.Background()
	running, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() { held <- db.write(ctx, func(*wtx) error { close(running); <-release; return nil }) }()
	<-running
	failed, ok := make(chan error, 1), make(chan error, 1)
	go func() { failed <- failing() }()
	for len(db.ops) < 1 {
		time.Sleep(time.Millisecond)
	}
	go func() { ok <- db.write(ctx, reserve("555", nil)) }()
	for len(db.ops) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-ok; err != nil {
		t.Fatal(err)
	}
	if err := db.write(ctx, func(tx *wtx) error { _, err := tx.exec(`DELETE FROM reserved`); return err }); err != nil {
		t.Fatal(err)
	}
	return <-failed
}
