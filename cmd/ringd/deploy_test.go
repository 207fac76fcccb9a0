package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const unitFile = "../../docs/deploy/ringd.service"

// TestSystemdUnit checks docs/deploy/ringd.service with systemd-analyze
// verify (any complaint fails, as verify exits 0 on unknown keys), with
// ExecStart pointed at the built binary, and that ExecStart passes only
// flags ringd has. CI installs systemd-analyze (.ci/run), so there a
// missing tool fails the test; elsewhere it is skipped.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=ringd", "ProtectSystem=strict",
		"NoNewPrivileges=yes", "TimerSlackNSec=1ms", "LimitNOFILE=65536", "Restart=on-failure",
		"LoadCredential=admin-token:/etc/ringd/admin-token", "SystemCallFilter=@system-service"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(unit) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	exec1 := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/ringd (.*)$`).FindStringSubmatch(unit)
	if exec1 == nil {
		t.Fatal("no ExecStart=/usr/local/bin/ringd")
	}
	flags := flagNames(t)
	for _, arg := range strings.Fields(exec1[1]) {
		if name, ok := strings.CutPrefix(arg, "-"); ok && !slices.Contains(flags, name) {
			t.Errorf("ExecStart passes %s, which ringd does not have", arg)
		}
	}

	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is missing in CI: .ci/run installs it")
		}
		t.Skip("systemd-analyze is not installed")
	}
	path := filepath.Join(t.TempDir(), "ringd.service")
	local := strings.ReplaceAll(unit, "/usr/local/bin/ringd", ringdBinary(t))
	if err := os.WriteFile(path, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
