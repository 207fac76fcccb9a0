package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// flagNames runs ringd -h and returns the names of the flags it lists.
func flagNames(t *testing.T) []string {
	t.Helper()
	out, _ := exec.Command(ringdBinary(t), "-h").CombinedOutput() // -h exits 0 or 2 by Go release
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("ringd -h lists %d flags:\n%s", len(names), out)
	}
	return names
}

// TestConfigExampleListsEverySetting: docs/config.example.yaml has a key
// for every flag that a config file can set (all but -config and
// -version), and no key that is neither a flag nor the push section.
func TestConfigExampleListsEverySetting(t *testing.T) {
	m, err := readConfig("../../docs/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	for _, name := range flagNames(t) {
		flags[name] = true
		if _, ok := m[name]; !ok && name != "config" && name != "version" {
			t.Errorf("the example has no key %s", name)
		}
	}
	for k := range m {
		if (!flags[k] && k != "push") || k == "config" || k == "version" {
			t.Errorf("the example's key %s is no setting", k)
		}
	}
}

// TestREADMEEmbedsConfigExample: the README's copy of the example is the
// file, byte for byte.
func TestREADMEEmbedsConfigExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../docs/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "(docs/config.example.yaml)")
	_, block, ok2 := strings.Cut(after, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README embeds no example after its link to docs/config.example.yaml")
	}
	if block != string(example) {
		t.Errorf("the README's example differs from docs/config.example.yaml:\n%s", lineDiff(block, string(example)))
	}
}

// lineDiff names the first line where a and b differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  README: " + al[i] + "\n  file:   " + bl[i]
		}
	}
	return "one is longer: " + strconv.Itoa(len(al)) + " and " + strconv.Itoa(len(bl)) + " lines"
}

// TestConfigMinimalRuns starts the real binary with docs/config.minimal.yaml
// in an empty directory, its two addresses moved to free ports and
// nothing else changed: it serves the protocol, /healthz and /metrics on
// loopback, with its data in ./data.
func TestConfigMinimalRuns(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, key := range []string{"listen", "admin-listen"} {
		re := regexp.MustCompile(`(?m)^` + key + `: 127\.0\.0\.1:\d+`)
		if !re.MatchString(text) {
			t.Fatalf("the minimal config has no %s on loopback:\n%s", key, text)
		}
		text = re.ReplaceAllString(text, key+": 127.0.0.1:0")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ringd.yaml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ringdBinary(t), "-config", cfg)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	p := startCmd(t, cmd, nil)
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")
	c.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": 2}, []byte("hi"))
	if code, body := httpGet(t, p.adminURL(t)+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("admin /healthz: %d %q", code, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "ringd.db")); err != nil {
		t.Errorf("no database under ./data: %v", err)
	}
}

// cleanEnv is the environment without RINGD_ variables, which would
// override the file.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RINGD_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestREADMEListsEveryFlag: the README's flag table names every flag that
// ringd -h lists.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range flagNames(t) {
		if !regexp.MustCompile("(?m)^\\| [^|]*`-" + regexp.QuoteMeta(name) + "[` ]").Match(readme) {
			t.Errorf("the README's flag table has no -%s", name)
		}
	}
}
