package sqlite_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/sqlite"
)

var allApps = func(string) bool { return true }

// A send's pushes commit with it, one per callee in use, and a send that
// fails leaves none.
func TestSendQueuesPushes(t *testing.T) {
	db, numbers, hashes := benchDB(t, 4)
	ctx := context.Background()
	now := time.Now()
	due := func() []store.Push {
		ps, err := db.DuePushes(ctx, now.Add(time.Hour), 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	send := func(callees ...string) error {
		_, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: callees, Data: bytes.NewReader(textBlob(1)), Length: int64(len(textBlob(1))), Now: now})
		return err
	}
	// No filter set (push not configured): nothing is queued.
	if err := send(numbers[1]); err != nil || len(due()) != 0 {
		t.Fatalf("without push configured: %v, %d pushes", err, len(due()))
	}
	db.SetPushFilter(allApps)
	if err := send(numbers[1], numbers[2]); err != nil {
		t.Fatal(err)
	}
	ps := due()
	if len(ps) != 2 || ps[0].Kind != store.PushMessage || ps[0].Token != "bench-token" || ps[0].AppID != "bench" ||
		ps[0].Caller != numbers[0] || ps[0].MsgID == 0 || ps[0].Body != store.Preview(string(textBlob(1))) {
		t.Fatalf("pushes %+v", ps)
	}
	// A callee not in use: the send fails whole, and queues nothing.
	if _, err := db.Login(ctx, store.Device{Token: "other-token", AppID: "bench", Build: "1", Name: "X", Locale: "en"},
		nil, now); err != nil {
		t.Fatal(err)
	}
	if err := send("99999999"); err != store.ErrCalleeNotInUse {
		t.Fatalf("send to nobody: %v", err)
	}
	if n, _ := db.OutboxDepth(ctx); n != 2 {
		t.Fatalf("outbox depth %d after a failed send, want 2", n)
	}
	// An appid the filter refuses gets no push.
	db.SetPushFilter(func(string) bool { return false })
	if err := send(numbers[3]); err != nil || len(due()) != 2 {
		t.Fatalf("refused appid: %v, %d pushes", err, len(due()))
	}
}

// UnbindToken clears only what still holds the dead token, and nothing if
// the device logged in after the push was made.
func TestUnbindTokenCompareAndClear(t *testing.T) {
	db, numbers, hashes := benchDB(t, 3)
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	login := func(token string, at time.Time, h ...store.UUIDHash) {
		if _, err := db.Login(ctx, store.Device{Token: token, AppID: "a", Build: "1", Name: "N", Locale: "en"}, h, at); err != nil {
			t.Fatal(err)
		}
	}
	inUse := func(n string) string {
		num, err := db.Number(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return num.Token
	}
	login("old", t0, hashes[1], hashes[2])
	login("new", t0.Add(time.Second), hashes[2]) // numbers[2] moved to a new token
	oldLogin, err := sqlite.DeviceLogin(db, "old")
	if err != nil || oldLogin == 0 {
		t.Fatalf("login count of a device: %d %v", oldLogin, err)
	}
	// The device logged in again after the push: nothing changes.
	if n, err := db.UnbindToken(ctx, "old", oldLogin-1); err != nil || n != 0 || inUse(numbers[1]) != "old" {
		t.Fatalf("newer login undone: %d %v %q", n, err, inUse(numbers[1]))
	}
	n, err := db.UnbindToken(ctx, "old", oldLogin)
	if err != nil || n != 1 {
		t.Fatalf("unbind: %d %v", n, err)
	}
	if inUse(numbers[1]) != "" || inUse(numbers[2]) != "new" || inUse(numbers[0]) != "bench-token" {
		t.Fatalf("after unbinding: %q %q %q", inUse(numbers[0]), inUse(numbers[1]), inUse(numbers[2]))
	}
}

// BenchmarkSendWithPush is BenchmarkSend with a push queued in the same
// transaction: the cost the outbox adds to the hot path.
func BenchmarkSendWithPush(b *testing.B) {
	db, numbers, hashes := benchDB(b, 2)
	db.SetPushFilter(allApps)
	ctx := context.Background()
	var i int64
	b.ReportAllocs()
	for b.Loop() {
		i++
		_, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(i)), Length: int64(len(textBlob(i))), Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendsTo1000WithPush is BenchmarkSendsTo1000 with 1000 pushes
// queued.
func BenchmarkSendsTo1000WithPush(b *testing.B) {
	db, numbers, hashes := benchDB(b, 1001)
	db.SetPushFilter(allApps)
	ctx := context.Background()
	var i int64
	b.ReportAllocs()
	for b.Loop() {
		i++
		_, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(i)), Length: int64(len(textBlob(i))), Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// The writer wakes the dispatcher after a commit that queued a push, and
// only then.
func TestCommitWithPushKicks(t *testing.T) {
	db, numbers, hashes := benchDB(t, 2)
	ctx := context.Background()
	kicks := make(chan struct{}, 10)
	db.SetPushKick(func() { kicks <- struct{}{} })
	wanted := false
	db.SetPushFilter(func(string) bool { return wanted })
	send := func() {
		t.Helper()
		if _, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(1)), Length: int64(len(textBlob(1))), Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if len(kicks) != 0 {
		t.Fatal("kicked for a commit that queued no push")
	}
	wanted = true
	send()
	if len(kicks) != 1 {
		t.Fatalf("%d kicks after a commit with a push, want 1", len(kicks))
	}
	if ok, err := db.QueuePush(ctx, numbers[1], store.Push{Kind: store.PushCall, CallID: "c", Created: time.Now()}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if len(kicks) != 2 {
		t.Fatalf("%d kicks after QueuePush, want 2", len(kicks))
	}
}

// Pushes nobody drained (push no longer configured) expire with the
// messages they announced.
func TestExpireDropsOldPushes(t *testing.T) {
	db, numbers, hashes := benchDB(t, 2)
	db.SetPushFilter(allApps)
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	for i, at := range []time.Time{t0, t0.Add(2 * time.Hour)} {
		if _, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(int64(i))), Length: int64(len(textBlob(int64(i)))), Now: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Expire(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ps, err := db.DuePushes(ctx, t0.Add(1000*time.Hour), 10, nil)
	if err != nil || len(ps) != 1 || !ps[0].Created.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after expiry: %v %+v", err, ps)
	}
}

// A push deleted while the dispatcher still holds it (its token was called
// dead, and unbinding the token deletes the token's pushes) lends its id
// to no later push: the dispatcher then deletes (or retries) it by that id,
// which must not take a new push with it. SQLite alone would give the next
// row the largest id plus one, the deleted push's.
func TestPushIDsNotReused(t *testing.T) {
	db, numbers, hashes := benchDB(t, 2)
	ctx := context.Background()
	now := time.Now()
	db.SetPushFilter(allApps)
	send := func() store.Push {
		t.Helper()
		if _, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: []string{numbers[1]},
			Data: bytes.NewReader(textBlob(1)), Length: int64(len(textBlob(1))), Now: now}); err != nil {
			t.Fatal(err)
		}
		ps, err := db.DuePushes(ctx, now.Add(time.Hour), 100, nil)
		if err != nil || len(ps) != 1 {
			t.Fatalf("pushes %+v, %v; want one", ps, err)
		}
		return ps[0]
	}
	held := send()
	if _, err := db.UnbindToken(ctx, held.Token, held.Login); err != nil {
		t.Fatal(err)
	}
	dev := store.Device{Token: "new-token", AppID: "bench", Build: "1.0", Name: "Bench", Locale: "en"}
	if _, err := db.Login(ctx, dev, hashes, now); err != nil {
		t.Fatal(err)
	}
	next := send()
	if next.ID == held.ID {
		t.Fatalf("the new push took the id %d of the push held", held.ID)
	}
	if err := db.DeletePush(ctx, held.ID); err != nil { // the dispatcher's, done with held
		t.Fatal(err)
	}
	if n, _ := db.OutboxDepth(ctx); n != 1 {
		t.Fatalf("outbox depth %d after deleting the held push, want 1 (the new one)", n)
	}
}
