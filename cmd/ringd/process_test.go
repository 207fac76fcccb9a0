package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/testsrv"
)

// These tests run the real binary: built with go build, started on a free
// port with a data directory of its own, and killed or measured as a
// process. They are what a user gets from "go run ./cmd/ringd".

var buildOnce struct {
	sync.Once
	bin string
	err error
	dir string
}

// ringdBinary builds cmd/ringd once per test run.
func ringdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ringd-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.dir = dir
		buildOnce.bin = filepath.Join(dir, "ringd")
		// -buildvcs=auto stamps the checkout's commit, as a user's build
		// does, even where GOFLAGS turns it off for the machine.
		out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", buildOnce.bin, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.dir != "" {
		os.RemoveAll(buildOnce.dir)
	}
	os.Exit(code)
}

// proc is a running ringd.
type proc struct {
	cmd *exec.Cmd
	url string
	log *bytes.Buffer
	mu  *sync.Mutex // guards log
}

var addrRE = regexp.MustCompile(`msg="ringd serving" addr=(\S+)`)

// startRingd starts the binary on dir, listening on a free port, and waits
// until it serves.
func startRingd(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	bin := ringdBinary(t)
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-data", dir}, args...)...)
	cmd.Env = os.Environ()
	return startCmd(t, cmd, nil)
}

// startCmd starts cmd, a ringd listening on a free port, with start
// (cmd.Start when nil), and waits until it serves.
func startCmd(t *testing.T, cmd *exec.Cmd, start func() error) *proc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if start == nil {
		start = cmd.Start
	}
	if err := start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := addrRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Fatalf("ringd exited before serving:\n%s", p.log)
		}
		p.url = "http://" + a + "/"
	case <-time.After(60 * time.Second):
		t.Fatal("ringd did not start serving")
	}
	return p
}

// kill ends the process with SIGKILL: no shutdown, no flush.
func (p *proc) kill(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

// vmHWM is the process's peak resident set, in bytes.
func (p *proc) vmHWM(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// client is a plain HTTP client of the protocol; a fresh transport per
// test, so no connection outlives a killed server.
type client struct {
	url    string
	hc     *http.Client
	header http.Header // sent with every request, when set
}

type answer map[string]any

func (a answer) code() int           { f, _ := a["answer"].(float64); return int(f) }
func (a answer) str(k string) string { s, _ := a[k].(string); return s }

// post sends head, NUL and data (when data is not nil), and returns the
// head of the answer and its data.
func (c *client) post(head map[string]any, data io.Reader, length int64) (answer, []byte, error) {
	h, err := json.Marshal(head)
	if err != nil {
		return nil, nil, err
	}
	var body io.Reader = bytes.NewReader(h)
	size := int64(len(h))
	if data != nil {
		body = io.MultiReader(body, bytes.NewReader([]byte{0}), data)
		size += 1 + length
	}
	req, err := http.NewRequest(http.MethodPost, c.url, body)
	if err != nil {
		return nil, nil, err
	}
	req.ContentLength = size
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	head2, rest := raw, []byte(nil)
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		head2, rest = raw[:i], raw[i+1:]
	}
	var a answer
	if err := json.Unmarshal(head2, &a); err != nil {
		return nil, nil, fmt.Errorf("answer %q: %v", raw, err)
	}
	return a, rest, nil
}

func (c *client) must(t *testing.T, head map[string]any, data []byte) (answer, []byte) {
	t.Helper()
	var r io.Reader
	if data != nil {
		r = bytes.NewReader(data)
	}
	a, d, err := c.post(head, r, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if a.code() != 10000 {
		t.Fatalf("%v: %v", head["req"], a)
	}
	return a, d
}

func newClient(url string) *client {
	return &client{url: url, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 2 * time.Minute}}
}

type user struct{ number, uuid string }

func newUser(t *testing.T, c *client, name string) user {
	t.Helper()
	a, _ := c.must(t, map[string]any{"req": "register"}, nil)
	u := user{a.str("number"), a.str("uuid")}
	c.must(t, map[string]any{"req": "login", "appid": "test.app", "build": "1.0", "name": name, "locale": "en",
		"token": "token-" + u.number, "uuid": []string{u.uuid}}, nil)
	return u
}

// TestKillNineKeepsAcknowledgedSends sends from many goroutines, kills the
// server with SIGKILL the moment the last counted send is acknowledged
// (others still in flight), restarts it on the same directory, and finds
// every acknowledged message with its exact data, once.
func TestKillNineKeepsAcknowledgedSends(t *testing.T) {
	dir := t.TempDir()
	killNine(t, func() *proc { return startRingd(t, dir) }, nil)
}

// The same on PostgreSQL with an object store taking files over 8 KiB:
// after the restart, each such file's object is also read from the bucket
// itself and compared by SHA-256.
func TestKillNineKeepsAcknowledgedSendsOnPostgres(t *testing.T) {
	ringdBinary(t)
	database := testsrv.Postgres(t)
	objects := testsrv.StartS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", objects.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", objects.SecretKey)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	dir := t.TempDir()
	start := func() *proc {
		return startRingd(t, dir, "-database", database, "-object-store", objects.URL(), "-object-threshold", "8192")
	}
	killNine(t, start, func(uri string, want []byte) {
		if len(want) <= 8192 {
			return // in PostgreSQL
		}
		got, err := os.ReadFile(filepath.Join(objects.Dir, objects.Bucket, uri))
		if err != nil {
			t.Fatalf("object of a file of %d bytes: %v", len(want), err)
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("object %s differs from the file sent (%d bytes, want %d)", uri, len(got), len(want))
		}
	})
}

// killNine is the kill -9 test on the ringd start runs (and runs again on
// the same store); inBucket, if set, checks an acknowledged file's data
// where its engine keeps it, by its uri.
func killNine(t *testing.T, start func() *proc, inBucket func(uri string, want []byte)) {
	p := start()
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")

	const goal = 240
	var mu sync.Mutex // guards the following
	acked := map[string][]byte{}
	killed := false

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				var data []byte
				head := map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number}
				if i%5 == 4 { // a file over 4 KiB: goes through a data file
					data = make([]byte, 4097+rand.IntN(20000))
					for j := range data {
						data[j] = byte(rand.Uint32())
					}
					head["fname"] = "f.bin"
				} else {
					data = []byte(fmt.Sprintf("text %d-%d %s", g, i, strings.Repeat("é", rand.IntN(300))))
				}
				head["length"] = len(data)
				a, _, err := c.post(head, bytes.NewReader(data), int64(len(data)))
				mu.Lock()
				if err != nil || killed {
					if err == nil && a.code() == 10000 { // acknowledged as the kill came
						acked[a.str("msgid")] = data
					}
					mu.Unlock()
					return
				}
				if a.code() != 10000 {
					mu.Unlock()
					t.Errorf("send: %v", a)
					return
				}
				acked[a.str("msgid")] = data
				if len(acked) >= goal {
					killed = true
					p.kill(t) // right after the last counted acknowledgement
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if !killed {
		t.Fatal("the server was never killed")
	}

	p2 := start()
	c2 := newClient(p2.url)
	found := map[string]bool{}
	for page := 0; ; page++ {
		a, _ := c2.must(t, map[string]any{"req": "get", "uuid": []string{bob.uuid}}, nil)
		msgs, _ := a["messages"].([]any)
		for _, mm := range msgs {
			m := mm.(map[string]any)
			id := m["msgid"].(string)
			if found[id] {
				t.Fatalf("message %s answered twice", id)
			}
			found[id] = true
			want, ok := acked[id]
			if !ok {
				continue // stored but its answer was lost in the kill: allowed
			}
			if m["length"] != float64(len(want)) {
				t.Fatalf("message %s: length %v, want %d", id, m["length"], len(want))
			}
			if text, ok := m["text"].(string); ok {
				if text != string(want) {
					t.Fatalf("message %s: text differs", id)
				}
				continue
			}
			_, got := c2.must(t, map[string]any{"req": "fetch", "uuid": bob.uuid, "msgid": id}, nil)
			if sha256.Sum256(got) != sha256.Sum256(want) {
				t.Fatalf("message %s: fetched data differs (%d bytes, want %d)", id, len(got), len(want))
			}
			if inBucket != nil {
				inBucket(m["uri"].(string), want)
			}
		}
		if a["more"] != true {
			break
		}
		if page > 100 {
			t.Fatal("get never ends")
		}
	}
	for id := range acked {
		if !found[id] {
			t.Errorf("acknowledged message %s lost in the kill", id)
		}
	}
	t.Logf("%d acknowledged, %d found after restart", len(acked), len(found))

	// Files up to 1 MiB live in the arena, rebuilt at start from the
	// database: files sent now must take no space the acknowledged ones
	// hold (what the killed sends wrote without committing is free).
	for range 20 {
		data := make([]byte, 4097+rand.IntN(60000))
		for j := range data {
			data[j] = byte(rand.Uint32())
		}
		a, _ := c2.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": len(data), "fname": "g.bin"}, data)
		acked[a.str("msgid")] = data
	}
	for id, want := range acked {
		if len(want) <= 4096 {
			continue // a text, in its message row
		}
		_, got := c2.must(t, map[string]any{"req": "fetch", "uuid": bob.uuid, "msgid": id}, nil)
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("message %s: fetched data differs after more sends (%d bytes, want %d)", id, len(got), len(want))
		}
	}
}

// patterned is n bytes of a fixed pattern, generated as read: the test
// never holds the data either.
type patterned struct{ off, n int64 }

func (p *patterned) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x*2654435761>>13) ^ byte(x)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func TestStreamingMemory(t *testing.T) {
	p := startRingd(t, t.TempDir())
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")
	// Warm up: a 1 MiB send and its fetch, so the baseline holds what any
	// request costs.
	warm := bytes.Repeat([]byte("w"), 1<<20)
	c.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": len(warm), "fname": "w.bin"}, warm)
	a, _ := c.must(t, map[string]any{"req": "get", "uuid": []string{bob.uuid}}, nil)
	c.must(t, map[string]any{"req": "fetch", "uuid": bob.uuid, "msgid": a["messages"].([]any)[0].(map[string]any)["msgid"]}, nil)
	before := p.vmHWM(t)

	const size = 60 << 20
	a, _, err := c.post(map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": size, "fname": "big.bin"},
		&patterned{n: size}, size)
	if err != nil || a.code() != 10000 {
		t.Fatalf("60 MiB send: %v %v", a, err)
	}
	after := p.vmHWM(t)
	t.Logf("peak RSS %d MiB before, %d MiB after a 60 MiB send", before>>20, after>>20)
	if after-before >= 32<<20 {
		t.Fatalf("a 60 MiB send grew the peak RSS by %d MiB, want under 32", (after-before)>>20)
	}

	// The data is all there: fetched in a stream and hashed.
	h, _ := json.Marshal(map[string]any{"req": "fetch", "uuid": bob.uuid, "msgid": a.str("msgid")})
	resp, err := c.hc.Post(c.url, "application/json", bytes.NewReader(h))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadBytes(0); err != nil {
		t.Fatal(err)
	}
	got, want := sha256.New(), sha256.New()
	n, _ := io.Copy(got, br)
	io.Copy(want, &patterned{n: size})
	if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("fetched %d bytes, hash differs or size wrong", n)
	}
}

// TestOverLengthRefusedBeforeData: with -max-length, a send declaring more
// is answered 10002 while the client has sent its head and not one byte of
// data.
func TestOverLengthRefusedBeforeData(t *testing.T) {
	p := startRingd(t, t.TempDir(), "-max-length", "1048576")
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")
	head, _ := json.Marshal(map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": 1<<20 + 1, "fname": "x.bin"})
	host := strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s\x00", host, len(head)+1+1<<20+1, head)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the data is unsent: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `{"answer":10002,"error":"format error","detail":"length: at most 1048576 bytes on this server"}` {
		t.Fatalf("answer %s", b)
	}
	// At the limit it is taken.
	data := bytes.Repeat([]byte("z"), 1<<20)
	c.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": len(data), "fname": "x.bin"}, data)
}

// waitLog waits until the process has logged a line holding s.
func (p *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		ok := strings.Contains(p.log.String(), s)
		p.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ringd never logged %q", s)
		}
		time.Sleep(5 * time.Millisecond) // a log line from another process: nothing to wait on but the pipe
	}
}

// TestSIGTERMFinishesRequestsInFlight: a send whose data is still coming
// when SIGTERM arrives is finished and acknowledged, the process exits 0,
// and the message is there after a restart.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	dir := t.TempDir()
	p := startRingd(t, dir)
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")
	text := "sent across the shutdown"
	head, _ := json.Marshal(map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": len(text)})
	host := strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// A connection the server has not accepted yet would be reset when
	// shutdown closes the listener: make the server take this one with a
	// first, whole request, then start the second and leave its data unsent.
	ping := []byte(`{"req":"get","uuid":["` + bob.uuid + `"]}`)
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s", host, len(ping), ping)
	first, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, first.Body)
	first.Body.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s\x00", host, len(head)+1+len(text), head)
	// Let the server read the second request's head, so the connection is
	// busy with a request (not idle) when the shutdown begins.
	time.Sleep(200 * time.Millisecond)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "shutting down")
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight was not answered: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil || a.code() != 10000 {
		t.Fatalf("send across SIGTERM: %s", b)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("ringd exit after SIGTERM: %v", err)
	}

	p2 := startRingd(t, dir)
	c2 := newClient(p2.url)
	got, _ := c2.must(t, map[string]any{"req": "get", "uuid": []string{bob.uuid}}, nil)
	msgs, _ := got["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["text"] != text || msgs[0].(map[string]any)["msgid"] != a.str("msgid") {
		t.Fatalf("after restart: %v", got)
	}
}
