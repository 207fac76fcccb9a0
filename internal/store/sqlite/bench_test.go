package sqlite_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/sqlite"
)

// benchDB opens a store on a real file with n numbers in use (bound to one
// device) and returns their numbers and uuid hashes.
func benchDB(tb testing.TB, n int) (*sqlite.DB, []string, []store.UUIDHash) {
	tb.Helper()
	return benchDBAt(tb, filepath.Join(tb.TempDir(), "ringd.db"), n)
}

// benchDBAt is benchDB with the database at path.
func benchDBAt(tb testing.TB, path string, n int) (*sqlite.DB, []string, []store.UUIDHash) {
	tb.Helper()
	db, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx := context.Background()
	now := time.Now()
	numbers := make([]string, n)
	hashes := make([]store.UUIDHash, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("%08d", 10000000+i)
		hashes[i] = sha256.Sum256([]byte(numbers[i] + "-uuid"))
		if err := db.Register(ctx, numbers[i], hashes[i], now); err != nil {
			tb.Fatal(err)
		}
	}
	dev := store.Device{Token: "bench-token", AppID: "bench", Build: "1.0", Name: "Bench", Locale: "en"}
	if _, err := db.Login(ctx, dev, hashes, now); err != nil {
		tb.Fatal(err)
	}
	return db, numbers, hashes
}

// textBlob returns a distinct 100-byte text.
func textBlob(i int64) []byte {
	return fmt.Appendf(nil, "%-100d", i)
}

// BenchmarkSend is one durable send of a 100-byte text, one at a time: the
// cost of a commit (and its fsync) that nothing shares.
func BenchmarkSend(b *testing.B) {
	db, numbers, hashes := benchDB(b, 2)
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

// BenchmarkSendParallel is sends from many goroutines at once: what group
// commit is for. commits/op shows how many sends shared each commit.
func BenchmarkSendParallel(b *testing.B) {
	db, numbers, hashes := benchDB(b, 2)
	ctx := context.Background()
	var seq atomic.Int64
	c0 := db.Commits()
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(seq.Add(1))), Length: 100, Now: time.Now()})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(db.Commits()-c0)/float64(b.N), "commits/op")
}

// BenchmarkSendParallelCallees is BenchmarkSendParallel with each sender
// goroutine sending to a number of its own, 64 in all, as ringbench's text
// send does: each send then dirties a leaf of messages_callee of its own,
// so a commit writes about a page per send (walvfs.go joins them).
func BenchmarkSendParallelCallees(b *testing.B) {
	const callees = 64
	db, numbers, hashes := benchDB(b, callees+1)
	ctx := context.Background()
	var seq, next atomic.Int64
	c0 := db.Commits()
	b.ReportAllocs()
	b.SetParallelism(callees / 2) // 32 per processor: 64 goroutines on two cores
	b.RunParallel(func(pb *testing.PB) {
		callee := numbers[1+int(next.Add(1)-1)%callees:][:1]
		for pb.Next() {
			_, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: callee, Data: bytes.NewReader(textBlob(seq.Add(1))), Length: 100, Now: time.Now()})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(db.Commits()-c0)/float64(b.N), "commits/op")
}

// BenchmarkSendsTo1000 is one sends of a text to 1000 callees.
func BenchmarkSendsTo1000(b *testing.B) {
	db, numbers, hashes := benchDB(b, 1001)
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

// fill stores n texts from numbers[0] to numbers[1] and returns their ids.
func fill(b *testing.B, db *sqlite.DB, numbers []string, hashes []store.UUIDHash, n int) []int64 {
	b.Helper()
	ctx := context.Background()
	ids := make([]int64, n)
	for i := range ids {
		res, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:2], Data: bytes.NewReader(textBlob(int64(i))), Length: int64(len(textBlob(int64(i)))), Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = res.MsgIDs[numbers[1]]
	}
	return ids
}

// BenchmarkMessage is the lookup fetch makes: one message by id, with its
// inline text.
func BenchmarkMessage(b *testing.B) {
	db, numbers, hashes := benchDB(b, 2)
	ids := fill(b, db, numbers, hashes, 1000)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		m, err := db.Message(ctx, ids[i%len(ids)])
		if err != nil || m.Text == nil {
			b.Fatal(m, err)
		}
	}
}

// BenchmarkOpenData is fetch's second lookup: the data of a message.
func BenchmarkOpenData(b *testing.B) {
	db, numbers, hashes := benchDB(b, 2)
	ctx := context.Background()
	res, err := db.Send(ctx, store.NewMessages{SenderHash: hashes[0], Callees: numbers[1:], Data: bytes.NewReader(textBlob(0)), Length: 100, Now: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	m, err := db.Message(ctx, res.MsgIDs[numbers[1]])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rc, err := db.OpenData(ctx, m, 0, m.Length)
		if err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkTakeUndelivered is get's store work: take (and mark delivered)
// the messages waiting for one number. Each op first stores m messages
// untimed.
func BenchmarkTakeUndelivered(b *testing.B) {
	for _, m := range []int{0, 1, 300} {
		b.Run(fmt.Sprintf("m=%d", m), func(b *testing.B) {
			db, numbers, hashes := benchDB(b, 2)
			ctx := context.Background()
			q := store.GetQuery{Callees: numbers[1:2], After: time.Now().Add(-24 * time.Hour).Unix(), Limit: 500}
			b.ReportAllocs()
			for b.Loop() {
				if m > 0 {
					b.StopTimer()
					fill(b, db, numbers, hashes, m)
					b.StartTimer()
				}
				msgs, _, err := db.TakeUndelivered(ctx, q, nil)
				if err != nil || len(msgs) != m {
					b.Fatalf("took %d messages, want %d: %v", len(msgs), m, err)
				}
			}
		})
	}
}
