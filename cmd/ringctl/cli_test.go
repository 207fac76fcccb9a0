package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// device is one ringctl user: a config file of its own, as on its own
// machine, talking to one server.
type cliUser struct {
	t      *testing.T
	server string
	config string
	number string
	uuid   string
}

// result is one ringctl run.
type result struct {
	stdout, stderr string
	code           int
}

func newCLIUser(t *testing.T, server string) *cliUser {
	return &cliUser{t: t, server: server, config: filepath.Join(t.TempDir(), "ringctl.json")}
}

// run runs ringctl in process with this user's config.
func (u *cliUser) run(args ...string) result {
	u.t.Helper()
	var stdout, stderr bytes.Buffer
	env := env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		switch k {
		case "RINGCTL_CONFIG":
			return u.config
		case "USER":
			return "tester"
		}
		return ""
	}}
	code := run(context.Background(), append([]string{"-server", u.server}, args...), env)
	return result{stdout.String(), stderr.String(), code}
}

// must runs ringctl and fails the test unless it exits 0.
func (u *cliUser) must(args ...string) result {
	u.t.Helper()
	r := u.run(args...)
	if r.code != 0 {
		u.t.Fatalf("ringctl %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

var registeredRE = regexp.MustCompile(`(?m)^registered (\d+)\nuuid ([0-9a-f-]{36})$`)

// register registers a number and logs in as name.
func (u *cliUser) register(name string) {
	u.t.Helper()
	r := u.must("register")
	m := registeredRE.FindStringSubmatch(r.stdout)
	if m == nil {
		u.t.Fatalf("register printed %q", r.stdout)
	}
	u.number, u.uuid = m[1], m[2]
	u.must("login", "-name", name)
}

var msgidRE = regexp.MustCompile(`msgid (\S+)`)

func msgidOf(t *testing.T, r result) string {
	t.Helper()
	m := msgidRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no msgid in %q", r.stdout)
	}
	return m[1]
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCLIAgainstServer drives ringctl through a whole conversation against a
// real ringd (SQLite and blob files in a temp dir, real HTTP on loopback).
func TestCLIAgainstServer(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := newCLIUser(t, s.URL), newCLIUser(t, s.URL)
	alice.register("Alice")
	bob.register("Bob")
	uuids := []string{alice.uuid, bob.uuid}
	var outputs []result // every output but register's, checked for uuids at the end

	// The config keeps the uuid, privately.
	st, err := os.Stat(alice.config)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(alice.config); !bytes.Contains(b, []byte(alice.uuid)) {
		t.Error("config does not hold the uuid")
	}

	// A text, words joined.
	r := alice.must("send", bob.number, "hello", "bob")
	outputs = append(outputs, r)
	textID := msgidOf(t, r)

	r = bob.must("get")
	outputs = append(outputs, r)
	if !strings.Contains(r.stdout, "    hello bob\n") || !strings.Contains(r.stdout, alice.number+" (Alice)") ||
		!strings.Contains(r.stdout, "["+textID+"]") {
		t.Errorf("get printed %q", r.stdout)
	}
	if r = bob.must("get"); !strings.Contains(r.stdout, "no new messages") {
		t.Errorf("second get printed %q", r.stdout)
	}

	// A file, with the flag after the number.
	data := randomBytes(t, 300<<10)
	src := filepath.Join(t.TempDir(), "photo.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r = alice.must("send", bob.number, "-file", src)
	outputs = append(outputs, r)
	fileID := msgidOf(t, r)

	r = bob.must("-json", "get")
	outputs = append(outputs, r)
	var got struct {
		Answer   int `json:"answer"`
		Messages []struct {
			MsgID  string `json:"msgid"`
			Fname  string `json:"fname"`
			Length int64  `json:"length"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("get -json printed %q: %v", r.stdout, err)
	}
	if got.Answer != 10000 || len(got.Messages) != 1 || got.Messages[0].MsgID != fileID ||
		got.Messages[0].Fname != "photo.bin" || got.Messages[0].Length != int64(len(data)) {
		t.Errorf("get -json: %+v", got)
	}

	dst := filepath.Join(t.TempDir(), "out.bin")
	r = bob.must("fetch", fileID, "-o", dst)
	outputs = append(outputs, r)
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
		t.Errorf("fetched %d bytes, not the %d sent", len(b), len(data))
	}

	// Resume: a partial file is completed from its size.
	part := filepath.Join(t.TempDir(), "part.bin")
	os.WriteFile(part, data[:12345], 0o644)
	outputs = append(outputs, bob.must("fetch", "-c", fileID, "-o", part))
	if b, _ := os.ReadFile(part); !bytes.Equal(b, data) {
		t.Errorf("resumed fetch gave %d bytes, not the %d sent", len(b), len(data))
	}

	// Receipts.
	outputs = append(outputs, bob.must("read", fileID))
	r = alice.must("status", textID, fileID)
	outputs = append(outputs, r)
	if !strings.Contains(r.stdout, textID+"  delivered\n") || !strings.Contains(r.stdout, fileID+"  read\n") {
		t.Errorf("status printed %q", r.stdout)
	}

	// History shows both again, with their states, and marks nothing.
	r = bob.must("history")
	outputs = append(outputs, r)
	if !strings.Contains(r.stdout, "["+textID+"] delivered") || !strings.Contains(r.stdout, "["+fileID+"] read") {
		t.Errorf("history printed %q", r.stdout)
	}

	// A text too long to be inlined is fetched to stdout (a pipe here).
	long := strings.Repeat("long text ", 500)
	longID := msgidOf(t, alice.must("send", bob.number, long))
	r = bob.must("get")
	if !strings.Contains(r.stdout, "ringctl fetch "+longID+" -o -") {
		t.Errorf("get of a long text printed %q", r.stdout)
	}
	if r = bob.must("fetch", longID); r.stdout != long {
		t.Errorf("fetch to stdout printed %d bytes", len(r.stdout))
	}

	// sends: one in use, one not.
	r = alice.must("sends", bob.number+",99999999", "to all")
	outputs = append(outputs, r)
	if !strings.Contains(r.stdout, "sent to "+bob.number+": msgid ") || !strings.Contains(r.stderr, "not in use: 99999999") {
		t.Errorf("sends printed %q / %q", r.stdout, r.stderr)
	}

	// A second number of alice's acts with -as.
	alice2 := regexp.MustCompile(`registered (\d+)`).FindStringSubmatch(alice.must("register").stdout)[1]
	alice.must("login")
	outputs = append(outputs, alice.must("-as", alice2, "send", bob.number, "from", "two"))
	r = bob.must("get")
	if !strings.Contains(r.stdout, alice2+" (Alice)") || !strings.Contains(r.stdout, "from two") {
		t.Errorf("get after -as send printed %q", r.stdout)
	}
	r = alice.must("numbers")
	outputs = append(outputs, r)
	if !strings.Contains(r.stdout, alice.number+"  "+s.URL+"  (commands act as this one unless -as names another)\n") ||
		!strings.Contains(r.stdout, alice2+"  "+s.URL+"\n") {
		t.Errorf("numbers printed %q", r.stdout)
	}

	// Error answers: exit 1, the text and code on stderr.
	for _, tt := range []struct {
		user *cliUser
		args []string
		want string
	}{
		// The server's detail follows the code.
		{bob, []string{"fetch", "424242", "-o", filepath.Join(t.TempDir(), "x")}, "msgid error (10013): msgid: not a message to or from you"},
		{alice, []string{"send", "99999999", "hi"}, "callee number not in use (10011): callee: not registered"},
		{alice, []string{"status", "424242"}, "msgid error (10013): msgid: "},
		{alice, []string{"send", "12", "hi"}, "format error (10002): callee: a string of 3 to 15 digits"},
	} {
		r := tt.user.run(tt.args...)
		outputs = append(outputs, r)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
	// -json prints the error answer itself for scripts.
	r = bob.run("-json", "read", "424242")
	if r.code != 1 || strings.TrimSpace(r.stdout) != `{"answer":10013,"error":"msgid error","detail":"msgid: not a message to or from you, or expired"}` {
		t.Errorf("read -json of a bad msgid: exit %d, stdout %q", r.code, r.stdout)
	}

	// Usage errors: exit 2.
	for _, args := range [][]string{{"send"}, {"send", bob.number}, {"frobnicate"}, {"send", bob.number, "hi", "-file", src}} {
		if r := alice.run(args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}

	// Logout unbinds: mail to alice is then refused.
	outputs = append(outputs, alice.must("logout"))
	if r := bob.run("send", alice.number, "are you there"); r.code != 1 || !strings.Contains(r.stderr, "10011") {
		t.Errorf("send to a logged-out number: exit %d %q", r.code, r.stderr)
	}

	for _, r := range outputs {
		for _, u := range uuids {
			if strings.Contains(r.stdout, u) || strings.Contains(r.stderr, u) {
				t.Errorf("a uuid was printed outside register: %q %q", r.stdout, r.stderr)
			}
		}
	}
}

// TestCLINoServer checks that an unreachable server is a failure (exit 1)
// that says so, not a hang or a crash.
func TestCLINoServer(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	u := newCLIUser(t, s.URL)
	u.register("Solo")
	s.Close()
	r := u.run("get")
	if r.code != 1 || !strings.Contains(r.stderr, "ringctl get:") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
