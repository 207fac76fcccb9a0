package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrowser runs the browser tests (e2e/browser.test.mjs: the web client
// and the console in Chromium, driven by playwright-core) against this
// package's binary, so that go test ./... covers the pages as it covers
// the rest. They need Node.js, Chromium and e2e's npm packages: with
// CI=true a missing one fails the test; elsewhere it is skipped, saying
// how to install them.
func TestBrowser(t *testing.T) {
	bin := ringdBinary(t)
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	node, err := exec.LookPath("node")
	var missing []string
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install chromium)")
	}
	if _, err := os.Stat("../../e2e/node_modules/playwright-core/package.json"); err != nil {
		missing = append(missing, "e2e's npm packages (cd e2e && npm ci)")
	}
	if len(missing) > 0 {
		msg := "the browser tests need " + strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Read here so that go test's cache knows the test's files: a change to
	// them runs it again, as a change to the pages does (they are in the
	// binary).
	for _, f := range []string{"browser.test.mjs", "package-lock.json"} {
		if _, err := os.ReadFile(filepath.Join("..", "..", "e2e", f)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, "--test", "--test-concurrency=1", "browser.test.mjs")
	cmd.Dir = filepath.Join("..", "..", "e2e")
	cmd.Env = append(os.Environ(), "RINGD_BIN="+bin, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("browser tests: %v\n%s", err, out)
	}
	// node --test counts a skipped test as passed: none may be.
	if !strings.Contains(string(out), "\n# skipped 0\n") || !strings.Contains(string(out), "\n# fail 0\n") {
		t.Fatalf("browser tests skipped or failed some:\n%s", out)
	}
	t.Logf("%s", out)
}
