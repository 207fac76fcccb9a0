package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinaries builds ringctl and ringd into a temp dir, as a user would
// install them.
func buildBinaries(t *testing.T) (ringctl, ringd string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build the binaries: %v", err)
	}
	dir := t.TempDir()
	ringctl, ringd = filepath.Join(dir, "ringctl"), filepath.Join(dir, "ringd")
	for pkg, out := range map[string]string{".": ringctl, "../ringd": ringd} {
		cmd := exec.Command(goTool, "build", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return ringctl, ringd
}

var servingRE = regexp.MustCompile(`msg="ringd serving" addr=(\S+)`)

// startRingd runs ringd on a free loopback port with its data in a temp
// dir, and returns its URL once it serves. It is stopped with SIGTERM when
// the test ends.
func startRingd(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "data"))
	cmd.Env = os.Environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var serverLog bytes.Buffer // written by the reader goroutine, read once it is done
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			serverLog.WriteString(line + "\n")
			if m := servingRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cmd.Wait()
	})
	select {
	case a := <-addr:
		return "http://" + a + "/"
	case <-done:
		t.Fatalf("ringd exited before serving:\n%s", serverLog.String())
	case <-time.After(60 * time.Second):
		t.Fatal("ringd did not say it serves within 60s")
	}
	return ""
}

// TestEndToEnd runs the ringctl binary against a ringd process: two users,
// each with a config of their own, register, log in, send a text and a file,
// get, and fetch.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	ringctl, ringd := buildBinaries(t)
	url := startRingd(t, ringd)

	home := t.TempDir()
	run := func(user string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(ringctl, args...)
		// Each user is a HOME of its own: the config's default path is used.
		cmd.Env = append(os.Environ(), "HOME="+filepath.Join(home, user), "XDG_CONFIG_HOME=", "RINGCTL_CONFIG=", "USER="+user)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	must := func(user string, args ...string) string {
		t.Helper()
		out, errOut, code := run(user, args...)
		if code != 0 {
			t.Fatalf("%s: ringctl %q: exit %d\n%s%s", user, args, code, out, errOut)
		}
		return out
	}

	// register remembers the server given with -server; later commands
	// name none.
	numbers := map[string]string{}
	for _, user := range []string{"alice", "bob"} {
		out := must(user, "-server", url, "register")
		m := regexp.MustCompile(`registered (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("register printed %q", out)
		}
		numbers[user] = m[1]
		cfg := filepath.Join(home, user, ".config", "ringd", "ringctl.json")
		st, err := os.Stat(cfg)
		if err != nil {
			t.Fatalf("config not at its default path: %v", err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("config mode %v", st.Mode().Perm())
		}
		if out := must(user, "login"); !strings.Contains(out, numbers[user]) {
			t.Errorf("login printed %q", out)
		}
	}

	out := must("alice", "send", numbers["bob"], "hi", "from", "the", "binary")
	textID := regexp.MustCompile(`msgid (\S+)`).FindStringSubmatch(out)

	// A file over the progress bar's threshold: stderr is a pipe here, so
	// no bar may be drawn into it.
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	src := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(src, data, 0o644)
	out, errOut, code := run("alice", "send", numbers["bob"], "-file", src)
	if code != 0 || strings.Contains(errOut, "\r") {
		t.Fatalf("send -file: exit %d, stderr %q", code, errOut)
	}
	fileID := regexp.MustCompile(`msgid (\S+)`).FindStringSubmatch(out)
	if textID == nil || fileID == nil {
		t.Fatal("send printed no msgid")
	}

	out = must("bob", "-json", "get")
	var answer struct {
		Answer   int `json:"answer"`
		Messages []struct {
			MsgID, Caller, CallerName, Text, Fname string
			Length                                 int64
		} `json:"messages"`
	}
	// Go's JSON matching is case-insensitive; the names are checked raw below.
	if err := json.Unmarshal([]byte(out), &answer); err != nil {
		t.Fatalf("get -json: %q: %v", out, err)
	}
	if answer.Answer != 10000 || len(answer.Messages) != 2 {
		t.Fatalf("get -json: %q", out)
	}
	if m := answer.Messages[0]; m.MsgID != textID[1] || m.Caller != numbers["alice"] || m.Text != "hi from the binary" {
		t.Errorf("text message: %+v", m)
	}
	if m := answer.Messages[1]; m.MsgID != fileID[1] || m.Fname != "big.bin" || m.Length != int64(len(data)) {
		t.Errorf("file message: %+v", m)
	}
	if !strings.Contains(out, `"caller_name":"alice"`) {
		t.Errorf("caller_name is not the login name: %q", out)
	}

	dst := filepath.Join(t.TempDir(), "got.bin")
	_, errOut, code = run("bob", "fetch", fileID[1], "-o", dst)
	if code != 0 || strings.Contains(errOut, "\r") {
		t.Fatalf("fetch: exit %d, stderr %q", code, errOut)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched %d bytes (%v), sent %d", len(got), err, len(data))
	}

	// fetch to a pipe writes the data itself to stdout.
	cmd := exec.Command(ringctl, "fetch", textID[1])
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(home, "bob"), "XDG_CONFIG_HOME=", "RINGCTL_CONFIG=")
	pipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	piped, _ := io.ReadAll(pipe)
	if err := cmd.Wait(); err != nil || string(piped) != "hi from the binary" {
		t.Errorf("fetch to a pipe: %q, %v", piped, err)
	}

	// An error answer: exit 1 with the seed's text and code.
	if _, errOut, code := run("bob", "read", "999999"); code != 1 || !strings.Contains(errOut, "msgid error (10013)") {
		t.Errorf("read of an unknown msgid: exit %d, stderr %q", code, errOut)
	}

	if out := must("alice", "-version"); !versionRE.MatchString(out) {
		t.Errorf("-version printed %q", out)
	}
	runREADMESessions(t, ringctl, url)
}

// runREADMESessions runs the README's ringctl sessions, as written, in a
// shell with the ringctl binary on its PATH, talking to url; listen, which
// runs until interrupted, is left out.
func runREADMESessions(t *testing.T, ringctl, url string) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## One minute with ringctl\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var script []string
	for _, block := range regexp.MustCompile("(?s)\n```sh\n(.*?)```\n").FindAllStringSubmatch(section, -1) {
		for _, line := range strings.SplitAfter(block[1], "\n") {
			if !strings.Contains(line, " listen ") {
				script = append(script, line)
			}
		}
	}
	if len(script) < 10 {
		t.Fatalf("the README's ringctl section has only %d lines of sessions", len(script))
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "ringctl.json")
	if err := os.WriteFile(config, []byte(`{"server":"`+url+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-e", "-x", "-c", strings.Join(script, ""))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(ringctl)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RINGCTL_CONFIG="+config, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's session failed: %v\n%s", err, out)
	}
	for _, want := range []string{"    hello\n", "  delivered\n", "ended: hangup\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's session printed no %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "copy.txt")); string(b) != "a small file\n" {
		t.Errorf("the README's session fetched %q (%v)", b, err)
	}
}
