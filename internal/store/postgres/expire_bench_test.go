package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
	"github.com/ringd/ringd/internal/testsrv"
)

// BenchmarkSendsBesideExpiry is whether retention stalls sends: 64
// workers send texts through the engine into a database of 1,000,000
// stored messages, alone, and while Expire deletes the half of them that
// are past retention. Each sub-benchmark reports the send rate, the
// send latency at p50 and p99, and the longest single send; "expiring"
// also how long the Expire took (its window is the Expire's, the one of
// "alone" is benchAloneFor). Run it as
//
//	go test -run '^$' -bench SendsBesideExpiry -timeout 60m ./internal/store/postgres
//
// a few times over: each run is a pair, "alone" then "expiring", a few
// minutes apart (-count N runs N of one, then N of the other). The
// prefill is built once, and built again, identically, before an
// "expiring" run finds its messages expired or added to.
func BenchmarkSendsBesideExpiry(b *testing.B) {
	e := newExpiryBench(b)
	b.Run("alone", func(b *testing.B) {
		var r sendRun
		for range b.N {
			e.ready(b, false)
			r.add(e.sendWhile(b, func() { time.Sleep(benchAloneFor) }))
		}
		r.report(b)
	})
	b.Run("expiring", func(b *testing.B) {
		var r sendRun
		var expiring time.Duration
		for range b.N {
			e.ready(b, true)
			r.add(e.sendWhile(b, func() {
				start := time.Now()
				if err := e.db.Expire(context.Background(), e.cut); err != nil {
					b.Error(err)
				}
				expiring += time.Since(start)
			}))
			e.expired = true
			e.expectExpired(b)
		}
		r.report(b)
		b.ReportMetric(expiring.Seconds()/float64(b.N), "expire-s")
	})
}

const (
	benchNumbers  = 5000    // numbers in use, each on a device of its own
	benchSends    = 800_000 // sends of the prefill, storing 1,000,000 messages
	benchWorkers  = 64      // senders at once
	benchAloneFor = 20 * time.Second
	benchSpan     = 60 * 24 * 3600 // seconds the prefill's sends span; the older half expires
)

// expiryBench is a database holding the prefill, and the engine on it.
type expiryBench struct {
	db      *postgres.DB
	url     string
	hashes  []store.UUIDHash
	numbers []string
	now     time.Time // the prefill's newest send
	cut     time.Time // Expire's before: the prefill's middle
	touched bool      // sends stored since the prefill
	expired bool      // Expire run since the prefill
}

func newExpiryBench(b *testing.B) *expiryBench {
	url := testsrv.Postgres(b)
	db, err := postgres.Open(b.Context(), url, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := time.Now()
	e := &expiryBench{db: db, url: url, now: now, cut: now.Add(-benchSpan / 2 * time.Second)}
	e.register(b)
	e.prefill(b)
	return e
}

// benchNumber is the i-th number of the benchmark; benchUUID its uuid.
func benchNumber(i int) string { return fmt.Sprint(60000000 + i) }

func benchUUID(i int) store.UUIDHash { return sha256.Sum256(fmt.Appendf(nil, "expiry bench %d", i)) }

// register registers the numbers and logs each in on a device of its own,
// through the engine, from 16 goroutines.
func (e *expiryBench) register(b *testing.B) {
	e.numbers = make([]string, benchNumbers)
	e.hashes = make([]store.UUIDHash, benchNumbers)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < benchNumbers; i += 16 {
				e.numbers[i], e.hashes[i] = benchNumber(i), benchUUID(i)
				if err := e.db.Register(b.Context(), e.numbers[i], e.hashes[i], e.now); err != nil {
					b.Error(err)
					return
				}
				d := store.Device{Token: fmt.Sprintf("bench-token-%d", i), AppID: "com.example.chat",
					Build: "1", Name: "Bench", Locale: "en"}
				if _, err := e.db.Login(b.Context(), d, e.hashes[i:i+1], e.now); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// ready makes the database the prefill's again if it is not (if the
// Expire ran, or if exact is set and sends were stored since), with its
// timer stopped, and then marks it touched by the run to come.
func (e *expiryBench) ready(b *testing.B, exact bool) {
	if e.expired || (exact && e.touched) {
		b.StopTimer()
		e.prefill(b)
		b.StartTimer()
	}
	e.touched = true
}

// prefill empties what sends and expiry write, and stores the prefill's
// sends as the engine stores them (data.go's placement): in every 100
// sends, 90 texts to one number (the text in the message's row), 5 texts
// to 6 numbers (a data row of the text), 3 missed-call notices, one file
// of 8 KiB kept in its data row and one of 1 MiB in the object store (a
// data row without bytes; the bucket itself is left out, as its deletes
// come an orphan grace after the expiry). Every other send carries a cid,
// so has a sends row; a tenth of the messages wait undelivered. Ids
// follow time, as they do when sends store them. Then VACUUM ANALYZE and
// a CHECKPOINT, so every run starts from the same clean state.
func (e *expiryBench) prefill(b *testing.B) {
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	started := time.Now()
	base := e.now.Unix() - benchSpan
	for _, q := range []string{
		`TRUNCATE messages, data, sends, outbox, doomed_objects RESTART IDENTITY`,
		prefillData, prefillMessages, prefillSends,
		`VACUUM ANALYZE`, `CHECKPOINT`,
	} {
		var args []any
		if q == prefillData || q == prefillMessages || q == prefillSends {
			args = []any{benchSends, base, benchSpan, benchNumbers}
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			b.Fatalf("prefill: %v\n%s", err, q)
		}
	}
	e.touched, e.expired = false, false
	b.Logf("prefill: %v", time.Since(started).Round(time.Second))
	e.expect(b, `SELECT count(*) FROM messages`, benchSends/100*125)
	e.expect(b, `SELECT count(*) FROM messages WHERE time < $1`, benchSends/100*125/2, e.cut.Unix())
}

// expectExpired checks that the Expire deleted what the prefill's older
// half stored, and only that: the newer half's data rows stay (the
// benchmark's own sends store none), and the 1 MiB files' objects are
// listed as doomed.
func (e *expiryBench) expectExpired(b *testing.B) {
	e.expect(b, `SELECT count(*) FROM messages WHERE time < $1`, 0, e.cut.Unix())
	e.expect(b, `SELECT count(*) FROM sends WHERE time < $1`, 0, e.cut.Unix())
	e.expect(b, `SELECT count(*) FROM data`, benchSends/2/100*7)
	e.expect(b, `SELECT count(*) FROM doomed_objects`, benchSends/2/100)
}

// expect fails b unless the count q answers, with args, is want.
func (e *expiryBench) expect(b *testing.B, q string, want int64, args ...any) {
	conn, err := pgx.Connect(b.Context(), e.url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var got int64
	if err := conn.QueryRow(b.Context(), q, args...).Scan(&got); err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("%s: %d, want %d", q, got, want)
	}
}

// prefillSend is the prefill's sends, numbered s from 0: its kind, sender,
// time (Unix seconds), text and data row name. $1 sends, $2 the first
// send's time, $3 the span of their times, $4 the numbers.
const prefillSend = `SELECT s, s % 100 AS kind, (s * 7919) % $4 AS sender, $2::bigint + s * $3::bigint / $1 AS t,
		convert_to(rpad('Message ' || s || ': ', (40 + s % 160)::int, 'the quick brown fox jumps over the lazy dog '), 'UTF8') AS text,
		encode(sha256(('bench data ' || s)::bytea), 'hex') AS name
	FROM generate_series(0, $1::bigint - 1) s`

const prefillData = `INSERT INTO data(name, length, inline, last_used)
	SELECT name, CASE kind WHEN 0 THEN 8192 WHEN 1 THEN 1048576 ELSE length(text) END,
		CASE kind
			WHEN 0 THEN (SELECT decode(string_agg(md5(s || '.' || j), ''), 'hex') FROM generate_series(1, 512) j)
			WHEN 1 THEN NULL ELSE text END,
		t * 1000
	FROM (` + prefillSend + `) x WHERE kind < 2 OR kind BETWEEN 5 AND 9`

const prefillMessages = `INSERT INTO messages(caller, caller_name, callee, time, uri, length, fname, callid, state, data, inline)
	SELECT (60000000 + sender)::text, 'Bench ' || sender, (60000000 + (s * 104729 + k * 977) % $4)::text, t,
		CASE WHEN kind < 2 THEN name WHEN kind < 5 THEN 'missed.call' ELSE encode(sha256(text), 'hex') END,
		CASE kind WHEN 0 THEN 8192 WHEN 1 THEN 1048576 WHEN 2 THEN 0 WHEN 3 THEN 0 WHEN 4 THEN 0 ELSE length(text) END,
		CASE WHEN kind < 2 THEN 'photo-' || s || '.jpg' END,
		CASE WHEN kind BETWEEN 2 AND 4 THEN 'call-' || s END,
		CASE WHEN (s + k) % 10 = 0 THEN 0 WHEN (s + k) % 10 < 4 THEN 1 ELSE 2 END,
		CASE WHEN kind < 2 OR kind BETWEEN 5 AND 9 THEN name END,
		CASE WHEN kind >= 10 THEN text END
	FROM (` + prefillSend + `) x, LATERAL generate_series(1, CASE WHEN kind BETWEEN 5 AND 9 THEN 6 ELSE 1 END) k`

const prefillSends = `INSERT INTO sends(caller, cid, time, result)
	SELECT (60000000 + sender)::text, 'cid-' || s, t,
		format('{"time":%s,"msgids":{"%s":%s}}', t, 60000000 + (s * 104729 + 977) % $4, s)
	FROM (` + prefillSend + `) x WHERE s % 2 = 0`

// sendWhile runs benchWorkers workers sending 100-byte texts to random
// numbers (every other one with a cid) while during runs, and returns
// what they measured.
func (e *expiryBench) sendWhile(b *testing.B, during func()) sendRun {
	stop := make(chan struct{})
	lat := make([][]time.Duration, benchWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range benchWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Appendf(nil, "%-100s", fmt.Sprintf("bench send %d.%d.%d", start.UnixNano(), w, i))
				m := store.NewMessages{SenderHash: e.hashes[w], Callees: []string{e.numbers[rng.IntN(benchNumbers)]},
					Data: bytes.NewReader(text), Length: int64(len(text)), Now: time.Now()}
				if i%2 == 1 {
					m.CID = fmt.Sprintf("bench-%d-%d-%d", start.UnixNano(), w, i)
				}
				t := time.Now()
				if _, err := e.db.Send(b.Context(), m); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	during()
	close(stop)
	wg.Wait()
	return sendRun{window: time.Since(start), latencies: slices.Concat(lat...)}
}

// sendRun is what sendWhile measured: each send's latency, in a window.
type sendRun struct {
	window    time.Duration
	latencies []time.Duration
}

func (r *sendRun) add(o sendRun) {
	r.window += o.window
	r.latencies = append(r.latencies, o.latencies...)
}

// report reports the send rate, latency percentiles and the longest send.
func (r *sendRun) report(b *testing.B) {
	if len(r.latencies) == 0 {
		b.Fatal("no send completed")
	}
	slices.Sort(r.latencies)
	at := func(q float64) float64 {
		return float64(r.latencies[int(q*float64(len(r.latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(r.latencies))/r.window.Seconds(), "sends/s")
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
	b.ReportMetric(0, "ns/op")
}
