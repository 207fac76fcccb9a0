// Package ringtest runs a real ringd server for tests: a real SQLite file
// and blob directory under t.TempDir(), or a fresh database on the test
// PostgreSQL server (engine.go), served over real HTTP on loopback, with a
// clock the test can move. Tests of every package use it so that they all
// go through the same path a phone does.
package ringtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/server"
	"github.com/ringd/ringd/internal/store/sqlite"
)

// Clock is a settable clock; its zero value reads the real time until Set.
type Clock struct {
	mu sync.Mutex // guards the following
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

// Set fixes the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d (from the real time, if never set).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		c.t = time.Now()
	}
	c.t = c.t.Add(d)
}

// Server is a running test server.
type Server struct {
	URL    string // POST requests here
	Dir    string // the data directory
	Clock  *Clock
	Server *server.Server
	// Store is the engine the server serves from; DB and Arena are set
	// when it is SQLite (Engine() == "sqlite"), nil otherwise.
	Store Engine
	DB    *sqlite.DB
	Arena *blob.Arena // the store's: data from store.TextMax to ArenaMax
	HTTP  *httptest.Server
	Push  *push.Dispatcher // nil unless started by NewPushAt
	// MetricsURL is GET /metrics on Admin, which serves the server's
	// AdminHandler as ringd's -admin-listen does, apart from the protocol.
	MetricsURL string
	Admin      *httptest.Server
}

// ArenaMax is the largest data a test server keeps in its arena; larger
// data is a file of its own.
const ArenaMax = sqlite.DefaultArenaMax

// TestArenaChunk is the chunk size of a test server's arena.
const TestArenaChunk = 4 << 20

// NewConfig returns a Config for a test server, with a fresh clock.
func NewConfig(t testing.TB) server.Config {
	return server.Config{Clock: &Clock{}, Logger: testLogger(t)}
}

// New starts a server with cfg (whose Clock, if a *Clock, is kept), closed
// when the test ends.
func New(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	dir := t.TempDir()
	return NewAt(t, cfg, dir)
}

// NewAt starts a server on an existing data directory.
func NewAt(t testing.TB, cfg server.Config, dir string) *Server {
	t.Helper()
	return NewPushAt(t, cfg, dir, nil)
}

// Push runs a real push dispatcher beside a test server.
type Push struct {
	Config push.Config
	// HTTPClient carries the providers' requests: a client that trusts
	// the test's fake APNs, FCM or webhook servers.
	HTTPClient *http.Client
}

// NewPushAt starts a server on an existing data directory, with a push
// dispatcher for p (none if p is nil) that shares its clock.
func NewPushAt(t testing.TB, cfg server.Config, dir string, p *Push) *Server {
	t.Helper()
	clock, ok := cfg.Clock.(*Clock)
	if !ok {
		clock = &Clock{}
		cfg.Clock = clock
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	var srv *server.Server // made below, once the store is open
	maxGet := cfg.MaxGet
	if maxGet <= 0 {
		maxGet = server.DefaultMaxGet
	}
	st, db, err := openEngine(t, dir, maxGet, func(n int64) error { return srv.RoomForFile(n) })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir == "" && db != nil {
		cfg.DataDir = dir // as ringd: sends watch the room left there
	}
	var disp *push.Dispatcher
	if p != nil {
		disp, err = push.New(p.Config, st, push.Options{Clock: clock, Logger: cfg.Logger, HTTPClient: p.HTTPClient})
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		cfg.Pusher = disp
	}
	srv = server.New(cfg, st)
	if disp != nil {
		disp.Start()
	}
	// The background work runs as in ringd: call timeouts, expiry.
	srv.Start()
	// Served as ringd serves it (cmd/ringd): connections that can hold
	// their background read (server.Listener).
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener = server.Listener(hs.Listener)
	hs.Config.ConnContext = server.ConnContext
	hs.Config.ReadTimeout = srv.ReadTimeout() // the pace of request bodies (server/pace.go)
	hs.Start()
	admin := httptest.NewServer(srv.AdminHandler())
	s := &Server{URL: hs.URL + "/", Dir: dir, Clock: clock, Server: srv, Store: st, DB: db, HTTP: hs, Push: disp,
		MetricsURL: admin.URL + "/metrics", Admin: admin}
	if db != nil {
		s.Arena = db.Arena()
	}
	t.Cleanup(s.Close)
	return s
}

var closeOnce sync.Map

// Close stops the server and closes its store; safe to call twice.
func (s *Server) Close() {
	if _, done := closeOnce.LoadOrStore(s, true); done {
		return
	}
	s.Server.Close()
	s.HTTP.Close()
	s.Admin.Close()
	if s.Push != nil {
		s.Push.Close() // before the store it writes to
	}
	s.Store.Close()
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("RINGD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Answer is a decoded JSON answer.
type Answer map[string]any

// Code is the answer's "answer" field.
func (a Answer) Code() int {
	f, _ := a["answer"].(float64)
	return int(f)
}

// Str is a string field of the answer ("" if absent).
func (a Answer) Str(k string) string {
	s, _ := a[k].(string)
	return s
}

// Body builds a request body: the head as JSON, then, if data is not nil, a
// NUL and the data.
func Body(head any, data []byte) []byte {
	b, err := json.Marshal(head)
	if err != nil {
		panic(err)
	}
	if data != nil {
		b = append(b, 0)
		b = append(b, data...)
	}
	return b
}

// PostRaw POSTs body and returns the HTTP response's status, JSON head and
// data after the NUL (nil when none).
func (s *Server) PostRaw(t testing.TB, body []byte) (int, Answer, []byte) {
	t.Helper()
	resp, err := http.Post(s.URL, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	CheckExchange(t, body, raw)
	head, data := raw, []byte(nil)
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		head, data = raw[:i], raw[i+1:]
	}
	var a Answer
	if err := json.Unmarshal(head, &a); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	return resp.StatusCode, a, data
}

// Post sends head (and data, if not nil) and returns the answer and its data.
func (s *Server) Post(t testing.TB, head any, data []byte) (Answer, []byte) {
	t.Helper()
	status, a, d := s.PostRaw(t, Body(head, data))
	if status != http.StatusOK {
		t.Fatalf("HTTP status %d", status)
	}
	return a, d
}

// Must posts and fails the test unless the answer is 10000.
func (s *Server) Must(t testing.TB, head any, data []byte) (Answer, []byte) {
	t.Helper()
	a, d := s.Post(t, head, data)
	if a.Code() != 10000 {
		t.Fatalf("%v: answer %v", head, a)
	}
	return a, d
}

// User is a registered number with its uuid and device token.
type User struct {
	Number string
	UUID   string
	Token  string
}

var userSeq struct {
	sync.Mutex
	n int
}

// Register registers a random number and returns it.
func (s *Server) Register(t testing.TB) User {
	t.Helper()
	a, _ := s.Must(t, map[string]any{"req": "register"}, nil)
	return User{Number: a.Str("number"), UUID: a.Str("uuid")}
}

// User registers a number and logs it in on a device of its own.
func (s *Server) User(t testing.TB, name string) User {
	t.Helper()
	u := s.Register(t)
	userSeq.Lock()
	userSeq.n++
	u.Token = fmt.Sprintf("token-%s-%d", u.Number, userSeq.n)
	userSeq.Unlock()
	s.Login(t, u.Token, name, u.UUID)
	return u
}

// Login binds uuids to token with valid device fields.
func (s *Server) Login(t testing.TB, token, name string, uuids ...string) Answer {
	t.Helper()
	if uuids == nil {
		uuids = []string{}
	}
	a, _ := s.Must(t, map[string]any{"req": "login", "appid": "test.app", "build": "1.0", "name": name,
		"locale": "en_US", "token": token, "uuid": uuids}, nil)
	return a
}

// Send sends a text and returns the answer (any code).
func (s *Server) Send(t testing.TB, from User, to, text string) Answer {
	t.Helper()
	a, _ := s.Post(t, map[string]any{"req": "send", "uuid": from.UUID, "callee": to, "length": len(text)}, []byte(text))
	return a
}

// Get fetches the undelivered messages of u.
func (s *Server) Get(t testing.TB, u ...User) []map[string]any {
	t.Helper()
	uuids := make([]string, len(u))
	for i := range u {
		uuids[i] = u[i].UUID
	}
	a, _ := s.Must(t, map[string]any{"req": "get", "uuid": uuids}, nil)
	return Messages(a)
}

// Messages returns the messages of a get or history answer.
func Messages(a Answer) []map[string]any {
	list, _ := a["messages"].([]any)
	out := make([]map[string]any, len(list))
	for i, m := range list {
		out[i], _ = m.(map[string]any)
	}
	return out
}

// ArenaSpace is the bytes of the store's arena and those free in it, as
// /metrics shows them.
func (s *Server) ArenaSpace(t testing.TB) (size, free int64) {
	t.Helper()
	NeedSQLite(t) // the arena is the SQLite engine's
	resp, err := http.Get(s.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	size, free = -1, -1
	for _, line := range strings.Split(string(b), "\n") {
		var v float64
		if _, err := fmt.Sscanf(line, "ringd_arena_size_bytes %g", &v); err == nil {
			size = int64(v)
		}
		if _, err := fmt.Sscanf(line, "ringd_arena_free_bytes %g", &v); err == nil {
			free = int64(v)
		}
	}
	if size < 0 || free < 0 {
		t.Fatal("no arena gauges on /metrics")
	}
	return size, free
}
