package main

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

var callidRE = regexp.MustCompile(`callid ([0-9a-f]{32})`)

// TestCLICalls drives a call, link data, the balance, the operator commands
// and listen through ringctl against a real server.
func TestCLICalls(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "op-token"
	s := ringtest.New(t, cfg)
	alice, bob := newCLIUser(t, s.URL), newCLIUser(t, s.URL)
	alice.register("Alice")
	bob.register("Bob")

	r := alice.must("call", bob.number, "-data", "my offer")
	m := callidRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("call printed %q", r.stdout)
	}
	id := m[1]
	if r := bob.must("callinfo", id); !strings.Contains(r.stdout, "ringing") || !strings.Contains(r.stdout, "8 bytes") {
		t.Fatalf("callinfo: %q", r.stdout)
	}
	bob.must("answer", id, "-data", "my answer")
	if r := alice.must("callinfo", "-wait", "1", id); !strings.Contains(r.stdout, "answered") {
		t.Fatalf("callinfo after answer: %q", r.stdout)
	}
	alice.must("hangup", id)
	if r := bob.run("hangup", id); r.code != 1 || !strings.Contains(r.stderr, "10012") {
		t.Fatalf("second hangup: %+v", r)
	}

	alice.must("link", "https://example.org/alice")
	if r := alice.must("linked"); strings.TrimSpace(r.stdout) != "https://example.org/alice" {
		t.Fatalf("linked: %q", r.stdout)
	}
	if r := alice.run("link", "again"); r.code != 1 || !strings.Contains(r.stderr, "10005") {
		t.Fatalf("second link: %+v", r)
	}

	if r := alice.run("credit", alice.number, "60"); r.code != 2 {
		t.Fatalf("credit without a token: %+v", r)
	}
	if r := alice.run("credit", "-auth", "wrong", alice.number, "60"); r.code != 1 || !strings.Contains(r.stderr, "10061") {
		t.Fatalf("credit with a wrong token: %+v", r)
	}
	alice.must("credit", "-auth", "op-token", alice.number, "60")
	if r := alice.must("balance"); !strings.Contains(r.stdout, "balance 60 seconds") {
		t.Fatalf("balance: %q", r.stdout)
	}
	if r := alice.must("stats", "-auth", "op-token"); !strings.Contains(r.stdout, "calls 1") {
		t.Fatalf("stats: %q", r.stdout)
	}
	alice.must("reserve", "-auth", "op-token", "55555")
	if r := newCLIUser(t, s.URL).run("register", "55555"); r.code != 1 || !strings.Contains(r.stderr, "10003") {
		t.Fatalf("registering a reserved number: %+v", r)
	}

	// listen prints what arrives, as it arrives, until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		code := run(ctx, []string{"-server", s.URL, "listen"}, env{stdout: pw, stderr: io.Discard, getenv: func(k string) string {
			if k == "RINGCTL_CONFIG" {
				return bob.config
			}
			return ""
		}})
		pw.Close()
		done <- code
	}()
	alice.must("send", bob.number, "are you there?")
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "are you there?") {
			break
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Fatalf("listen exited %d", code)
	}
}
