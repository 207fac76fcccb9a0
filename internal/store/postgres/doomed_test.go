package postgres_test

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

// objectSize is more than a read could hold in flight when its object is
// deleted, so that a deleted object shows as a short read.
const objectSize = 4 << 20

// twoNodesWithObjects opens two engines, as two nodes, on one database
// and one bucket, both with grace as their orphan grace.
func twoNodesWithObjects(t *testing.T, grace time.Duration) (a, b *postgres.DB, objects *s3.Store, url string) {
	t.Helper()
	objects, _ = openObjects(t)
	opts := postgres.Options{Objects: objects, ObjectThreshold: 10, OrphanGrace: grace}
	a, url = openWith(t, opts)
	b, err := postgres.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b, objects, url
}

// fileOf is a file of objectSize bytes from number 0 to callee.
func fileOf(callee string) (store.NewMessages, []byte) {
	data := bytes.Repeat([]byte("0123456789abcdef"), objectSize/16)
	m := store.NewMessages{SenderHash: uuid(0), Callees: []string{callee}, Data: bytes.NewReader(data),
		Length: int64(len(data)), Fname: "big.bin", Now: t0}
	return m, data
}

// An object expiry freed on one node is kept for the orphan grace even
// when another node sweeps (the janitor's lease moved): the sweep knows
// it from the database, not from the expiring node's memory. A reader
// opened before expiry reads it whole; past the grace it is deleted.
func TestDoomedObjectOutlivesSweepOfAnotherNode(t *testing.T) {
	const grace = 3 * time.Second
	a, b, objects, url := twoNodesWithObjects(t, grace)
	numbers := online(t, a, 2)
	ctx := t.Context()
	file, data := fileOf(numbers[1])
	res, err := a.Send(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.Message(ctx, res.MsgIDs[numbers[1]])
	if err != nil {
		t.Fatal(err)
	}
	// Older than the grace by its creation time (whole seconds), so a
	// sweep that knew nothing of its expiry would take it for an orphan.
	time.Sleep(grace + 1100*time.Millisecond)
	reader, err := b.OpenData(ctx, m, 0, m.Length)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := a.Expire(ctx, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Message(ctx, m.ID); err == nil {
		t.Fatal("message still there after expiry")
	}
	if err := b.Expire(ctx, t0.Add(time.Second)); err != nil { // b's first sweep
		t.Fatal(err)
	}
	if names := objectNames(t, objects); !slices.Equal(names, []string{m.URI}) {
		t.Fatalf("objects after another node's sweep within the grace %v, want %s", names, m.URI)
	}
	got, err := io.ReadAll(reader)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reader opened before expiry read %d of %d bytes (%v)", len(got), len(data), err)
	}
	time.Sleep(grace)
	if err := b.Expire(ctx, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if names := objectNames(t, objects); len(names) != 0 {
		t.Fatalf("objects past the grace %v, want none", names)
	}
	if n := count(t, url, `SELECT count(*) FROM doomed_objects`); n != 0 {
		t.Fatalf("%d doomed objects listed after their deletion, want 0", n)
	}
}
