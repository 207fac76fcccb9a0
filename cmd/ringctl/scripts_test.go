package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestQuietOutputs checks the -q of register, send and call: the bare
// number, msgid or callid and a newline on stdout, nothing on stderr, so
// that A=$(ringctl register -q) works in scripts.
func TestQuietOutputs(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	u := newCLIUser(t, s.URL)
	r := u.must("register", "-q")
	if !regexp.MustCompile(`^\d+\n$`).MatchString(r.stdout) || r.stderr != "" {
		t.Fatalf("register -q: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	a := strings.TrimSpace(r.stdout)
	b := strings.TrimSpace(u.must("register", "-q").stdout)
	// The uuid is remembered though not printed: the numbers act.
	u.must("login")

	r = u.must("-as", a, "send", "-q", b, "hello")
	if !regexp.MustCompile(`^\S+\n$`).MatchString(r.stdout) || r.stderr != "" {
		t.Fatalf("send -q: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	msgid := strings.TrimSpace(r.stdout)
	if got := u.must("-as", a, "status", msgid); got.stdout != msgid+"  sent\n" {
		t.Errorf("status of the -q msgid: %q", got.stdout)
	}

	r = u.must("-as", a, "call", b, "-q")
	if !regexp.MustCompile(`^[0-9a-f]{32}\n$`).MatchString(r.stdout) || r.stderr != "" {
		t.Fatalf("call -q: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if got := u.must("-as", b, "callinfo", strings.TrimSpace(r.stdout)); !strings.Contains(got.stdout, "ringing") {
		t.Errorf("callinfo of the -q callid: %q", got.stdout)
	}

	for _, args := range [][]string{{"-json", "register", "-q"}, {"-json", "send", "-q", b, "hi"}, {"-json", "call", "-q", b}} {
		if r := u.run(args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2", args, r.code)
		}
	}
}

// TestFetchKeepsExistingFile checks that fetch -o overwrites an existing
// file only with -f, and that a refused fetch changes no file.
func TestFetchKeepsExistingFile(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := newCLIUser(t, s.URL), newCLIUser(t, s.URL)
	alice.register("Alice")
	bob.register("Bob")
	dir := t.TempDir()
	src := filepath.Join(dir, "new.txt")
	os.WriteFile(src, []byte("the new data"), 0o644)
	id := msgidOf(t, alice.must("send", bob.number, "-file", src))

	mine := filepath.Join(dir, "mine.txt")
	const old = "precious old data, longer than the new"
	os.WriteFile(mine, []byte(old), 0o644)
	unchanged := func(what string) {
		t.Helper()
		if b, _ := os.ReadFile(mine); string(b) != old {
			t.Errorf("%s: the existing file now holds %q", what, b)
		}
	}

	r := bob.run("fetch", id, "-o", mine)
	if r.code != 1 || !strings.Contains(r.stderr, mine+" exists: give -f to overwrite it") {
		t.Errorf("fetch to an existing file: exit %d, stderr %q", r.code, r.stderr)
	}
	unchanged("fetch without -f")

	// A fetch the server refuses leaves the file as it was, even with -f,
	// and creates none where there was none.
	if r := bob.run("fetch", "424242", "-f", "-o", mine); r.code != 1 || !strings.Contains(r.stderr, "10013") {
		t.Errorf("fetch -f of an unknown msgid: exit %d, stderr %q", r.code, r.stderr)
	}
	unchanged("refused fetch -f")
	fresh := filepath.Join(dir, "fresh.txt")
	if r := bob.run("fetch", "424242", "-o", fresh); r.code != 1 {
		t.Errorf("fetch of an unknown msgid: exit %d", r.code)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("a refused fetch left %s: %v", fresh, err)
	}

	bob.must("fetch", id, "-o", mine, "-f")
	if b, _ := os.ReadFile(mine); string(b) != "the new data" {
		t.Errorf("fetch -f wrote %q", b)
	}
	if r := bob.run("fetch", id, "-o", mine, "-f", "-c"); r.code != 2 {
		t.Errorf("fetch -f -c: exit %d, want 2", r.code)
	}
}

// TestHangupPrintsReason checks that hangup says how the call ended.
func TestHangupPrintsReason(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice, bob := newCLIUser(t, s.URL), newCLIUser(t, s.URL)
	alice.register("Alice")
	bob.register("Bob")
	call := func() string {
		t.Helper()
		return strings.TrimSpace(alice.must("call", "-q", bob.number).stdout)
	}

	id := call()
	if r := alice.must("hangup", id); r.stdout != "call "+id+" ended: cancelled\n" {
		t.Errorf("caller's hangup while ringing printed %q", r.stdout)
	}
	id = call()
	if r := bob.must("hangup", id); r.stdout != "call "+id+" ended: declined\n" {
		t.Errorf("callee's hangup while ringing printed %q", r.stdout)
	}
	id = call()
	bob.must("answer", id)
	if r := bob.must("hangup", id); r.stdout != "call "+id+" ended: hangup\n" {
		t.Errorf("hangup of an answered call printed %q", r.stdout)
	}
}

// TestNumbersSaysWhichActs checks that numbers says in words which number
// commands act as.
func TestNumbersSaysWhichActs(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	u := newCLIUser(t, s.URL)
	a := strings.TrimSpace(u.must("register", "-q").stdout)
	b := strings.TrimSpace(u.must("register", "-q").stdout)
	want := a + "  " + s.URL + "  (commands act as this one unless -as names another)\n" + b + "  " + s.URL + "\n"
	if r := u.must("numbers"); r.stdout != want {
		t.Errorf("numbers printed %q, want %q", r.stdout, want)
	}
	want = a + "  " + s.URL + "\n" + b + "  " + s.URL + "  (commands act as this one: named by -as)\n"
	if r := u.must("-as", b, "numbers"); r.stdout != want {
		t.Errorf("numbers -as printed %q, want %q", r.stdout, want)
	}
}

// versionRE is the shape of -version's line.
var versionRE = regexp.MustCompile(`^ringctl \S+ commit ([0-9a-f]{1,12}|unknown)( \(modified\))? ` +
	regexp.QuoteMeta(runtime.Version()) + "\n$")

func TestVersionFlag(t *testing.T) {
	u := newCLIUser(t, "http://127.0.0.1:1/") // never asked
	r := u.must("-version")
	if !versionRE.MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("-version printed %q, stderr %q", r.stdout, r.stderr)
	}
	if r := u.run("-h"); !strings.Contains(r.stdout, "\n  -version\n") {
		t.Errorf("-h does not list -version:\n%s", r.stdout)
	}
}

// TestUsageShowsREADMESession checks that 'ringctl -h' and the README's
// "One minute with ringctl" show the same first session; TestEndToEnd runs
// it.
func TestUsageShowsREADMESession(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## One minute with ringctl\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if !strings.Contains(section, "\n```sh\n"+firstSession+"```\n") {
		t.Errorf("the README's ringctl section does not show this first session:\n%s", firstSession)
	}
	r := newCLIUser(t, "http://127.0.0.1:1/").must("-h")
	indented := "\n  " + strings.ReplaceAll(strings.TrimSuffix(firstSession, "\n"), "\n", "\n  ") + "\n"
	if !strings.Contains(r.stdout, indented) {
		t.Errorf("-h does not show the first session:\n%s", r.stdout)
	}
}
