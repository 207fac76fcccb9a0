package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is a server under load.
type target struct {
	name string
	url  string
	proc *proc // nil when ringbench did not start it
	hc   *http.Client
	// rounds: run the load's rounds (ringd); the ceiling answers any body
	// alike and needs none.
	rounds bool
}

func newTarget(name, url string, p *proc, conns int, rounds bool) *target {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &target{name: name, url: url, proc: p, hc: &http.Client{Transport: tr}, rounds: rounds}
}

func (t *target) close() { t.hc.CloseIdleConnections() }

// result is what one timed run measured.
type result struct {
	target  string
	n       int // requests answered
	errs    int // requests without an answer (transport errors)
	lastErr error
	codes   map[int]int // answer code (or -HTTP status when not 200) → count
	elapsed time.Duration
	lats    []time.Duration
	cpu     float64 // server CPU seconds during the timed part; -1 unknown
	peakRSS int64   // server peak RSS in bytes; -1 unknown
	// answerLen is the length of the first 10000 answer, so the ceiling
	// can serve answers of the same size.
	answerLen int
}

func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.n) / r.elapsed.Seconds()
}

// ok reports whether every request was answered 10000.
func (r *result) ok() bool { return r.errs == 0 && r.codes[10000] == r.n && r.n > 0 }

func (r *result) pct(p float64) time.Duration {
	if len(r.lats) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.lats)))) - 1
	return r.lats[max(0, min(i, len(r.lats)-1))]
}

func (r *result) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-8s %9.0f req/s  n=%d in %.2fs  p50 %s p90 %s p99 %s max %s  codes",
		r.target, r.rate(), r.n, r.elapsed.Seconds(), ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)), ms(r.pct(100)))
	keys := make([]int, 0, len(r.codes))
	for k := range r.codes {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, " %d:%d", k, r.codes[k])
	}
	if r.errs > 0 {
		fmt.Fprintf(&sb, "  errors:%d (%v)", r.errs, r.lastErr)
	}
	if r.cpu >= 0 {
		fmt.Fprintf(&sb, "  server cpu %.2fs (%.2f cores)", r.cpu, r.cpu/r.elapsed.Seconds())
	}
	if r.peakRSS >= 0 {
		fmt.Fprintf(&sb, "  peak RSS %.1f MiB", float64(r.peakRSS)/(1<<20))
	}
	return sb.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// worker is one connection's loop state.
type worker struct {
	buf     []byte
	lats    []time.Duration
	codes   map[int]int
	errs    int
	lastErr error
	ansLen  int
}

// run drives ld against t with c.conns workers: for dur, or for count
// requests when count > 0. Against ringd it runs the load's rounds, timing
// only the requests, never the preparation between them.
func run(ctx context.Context, c *config, ld *load, t *target, dur time.Duration, count int) (*result, error) {
	res := &result{target: t.name, codes: map[int]int{}, cpu: -1, peakRSS: -1}
	workers := make([]*worker, c.conns)
	for i := range workers {
		workers[i] = &worker{buf: make([]byte, 0, 4096), codes: map[int]int{}}
	}
	cpu := 0.0
	left := count
	// The duration counts only the timed requests: a load whose rounds
	// take long to prepare (gets of 300 messages) still gets its share.
	for ctx.Err() == nil && (count == 0 || left > 0) && (count > 0 || res.elapsed < dur) {
		limit := math.MaxInt
		if count > 0 {
			limit = left
		}
		if t.rounds && ld.round != nil {
			n, err := ld.round(ctx, limit)
			if err != nil {
				return nil, fmt.Errorf("preparing a round: %w", err)
			}
			limit = n
		}
		var deadline time.Time // set after the untimed preparation
		if count == 0 {
			deadline = time.Now().Add(dur - res.elapsed)
		}
		cpu0 := t.proc.cpuSeconds()
		start := time.Now()
		made := runRound(ctx, ld, t, workers, limit, deadline)
		res.elapsed += time.Since(start)
		if cpu1 := t.proc.cpuSeconds(); cpu0 >= 0 && cpu1 >= 0 {
			cpu += cpu1 - cpu0
			res.cpu = cpu
		}
		if t.rounds && ld.done != nil {
			ld.done(made)
		}
		left -= made
		if ld.round == nil || !t.rounds {
			break // one round ran to the deadline or the count
		}
	}
	for _, w := range workers {
		res.lats = append(res.lats, w.lats...)
		for k, v := range w.codes {
			res.codes[k] += v
		}
		res.errs += w.errs
		if w.lastErr != nil {
			res.lastErr = w.lastErr
		}
		if res.answerLen == 0 {
			res.answerLen = w.ansLen
		}
	}
	res.n = len(res.lats)
	slices.Sort(res.lats)
	res.peakRSS = t.proc.peakRSS()
	return res, ctx.Err()
}

// runRound makes up to limit requests (until deadline, if set) and returns
// how many were started.
func runRound(ctx context.Context, ld *load, t *target, workers []*worker, limit int, deadline time.Time) int {
	var next atomic.Int64
	var wg sync.WaitGroup
	for wi, w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= limit {
					return
				}
				if ld.modulo > 0 {
					i %= ld.modulo
				}
				w.do(ctx, t, ld.gen(wi, i))
			}
		})
	}
	wg.Wait()
	return int(min(next.Load(), int64(limit)))
}

func (w *worker) do(ctx context.Context, t *target, body []byte) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		w.fail(ctx, err)
		return
	}
	req.Header["Content-Type"] = []string{"application/octet-stream"}
	resp, err := t.hc.Do(req)
	if err != nil {
		w.fail(ctx, err)
		return
	}
	w.buf, err = readAll(resp.Body, w.buf[:0])
	resp.Body.Close()
	if err != nil {
		w.fail(ctx, err)
		return
	}
	w.lats = append(w.lats, time.Since(start))
	code := -resp.StatusCode
	if resp.StatusCode == http.StatusOK {
		code = answerCode(w.buf)
	}
	w.codes[code]++
	if code == 10000 && w.ansLen == 0 {
		w.ansLen = len(w.buf)
	}
}

func (w *worker) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // interrupted: not the server's failure
	}
	w.errs++
	w.lastErr = err
}

// readAll reads r to its end into buf, reusing its room.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// answerCode finds the "answer" of a JSON answer without decoding it all:
// ringd writes it as the first field. 0 when there is none.
func answerCode(b []byte) int {
	const key = `"answer":`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	code := 0
	for _, c := range b[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		code = code*10 + int(c-'0')
	}
	return code
}

// timed runs a warmup (not counted) and then the timed run.
func timed(ctx context.Context, c *config, ld *load, t *target) (*result, error) {
	if c.warmup > 0 {
		if _, err := run(ctx, c, ld, t, c.warmup, 0); err != nil {
			return nil, err
		}
	}
	return run(ctx, c, ld, t, c.dur, c.count)
}

// ringdTarget starts ringd or uses the running one.
func ringdTarget(ctx context.Context, c *config, out io.Writer) (*target, func(), error) {
	if c.url != "" {
		return newTarget("ringd", c.url, nil, c.conns, true), func() {}, nil
	}
	p, err := startRingd(ctx, c.serverBin, c.serverArgs)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "# started ringd %s at %s (pid %d)\n", c.serverBin, p.url, p.cmd.Process.Pid)
	t := newTarget("ringd", p.url, p, c.conns, true)
	return t, func() { t.close(); p.stop() }, nil
}

func (c *config) describe(ld *load) string {
	n := fmt.Sprintf("%v", c.dur)
	if c.count > 0 {
		n = fmt.Sprintf("%d requests", c.count)
	}
	return fmt.Sprintf("# %s, %d connections, %s per run", ld.desc, c.conns, n)
}

// bench runs the load once against ringd and prints what it measured.
func bench(ctx context.Context, c *config, out io.Writer) error {
	t, stop, err := ringdTarget(ctx, c, out)
	if err != nil {
		return err
	}
	defer stop()
	ld, err := setup(ctx, c, t.url, c.logf(out))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, c.describe(ld))
	// What the server holds before the load, so that what the load costs
	// in memory (e.g. 1000 waiting long-polls) can be told apart.
	rss0 := t.proc.rss()
	r, err := timed(ctx, c, ld, t)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, r)
	if rss0 >= 0 {
		fmt.Fprintf(out, "server RSS before the load %.1f MiB; peak above it %.1f MiB\n",
			float64(rss0)/(1<<20), float64(r.peakRSS-rss0)/(1<<20))
	}
	if !r.ok() {
		return fmt.Errorf("%d of %d requests not answered 10000", r.n+r.errs-r.codes[10000], r.n+r.errs)
	}
	return nil
}

// compare runs the load alternately against ringd and the ceiling and
// prints each pair's ratio and their median.
func compare(ctx context.Context, c *config, out io.Writer) error {
	rt, stop, err := ringdTarget(ctx, c, out)
	if err != nil {
		return err
	}
	defer stop()
	ld, err := setup(ctx, c, rt.url, c.logf(out))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, c.describe(ld))
	var ct *target
	defer func() {
		if ct != nil {
			ct.close()
			ct.proc.stop()
		}
	}()
	var ratios []float64
	var bad error
	for pair := 1; pair <= c.pairs; pair++ {
		a, err := timed(ctx, c, ld, rt)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, a)
		if !a.ok() && bad == nil {
			bad = fmt.Errorf("ringd: %d of %d requests not answered 10000", a.n+a.errs-a.codes[10000], a.n+a.errs)
		}
		if ct == nil {
			// The ceiling answers as many bytes as ringd did where the
			// answer is large (gets returning messages, fetch).
			size := 0
			if (c.op == "get" && c.m > 0) || c.op == "fetch" {
				size = a.answerLen
			}
			p, err := startCeiling(ctx, size)
			if err != nil {
				return err
			}
			ct = newTarget("ceiling", p.url, p, c.conns, false)
			if size > 0 {
				fmt.Fprintf(out, "# ceiling answers %d bytes, as ringd did\n", size)
			}
		}
		b, err := timed(ctx, c, ld, ct)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, b)
		ratio := a.rate() / b.rate()
		ratios = append(ratios, ratio)
		fmt.Fprintf(out, "pair %d: ringd/ceiling = %.3f\n", pair, ratio)
	}
	slices.Sort(ratios)
	fmt.Fprintf(out, "median ringd/ceiling over %d pairs: %.3f\n", len(ratios), median(ratios))
	return bad
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func (c *config) logf(out io.Writer) func(string, ...any) {
	if !c.verbose {
		return func(string, ...any) {}
	}
	return func(f string, args ...any) { fmt.Fprintf(out, "# "+f+"\n", args...) }
}
