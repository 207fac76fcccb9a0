package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestREADMEExample builds the README's Go example ("Using it from code")
// as it is written and runs it against a real server: it must print the
// text it sent, as the receiver got it.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Using it from code\n")
	_, code, ok2 := strings.Cut(section, "\n```go\n")
	code, _, ok3 := strings.Cut(code, "\n```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README has no Go block under \"## Using it from code\"")
	}
	if n := strings.Count(code, "\n"); n > 60 {
		t.Errorf("the README's example is %d lines: keep it short", n)
	}
	main := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(main, []byte(code+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := ringtest.New(t, ringtest.NewConfig(t))
	// Run from the module's root, so the example's import of the client
	// is this checkout's.
	cmd := exec.Command("go", "run", main)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "RINGD_URL="+s.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's example failed: %v\n%s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], " -> ") || !strings.HasSuffix(lines[0], ": hello") {
		t.Fatalf("the README's example printed %q, want one line NUMBER -> NUMBER: hello", out)
	}
}
