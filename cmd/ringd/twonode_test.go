package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/notify/pgnotify"
	"github.com/ringd/ringd/internal/testsrv"
)

// The two-node suite: two ringd processes on 127.0.0.1 against one
// PostgreSQL database and one versitygw bucket, with a webhook receiving
// their pushes. Every check asserts what crossed from one node to the
// other, not that a request was answered.

// pushHit is one push the webhook received.
type pushHit struct {
	Type   string `json:"type"`
	Token  string `json:"token"`
	MsgID  string `json:"msgid"`
	CallID string `json:"callid"`
	at     time.Time
}

// webhook records the pushes of both nodes; each takes delay to answer,
// so pushes are in flight when a node is killed.
type webhook struct {
	srv   *httptest.Server
	delay time.Duration
	mu    sync.Mutex // guards hits
	hits  []pushHit
}

func newWebhook(t *testing.T, delay time.Duration) *webhook {
	w := &webhook{delay: delay}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var h pushHit
		if err := json.NewDecoder(r.Body).Decode(&h); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		h.at = time.Now()
		time.Sleep(w.delay)
		w.mu.Lock()
		w.hits = append(w.hits, h)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) received() []pushHit {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]pushHit(nil), w.hits...)
}

// cluster is the shared database, bucket and webhook, and how to start a
// node on them.
type cluster struct {
	t       *testing.T
	db      string
	s3      testsrv.S3Server
	hook    *webhook
	config  string
	extra   []string
	started int
}

func newCluster(t *testing.T, hookDelay time.Duration, extra ...string) *cluster {
	t.Helper()
	ringdBinary(t) // skips under -short before any server starts
	c := &cluster{t: t, db: testsrv.Postgres(t), s3: testsrv.StartS3(t), hook: newWebhook(t, hookDelay), extra: extra}
	c.config = writeFile(t, "ringd.yaml", "push:\n  timeout: 2s\n  min-backoff: 200ms\n  apps:\n    test.app:\n      webhook:\n        url: "+c.hook.srv.URL+"\n")
	return c
}

// node starts one more ringd on the cluster.
func (c *cluster) node() *proc {
	c.t.Helper()
	c.started++
	args := append([]string{"-listen", "127.0.0.1:0", "-data", c.t.TempDir(), "-database", c.db,
		"-object-store", c.s3.URL(), "-object-threshold", "65536", "-config", c.config}, c.extra...)
	cmd := exec.Command(ringdBinary(c.t), args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+c.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+c.s3.SecretKey)
	return startCmd(c.t, cmd, nil)
}

// sql runs q on the cluster's database and scans its one row into dst.
func (c *cluster) sql(q string, dst ...any) {
	c.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, q).Scan(dst...); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
}

// takeAll takes every message waiting for u through cl.
func takeAll(t *testing.T, cl *client, u user) []map[string]any {
	t.Helper()
	var out []map[string]any
	for {
		a, _ := cl.must(t, map[string]any{"req": "get", "uuid": []string{u.uuid}}, nil)
		msgs, _ := a["messages"].([]any)
		for _, m := range msgs {
			out = append(out, m.(map[string]any))
		}
		if more, _ := a["more"].(bool); !more {
			return out
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

func TestTwoNodesMessages(t *testing.T) {
	c := newCluster(t, 0)
	a, b := newClient(c.node().url), newClient(c.node().url)
	alice, bob := newUser(t, a, "Alice"), newUser(t, b, "Bob")

	sent, _ := a.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": 5}, []byte("hello"))
	got := takeAll(t, b, bob)
	if len(got) != 1 || got[0]["msgid"] != sent.str("msgid") || got[0]["text"] != "hello" || got[0]["caller"] != alice.number {
		t.Fatalf("get on B after a send on A: %v", got)
	}

	file := randomBytes(8 << 20)
	sent, _ = a.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "fname": "f.bin",
		"length": len(file)}, file)
	if got := takeAll(t, b, bob); len(got) != 1 || got[0]["msgid"] != sent.str("msgid") {
		t.Fatalf("get on B of the file: %v", got)
	}
	const offset = 3<<20 + 17
	_, part := b.must(t, map[string]any{"req": "fetch", "uuid": bob.uuid, "msgid": sent.str("msgid"), "offset": offset}, nil)
	if !bytes.Equal(part, file[offset:]) {
		t.Fatalf("fetch on B from %d: %d bytes, differing from what A was sent", offset, len(part))
	}

	// One cid sent through both nodes at once: one message.
	for round := range 10 {
		cid := fmt.Sprintf("cid-%d", round)
		var wg sync.WaitGroup
		ids := make([]string, 2)
		for i, cl := range []*client{a, b} {
			wg.Go(func() {
				ans, _ := cl.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "cid": cid, "length": 2}, []byte("hi"))
				ids[i] = ans.str("msgid")
			})
		}
		wg.Wait()
		if got := takeAll(t, a, bob); len(got) != 1 || ids[0] != ids[1] || got[0]["msgid"] != ids[0] {
			t.Fatalf("cid %s through both nodes: msgids %v, got %d messages", cid, ids, len(got))
		}
	}
}

// 200 messages to one number, taken by gets racing on both nodes: each
// exactly once.
func TestTwoNodesGetsTakeEachOnce(t *testing.T) {
	c := newCluster(t, 0)
	nodes := []*client{newClient(c.node().url), newClient(c.node().url)}
	alice, bob := newUser(t, nodes[0], "Alice"), newUser(t, nodes[1], "Bob")
	const n = 200
	sent := map[string]bool{}
	for i := range n {
		body := []byte(fmt.Sprint("m", i))
		ans, _ := nodes[i%2].must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": len(body)}, body)
		sent[ans.str("msgid")] = true
	}
	var mu sync.Mutex // guards taken
	taken := map[string]int{}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			cl := nodes[g%2]
			for {
				ans, _, err := cl.post(map[string]any{"req": "get", "uuid": []string{bob.uuid}}, nil, 0)
				if err != nil || ans.code() != 10000 {
					t.Errorf("get: %v %v", ans, err)
					return
				}
				msgs, _ := ans["messages"].([]any)
				if len(msgs) == 0 {
					return
				}
				mu.Lock()
				for _, m := range msgs {
					taken[m.(map[string]any)["msgid"].(string)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(taken) != n {
		t.Fatalf("%d messages taken, want %d", len(taken), n)
	}
	for id, k := range taken {
		if k != 1 || !sent[id] {
			t.Fatalf("message %s taken %d times (sent: %v)", id, k, sent[id])
		}
	}
}

// awaitAnswer runs head on cl in the background and hands back its answer
// and when it came.
func awaitAnswer(cl *client, head map[string]any) <-chan answerAt {
	done := make(chan answerAt, 1)
	go func() {
		ans, _, err := cl.post(head, nil, 0)
		done <- answerAt{ans, time.Now(), err}
	}()
	return done
}

type answerAt struct {
	a   answer
	at  time.Time
	err error
}

// wokenWithin waits for a long-poll's answer and returns how long after
// cause it came; it fails past limit.
func wokenWithin(t *testing.T, done <-chan answerAt, cause time.Time, limit time.Duration, what string) answer {
	t.Helper()
	select {
	case r := <-done:
		if r.err != nil || r.a.code() != 10000 {
			t.Fatalf("%s: %v %v", what, r.a, r.err)
		}
		lat := r.at.Sub(cause)
		t.Logf("%s: woken %v after the change on the other node", what, lat.Round(time.Microsecond))
		if lat > limit {
			t.Fatalf("%s: woken after %v, want under %v", what, lat, limit)
		}
		return r.a
	case <-time.After(limit + 5*time.Second):
		t.Fatalf("%s: not woken", what)
		return nil
	}
}

// terminateListeners ends the nodes' LISTEN sessions, as a failover or an
// operator would.
func (c *cluster) terminateListeners() int {
	var n int
	c.sql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = '`+pgnotify.ApplicationName+`'`, &n)
	return n
}

func TestTwoNodesWakeUps(t *testing.T) {
	c := newCluster(t, 0, "-admin-listen", "127.0.0.1:0")
	pa, pb := c.node(), c.node()
	a, b := newClient(pa.url), newClient(pb.url)
	alice, bob := newUser(t, a, "Alice"), newUser(t, b, "Bob")
	before := [2]map[string]float64{pa.scrape(t), pb.scrape(t)}

	for _, phase := range []string{"get", "get after the listeners were terminated"} {
		if strings.Contains(phase, "terminated") {
			if n := c.terminateListeners(); n < 2 {
				t.Fatalf("terminated %d notify sessions, want at least both listeners", n)
			}
			time.Sleep(500 * time.Millisecond) // let the listeners reconnect; their re-check wakes nothing here
		}
		poll := awaitAnswer(b, map[string]any{"req": "get", "uuid": []string{bob.uuid}, "wait": 20})
		time.Sleep(300 * time.Millisecond) // the long-poll is waiting
		cause := time.Now()
		sent, _ := a.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": 2}, []byte("hi"))
		ans := wokenWithin(t, poll, cause, time.Second, "long-poll get on B, "+phase)
		msgs, _ := ans["messages"].([]any)
		if len(msgs) != 1 || msgs[0].(map[string]any)["msgid"] != sent.str("msgid") {
			t.Fatalf("%s: the woken get answered %v", phase, ans)
		}
	}

	call, _ := a.must(t, map[string]any{"req": "call", "uuid": alice.uuid, "callee": bob.number}, nil)
	id := call.str("callid")
	wait := awaitAnswer(b, map[string]any{"req": "callinfo", "uuid": alice.uuid, "callid": id, "wait": 20})
	time.Sleep(300 * time.Millisecond)
	cause := time.Now()
	a.must(t, map[string]any{"req": "answer", "uuid": bob.uuid, "callid": id}, nil)
	if ans := wokenWithin(t, wait, cause, time.Second, "callinfo wait on B, answer on A"); ans.str("state") != "answered" {
		t.Fatalf("callinfo woken with %v", ans)
	}
	wait = awaitAnswer(b, map[string]any{"req": "callinfo", "uuid": bob.uuid, "callid": id, "wait": 20})
	time.Sleep(300 * time.Millisecond)
	cause = time.Now()
	a.must(t, map[string]any{"req": "hangup", "uuid": alice.uuid, "callid": id}, nil)
	if ans := wokenWithin(t, wait, cause, time.Second, "callinfo wait on B, hangup on A"); ans.str("state") != "ended" {
		t.Fatalf("callinfo woken with %v", ans)
	}
	notifyMetricsMoved(t, before, [2]map[string]float64{pa.scrape(t), pb.scrape(t)})
}

// notifyMetricsMoved checks the pgnotify metrics of nodes A and B, read
// before and after wake-ups went from A to B and both listeners were
// terminated once: A sent topics in NOTIFY batches and B heard them, and
// each listener reconnected once.
func notifyMetricsMoved(t *testing.T, before, after [2]map[string]float64) {
	t.Helper()
	moved := func(node int, series string) float64 { return after[node][series] - before[node][series] }
	if n := moved(0, "ringd_pgnotify_sends_total"); n < 3 || moved(0, "ringd_pgnotify_batch_lines_count") != n {
		t.Errorf("A: %v NOTIFY statements, %v batches observed; want at least one per change", n, moved(0, "ringd_pgnotify_batch_lines_count"))
	}
	if sent, heard := moved(0, "ringd_pgnotify_topics_sent_total"), moved(1, "ringd_pgnotify_topics_received_total"); sent < 3 || heard < 3 {
		t.Errorf("topics sent by A %v, heard by B %v; want at least the 3 changes B waited on", sent, heard)
	}
	if n := moved(1, "ringd_pgnotify_notifications_received_total"); n < 3 {
		t.Errorf("B heard %v notifications", n)
	}
	for node, name := range []string{"A", "B"} {
		if n := moved(node, "ringd_pgnotify_listener_reconnects_total"); n != 1 {
			t.Errorf("%s: %v listener reconnects, want 1", name, n)
		}
		if n := after[node]["ringd_pgnotify_send_failures_total"]; n > 1 {
			t.Errorf("%s: %v failed NOTIFYs; at most the one on the terminated session", name, n)
		}
	}
}

// A call placed on A, A killed while it rings: B's timer ends it, and
// exactly one missed-call notice is left.
func TestTwoNodesRingTimeoutAfterKill(t *testing.T) {
	c := newCluster(t, 0, "-ring-timeout", "2s")
	pa, pb := c.node(), c.node()
	a, b := newClient(pa.url), newClient(pb.url)
	alice, bob := newUser(t, a, "Alice"), newUser(t, b, "Bob")
	call, _ := a.must(t, map[string]any{"req": "call", "uuid": alice.uuid, "callee": bob.number}, nil)
	id := call.str("callid")
	pa.kill(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ans, _ := b.must(t, map[string]any{"req": "callinfo", "uuid": bob.uuid, "callid": id}, nil)
		if ans.str("state") == "ended" {
			if ans.str("reason") != "timeout" {
				t.Fatalf("call ended by %v", ans)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the call still %s long after its ring timeout, with its node gone", ans.str("state"))
		}
		time.Sleep(100 * time.Millisecond) // another process's timer: nothing here to wait on
	}
	// Restarted, A's timer finds nothing more to end.
	c.node()
	time.Sleep(time.Second)
	notices := 0
	for _, m := range takeAll(t, b, bob) {
		if m["callid"] == id {
			notices++
		}
	}
	var stored int
	c.sql(`SELECT count(*) FROM messages WHERE callid = '`+id+`'`, &stored)
	if notices != 1 || stored != 1 {
		t.Fatalf("%d missed-call notices got, %d stored; want exactly 1", notices, stored)
	}
}

// Sends spread over both nodes, B killed mid-way: every push reaches the
// webhook, and a push reaches it twice only if B had it in flight, the
// second time once B's lease on it ended.
func TestTwoNodesPushesWhenNodeKilled(t *testing.T) {
	c := newCluster(t, 300*time.Millisecond)
	pa, pb := c.node(), c.node()
	a, b := newClient(pa.url), newClient(pb.url)
	alice, bob := newUser(t, a, "Alice"), newUser(t, a, "Bob")
	const n = 120
	sent := map[string]bool{}
	var killedAt time.Time
	for i := range n {
		cl := []*client{a, b}[i%2]
		if !killedAt.IsZero() {
			cl = a
		}
		body := []byte(fmt.Sprint("push ", i))
		ans, _ := cl.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": len(body)}, body)
		sent[ans.str("msgid")] = true
		if i == n/2+1 { // just after a send through B: its push is in flight there
			pb.kill(t)
			killedAt = time.Now()
		}
	}
	lease := 2*time.Second + 10*time.Second // the push timeout and the margin of push.Config.Lease
	deadline := time.Now().Add(lease + 20*time.Second)
	for {
		seen := map[string]bool{}
		for _, h := range c.hook.received() {
			seen[h.MsgID] = true
		}
		var waiting int
		c.sql(`SELECT count(*) FROM outbox`, &waiting)
		if len(seen) >= n && waiting == 0 { // B's claims ended and A sent them
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pushes reached the webhook, %d still in the outbox", len(seen), n, waiting)
		}
		time.Sleep(100 * time.Millisecond) // other processes: nothing here to wait on
	}
	first := map[string]time.Time{}
	dups := 0
	for _, h := range c.hook.received() {
		if !sent[h.MsgID] || h.Token != "token-"+bob.number {
			t.Fatalf("a push nobody sent: %+v", h)
		}
		f, ok := first[h.MsgID]
		if !ok {
			first[h.MsgID] = h.at
			continue
		}
		dups++
		// The first went out from B just before its death; the second
		// only once the lease B took had ended.
		if f.After(killedAt) || f.Before(killedAt.Add(-lease)) || h.at.Before(f.Add(lease-2*time.Second)) {
			t.Errorf("push %s twice: at %v and %v, B killed at %v", h.MsgID, f, h.at, killedAt)
		}
	}
	t.Logf("%d pushes, %d sent twice (B killed with them in flight)", n, dups)
}

// leaseHolderPID is the pid in the janitor lease's holder ("host/pid/x"),
// 0 when none holds it.
func (c *cluster) leaseHolderPID() int {
	var holder string
	c.sql(`SELECT coalesce((SELECT holder FROM leases WHERE name = 'janitor' AND expires > now()), '')`, &holder)
	f := strings.Split(holder, "/")
	if len(f) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(f[len(f)-2])
	return pid
}

// waitHolder waits until the janitor's lease is held by a node other than
// not, and returns that node's pid and how long it took.
func (c *cluster) waitHolder(not int, limit time.Duration) (int, time.Duration) {
	c.t.Helper()
	start := time.Now()
	for {
		if pid := c.leaseHolderPID(); pid != 0 && pid != not {
			return pid, time.Since(start)
		}
		if time.Since(start) > limit {
			c.t.Fatalf("no node other than %d took the janitor's lease within %v", not, limit)
		}
		time.Sleep(50 * time.Millisecond) // other processes: nothing here to wait on
	}
}

// bucket opens the cluster's bucket as the nodes do.
func (c *cluster) bucket() *s3.Store {
	c.t.Helper()
	c.t.Setenv("AWS_ACCESS_KEY_ID", c.s3.AccessKey)
	c.t.Setenv("AWS_SECRET_ACCESS_KEY", c.s3.SecretKey)
	c.t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(c.t.TempDir(), "none"))
	objects, err := s3.Open(c.t.Context(), c.s3.URL())
	if err != nil {
		c.t.Fatal(err)
	}
	return objects
}

// objectSet is the names of the objects in the bucket.
func objectSet(t *testing.T, objects *s3.Store) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for obj, err := range objects.ListOlder(t.Context(), time.Now().Add(time.Hour)) {
		if err != nil {
			t.Fatal(err)
		}
		names[obj.Name] = true
	}
	return names
}

// lockNumber locks number's row, as a send to it does at its commit,
// until unlock: a send to number waits between its object's put and its
// commit.
func (c *cluster) lockNumber(number string) (unlock func()) {
	c.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close(ctx) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM numbers WHERE number = $1 FOR UPDATE`, number); err != nil {
		c.t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(ctx); err != nil {
			c.t.Fatal(err)
		}
	}
}

// waitFor polls cond, a state of other processes, until it holds; it
// fails after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond) // other processes: nothing here to wait on
	}
}

// fetchSum fetches msgid's data through cl as u and returns its SHA-256.
func fetchSum(t *testing.T, cl *client, u user, msgid string) [32]byte {
	t.Helper()
	_, data := cl.must(t, map[string]any{"req": "fetch", "uuid": u.uuid, "msgid": msgid}, nil)
	return sha256.Sum256(data)
}

// One node holds the janitor's lease; killed, another takes it within the
// lease and sweeps the bucket at once, with an orphan grace short enough
// that only what the sweep checks keeps the data of messages: a file
// committed longer than the grace ago (its data row) and a file whose send
// is in flight on the taking node, between its object's put and its
// commit (younger than the grace). An orphan object as old is deleted, so
// the sweep did run. Stopped with SIGTERM, the holder gives the lease up
// at once and answers its long-polls.
func TestTwoNodesJanitorLease(t *testing.T) {
	const lease, grace = 2 * time.Second, 6 * time.Second
	c := newCluster(t, 0, "-node-lease", lease.String(), "-orphan-grace", grace.String())
	procs := map[int]*proc{}
	for range 2 {
		p := c.node()
		procs[p.cmd.Process.Pid] = p
	}
	holder, _ := c.waitHolder(0, 2*lease)
	if procs[holder] == nil {
		t.Fatalf("the lease is held by pid %d, no node of ours", holder)
	}
	var survivor *proc
	for pid, p := range procs {
		if pid != holder {
			survivor = p
		}
	}
	holder = sweepOnTakeOver(t, c, procs[holder], survivor, lease, grace)
	next := c.node()
	procs = map[int]*proc{holder: survivor, next.cmd.Process.Pid: next}
	leaveGracefully(t, c, procs[holder], lease)
}

// sweepOnTakeOver kills the janitor's holder while a send to the survivor
// is in flight, and checks what the survivor's first sweep keeps; it
// returns the survivor's pid, the new holder.
func sweepOnTakeOver(t *testing.T, c *cluster, dying, survivor *proc, lease, grace time.Duration) int {
	sc := newClient(survivor.url)
	alice, bob := newUser(t, sc, "Alice"), newUser(t, sc, "Bob")
	objects := c.bucket()
	old := randomBytes(200_000) // sent through the node that dies
	sentOld, _ := newClient(dying.url).must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number,
		"fname": "old.bin", "length": len(old)}, old)
	const orphan = "orphan-of-no-send"
	if err := objects.Put(t.Context(), orphan, bytes.NewReader(old), int64(len(old))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(grace + 1100*time.Millisecond) // both older than the grace: object times have whole seconds

	unlock := c.lockNumber(bob.number)
	before := objectSet(t, objects)
	inFlight := randomBytes(300_000)
	sending := awaitSend(sc, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number,
		"fname": "new.bin", "length": len(inFlight)}, inFlight)
	waitFor(t, 10*time.Second, "the in-flight send's object in the bucket", func() bool { return len(objectSet(t, objects)) > len(before) })
	dying.kill(t)
	holder, took := c.waitHolder(dying.cmd.Process.Pid, 3*lease)
	t.Logf("janitor lease taken over %v after its holder was killed (lease %v)", took.Round(time.Millisecond), lease)
	// The hold ends at most a lease after the last renewal; the other
	// node tries every third of a lease; and a busy machine adds its own.
	if limit := lease + lease/3 + 2*time.Second; took > limit {
		t.Fatalf("take-over took %v, over the lease of %v, a renewal period and slack", took, lease)
	}
	waitFor(t, 15*time.Second, "the orphan deleted by the survivor's first sweep", func() bool { return !objectSet(t, objects)[orphan] })
	select {
	case r := <-sending:
		t.Fatalf("the send was answered (%v) before its number was unlocked: it was not in flight across the sweep", r.a)
	default:
	}
	unlock()
	r := <-sending
	if r.err != nil || r.a.code() != 10000 {
		t.Fatalf("the send held across the sweep: %v %v", r.a, r.err)
	}
	if fetchSum(t, sc, bob, sentOld.str("msgid")) != sha256.Sum256(old) {
		t.Fatal("the file committed before the grace: its data changed or lost after the sweep")
	}
	if fetchSum(t, sc, bob, r.a.str("msgid")) != sha256.Sum256(inFlight) {
		t.Fatal("the file in flight during the sweep: its data changed or lost")
	}
	return holder
}

// awaitSend runs a send with data through cl in the background.
func awaitSend(cl *client, head map[string]any, data []byte) <-chan answerAt {
	done := make(chan answerAt, 1)
	go func() {
		ans, _, err := cl.post(head, bytes.NewReader(data), int64(len(data)))
		done <- answerAt{ans, time.Now(), err}
	}()
	return done
}

// leaveGracefully sends SIGTERM to p, the janitor's holder: it answers a
// waiting long-poll at once and hands the lease over without waiting it
// out.
func leaveGracefully(t *testing.T, c *cluster, p *proc, lease time.Duration) {
	cl := newClient(p.url)
	u := newUser(t, cl, "Carol")
	poll := awaitAnswer(cl, map[string]any{"req": "get", "uuid": []string{u.uuid}, "wait": 30})
	time.Sleep(300 * time.Millisecond)
	stopAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ans := wokenWithin(t, poll, stopAt, 5*time.Second, "long-poll on a node told to stop")
	if msgs, _ := ans["messages"].([]any); len(msgs) != 0 {
		t.Fatalf("the stopping node's long-poll answered %v", ans)
	}
	_, took := c.waitHolder(p.cmd.Process.Pid, lease)
	t.Logf("janitor lease taken over %v after its holder got SIGTERM", took.Round(time.Millisecond))
	if took >= lease {
		t.Fatalf("after SIGTERM the lease was taken over in %v: not given up", took)
	}
}

// A login on A moves Bob's number to a new device, under a new name; B,
// which has Bob's uuid cached (as a callee by its gets, as a sender by
// his sends), follows. What B caches of a uuid is its number, which no
// request changes, so it cannot be stale; what the login changed, the
// device and the name, B reads from the store: a send through B pushes
// to the new device only, and Bob's send through B carries his new name.
func TestTwoNodesLoginMovesNumber(t *testing.T) {
	c := newCluster(t, 0)
	a, b := newClient(c.node().url), newClient(c.node().url)
	alice, bob := newUser(t, a, "Alice"), newUser(t, a, "Bob")
	takeAll(t, b, bob) // B caches Bob's uuid
	send := func(cl *client, from, to user, body string) string {
		ans, _ := cl.must(t, map[string]any{"req": "send", "uuid": from.uuid, "callee": to.number, "length": len(body)}, []byte(body))
		return ans.str("msgid")
	}
	pushesOf := func(msgid string) []string {
		var tokens []string
		waitFor(t, 15*time.Second, "a push of "+msgid, func() bool {
			tokens = nil
			for _, h := range c.hook.received() {
				if h.MsgID == msgid {
					tokens = append(tokens, h.Token)
				}
			}
			return len(tokens) > 0
		})
		return tokens
	}
	if got := pushesOf(send(b, alice, bob, "before")); !slices.Equal(got, []string{"token-" + bob.number}) {
		t.Fatalf("pushes before the move went to %q", got)
	}
	send(b, bob, alice, "as Bob") // B knows Bob as a sender too
	a.must(t, map[string]any{"req": "login", "appid": "test.app", "build": "1.0", "name": "Robert", "locale": "en",
		"token": "token-new-device", "uuid": []string{bob.uuid}}, nil)
	after := send(b, alice, bob, "after")
	time.Sleep(500 * time.Millisecond) // a second push, were one sent to the old device, has come too
	if got := pushesOf(after); !slices.Equal(got, []string{"token-new-device"}) {
		t.Fatalf("a send through B after the login on A pushed to %q, want the new device only", got)
	}
	if got := takeAll(t, b, bob); len(got) != 2 {
		t.Fatalf("B's get with its cached uuid: %d messages, want 2", len(got))
	}
	send(b, bob, alice, "as Robert")
	var names []any
	for _, m := range takeAll(t, b, alice) {
		names = append(names, m["caller_name"])
	}
	if !slices.Equal(names, []any{"Bob", "Robert"}) {
		t.Fatalf("Bob's sends through B before and after his login on A came as %v, want Bob, then Robert", names)
	}
}

// Both nodes killed and started again: every message sent through either
// and not yet taken is still there, its data whole.
func TestTwoNodesRestartKeepsUndelivered(t *testing.T) {
	c := newCluster(t, 0)
	pa, pb := c.node(), c.node()
	nodes := []*client{newClient(pa.url), newClient(pb.url)}
	alice, bob := newUser(t, nodes[0], "Alice"), newUser(t, nodes[1], "Bob")
	want := map[string][]byte{}
	for i := range 20 {
		data := []byte(fmt.Sprint("text ", i))
		head := map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number}
		if i%5 == 0 { // over the object threshold: in the bucket
			data, head["fname"] = randomBytes(100_000+i), "f.bin"
		}
		head["length"] = len(data)
		ans, _ := nodes[i%2].must(t, head, data)
		want[ans.str("msgid")] = data
	}
	pa.kill(t)
	pb.kill(t)
	again := []*client{newClient(c.node().url), newClient(c.node().url)}
	got := takeAll(t, again[1], bob)
	if len(got) != len(want) {
		t.Fatalf("%d messages after both nodes restarted, want %d", len(got), len(want))
	}
	for _, m := range got {
		id := m["msgid"].(string)
		data, ok := want[id]
		if !ok {
			t.Fatalf("message %s was never sent", id)
		}
		if text, ok := m["text"].(string); ok {
			if text != string(data) {
				t.Fatalf("message %s: %q, want %q", id, text, data)
			}
			continue
		}
		_, fetched := again[0].must(t, map[string]any{"req": "fetch", "uuid": bob.uuid, "msgid": id}, nil)
		if !bytes.Equal(fetched, data) {
			t.Fatalf("message %s: fetched %d bytes differing from the %d sent", id, len(fetched), len(data))
		}
	}
}

// scrape reads a node's /metrics: each series (name and labels) to its
// value.
func (p *proc) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, p.adminURL(t)+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", code)
	}
	out := map[string]float64{}
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// probe posts head through cl and returns the answer's code and its
// Retry-After.
func probe(t *testing.T, cl *client, head map[string]any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(head)
	req, err := http.NewRequest(http.MethodPost, cl.url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = cl.header.Clone()
	resp, err := cl.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a.code(), resp.Header.Get("Retry-After")
}

// admittedAcross sends head from one client address alternately through
// the nodes, pace apart, until each node has refused it twice in a row,
// and returns how many were admitted: any answer but 10009. A refusal
// must carry a Retry-After.
func admittedAcross(t *testing.T, nodes []*client, head map[string]any, pace time.Duration, most int) int {
	t.Helper()
	admitted, refusedInRow := 0, 0
	for i := 0; refusedInRow < 2*len(nodes); i++ {
		if i > most {
			t.Fatalf("%d of %d requests admitted and still no refusal from both nodes", admitted, i)
		}
		code, retry := probe(t, nodes[i%len(nodes)], head)
		if code != 10009 {
			admitted++
			refusedInRow = 0
		} else if n, _ := strconv.Atoi(retry); n < 1 {
			t.Fatalf("10009 with Retry-After %q", retry)
		} else {
			refusedInRow++
		}
		time.Sleep(pace)
	}
	return admitted
}

// A client whose requests the balancer spreads over both nodes is held to
// one limit across them, not one per node: each node takes what the other
// admitted from its own buckets. Over the limit, at most: for registers,
// those a node admits while the other's message is on its way; for
// requests, from the other node, a sixteenth of the burst (less one) and
// what it admits in one share interval (250 ms) and a message's way.
// Per-node limits admit twice the limit here.
func TestTwoNodesRateLimits(t *testing.T) {
	const registers, requests = 10, 30 // refilled per hour: nothing in the test's time
	c := newCluster(t, 0, "-rate-exempt", "none", "-trusted-proxies", "127.0.0.1", "-admin-listen", "127.0.0.1:0",
		"-register-rate", fmt.Sprint(registers, "/h"), "-request-rate", fmt.Sprint(requests, "/h"))
	pa, pb := c.node(), c.node()
	from := func(addr string) []*client {
		nodes := []*client{newClient(pa.url), newClient(pb.url)}
		for _, n := range nodes {
			n.header = http.Header{"X-Forwarded-For": {addr}}
		}
		return nodes
	}
	before := [2]map[string]float64{pa.scrape(t), pb.scrape(t)}

	got := admittedAcross(t, from("198.51.100.1"), map[string]any{"req": "register"}, 0, 4*registers)
	t.Logf("registers admitted across both nodes: %d, limit %d", got, registers)
	if got < registers || got > registers+2 {
		t.Fatalf("%d registers admitted across both nodes, want %d and at most 2 the nodes had not yet heard of", got, registers)
	}

	const pace = 150 * time.Millisecond // each node sees one request every 300 ms
	shareAt := (requests + 15) / 16
	// 3: what one node admits at this pace in a share interval and its
	// message's way, allowing 900 ms for both on a busy machine.
	bound := shareAt - 1 + 3
	badLogin := map[string]any{"req": "login", "appid": "test.app", "build": "1.0", "name": "Al", "locale": "en",
		"token": "t", "uuid": []string{"00000000-0000-4000-8000-000000000000"}}
	got = admittedAcross(t, from("198.51.100.2"), badLogin, pace, 4*requests)
	t.Logf("requests admitted across both nodes: %d, limit %d, bound %d over", got, requests, bound)
	if got < requests || got > requests+bound {
		t.Fatalf("%d requests admitted across both nodes, want %d and at most %d more", got, requests, bound)
	}

	// Every share sent was heard: the last ones may still be on their way.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after := [2]map[string]float64{pa.scrape(t), pb.scrape(t)}
		var problems []string
		for i, name := range []string{"A", "B"} {
			sent := after[i]["ringd_pgnotify_messages_sent_total"] - before[i]["ringd_pgnotify_messages_sent_total"]
			heard := after[1-i]["ringd_pgnotify_messages_received_total"] - before[1-i]["ringd_pgnotify_messages_received_total"]
			if sent < 1 || heard != sent {
				problems = append(problems, fmt.Sprintf("node %s sent %v rate-limit shares, the other heard %v", name, sent, heard))
			}
			if refused := after[i][`ringd_rate_limited_total{limit="request"}`]; refused < 2 {
				problems = append(problems, fmt.Sprintf("node %s counted %v requests refused", name, refused))
			}
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(strings.Join(problems, "; "))
		}
	}
}
