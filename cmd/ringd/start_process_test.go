package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

var versionRE = regexp.MustCompile(`^ringd (\S+) commit ([0-9a-f]{12}|unknown)( \(modified\))? (go\S+)\n$`)

// TestVersion runs ringd -version: one line with the module version, the
// commit ringd was built from and the Go release, and exit 0 without
// opening a data directory. The metrics of a running ringd carry the same
// in ringd_build_info.
func TestVersion(t *testing.T) {
	bin := ringdBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-version", "-data", filepath.Join(dir, "data"))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ringd -version: %v\n%s", err, out)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("ringd -version printed %q", out)
	}
	version, rev, goversion := m[1], m[2], m[4]
	if goversion != runtime.Version() {
		t.Errorf("Go release %q, built with %q", goversion, runtime.Version())
	}
	// A build from a git checkout (a clone; Go does not see a worktree's
	// repository) names its commit.
	if head, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil && rev != "unknown" {
		if want := strings.TrimSpace(string(head)); rev != want {
			t.Errorf("commit %q, the checkout is at %q", rev, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("ringd -version made the data directory")
	}

	// RINGD_VERSION set for other ends neither prints the version nor
	// stops ringd: -version is a command-line flag only.
	t.Setenv("RINGD_VERSION", "1.2.3")
	p := startRingd(t, t.TempDir(), "-admin-listen", "127.0.0.1:0")
	_, metrics := httpGet(t, p.adminURL(t)+"/metrics")
	want := `ringd_build_info{goversion="` + goversion + `",revision="` + rev + `",version="` + version + `"} 1`
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "build_info"))
	}
	if code, body := httpGet(t, p.url+"healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

// grepLines returns the lines of text that hold s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestUnknownFlagReportedOnce: the error of a mistyped flag is printed
// once, with the usage, and ringd exits 2.
func TestUnknownFlagReportedOnce(t *testing.T) {
	cmd := exec.Command(ringdBinary(t), "-no-such-flag", "-data", filepath.Join(t.TempDir(), "data"))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "-no-such-flag"); n != 1 {
		t.Errorf("the error is printed %d times:\n%s", n, out)
	}
	if !strings.Contains(string(out), "Usage: ringd") {
		t.Errorf("no usage:\n%s", out)
	}
}

// TestFailedStartLeavesNoDataDir: a start that fails before serving
// removes the data directory it made in that run, parents included, and
// leaves one that existed before.
func TestFailedStartLeavesNoDataDir(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	missingKey := writeFile(t, "ringd.yaml", "push:\n  apps:\n    ios:\n      apns: {team-id: T1, key-id: K1, key-file: "+
		filepath.Join(t.TempDir(), "AuthKey_missing.p8")+", bundle-id: com.example}\n")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"address in use", []string{"-listen", busy.Addr().String()}},
		{"admin address in use", []string{"-listen", "127.0.0.1:0", "-admin-listen", busy.Addr().String()}},
		{"missing key file", []string{"-listen", "127.0.0.1:0", "-config", missingKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			made := filepath.Join(root, "new", "data")
			existed := filepath.Join(root, "existed")
			if err := os.Mkdir(existed, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, dir := range []string{made, existed} {
				cmd := exec.Command(ringdBinary(t), append(tc.args, "-data", dir)...)
				if out, err := cmd.CombinedOutput(); err == nil {
					t.Fatalf("ringd started:\n%s", out)
				}
			}
			if _, err := os.Stat(filepath.Join(root, "new")); !os.IsNotExist(err) {
				t.Errorf("the data directory ringd made is left: %v", err)
			}
			if _, err := os.Stat(existed); err != nil {
				t.Errorf("the data directory that existed is gone: %v", err)
			}
		})
	}
}
