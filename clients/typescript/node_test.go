package typescript_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ringd/ringd/clients/typescript"
)

// TestNodeClient runs the TypeScript client's own tests (node --test)
// against a ringd built from this checkout, so the repository's single
// test command covers them. Node.js 20 or later is needed: in CI its
// absence fails the test, elsewhere it skips.
func TestNodeClient(t *testing.T) {
	node := requireNode(t)
	bin := filepath.Join(t.TempDir(), "ringd")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/ringd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ringd: %v\n%s", err, out)
	}
	files, err := filepath.Glob("test/*.test.mjs")
	if err != nil || len(files) == 0 {
		t.Fatalf("no node tests found: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test"}, files...)...)
	cmd.Env = append(os.Environ(), "RINGD_BIN="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("node --test:\n%s", tail(out, 400))
}

var nodeVersion = regexp.MustCompile(`^v(\d+)\.`)

// requireNode finds node 20 or later; without it the test fails in CI
// and skips elsewhere.
func requireNode(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: the TypeScript client's tests need Node.js 20 or later", why)
		}
		t.Skipf("%s: install Node.js 20 or later to run the TypeScript client's tests", why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node on PATH")
		return ""
	}
	v, err := exec.Command(node, "--version").Output()
	m := nodeVersion.FindSubmatch(v)
	if err != nil || m == nil {
		missing("node --version: " + string(v))
		return ""
	}
	if major, _ := strconv.Atoi(string(m[1])); major < 20 {
		missing("node " + string(v))
	}
	return node
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// The embedded client is the compiled one, entry point and declarations.
func TestDistEmbedded(t *testing.T) {
	for _, f := range []string{"dist/index.js", "dist/index.d.ts", "dist/client.js", "dist/wire.js", "dist/errors.js"} {
		b, err := typescript.Dist.ReadFile(f)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
