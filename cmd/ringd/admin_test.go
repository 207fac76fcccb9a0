package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var adminAddrRE = regexp.MustCompile(`msg="admin serving" addr=(\S+)`)

// adminURL is the admin listener's base URL, from the line ringd logs
// before it starts serving the protocol.
func (p *proc) adminURL(t *testing.T) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	m := adminAddrRE.FindStringSubmatch(p.log.String())
	if m == nil {
		t.Fatalf("ringd logged no admin address:\n%s", p.log)
	}
	return "http://" + m[1]
}

// secrets are a ringd's three, random so that any copy of one is found.
type secrets struct{ admin, register, ai string }

func newSecrets() secrets {
	r := func(what string) string { return fmt.Sprintf("%s-%016x", what, rand.Uint64()) }
	return secrets{r("admintoken"), r("registerkey"), r("aikey")}
}

func (s secrets) all() []string { return []string{s.admin, s.register, s.ai} }

// fakeAI is an AI call service that records the Authorization it is sent.
type fakeAI struct {
	*httptest.Server
	mu   sync.Mutex // guards auth
	auth []string
}

func newFakeAI(t *testing.T) *fakeAI {
	f := &fakeAI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		io.WriteString(w, `{"data":"aGk="}`)
	}))
	t.Cleanup(f.Close)
	return f
}

// useSecrets makes ringd use each secret: register with the register key,
// credit with the admin token (and with a wrong one), and an AI call,
// whose service must receive the AI key.
func useSecrets(t *testing.T, c *client, s secrets, ai *fakeAI) {
	t.Helper()
	if a, _, err := c.post(map[string]any{"req": "register"}, nil, 0); err != nil || a.code() == 10000 {
		t.Fatalf("register without the key: %v %v", a, err)
	}
	a, _ := c.must(t, map[string]any{"req": "register", "auth": s.register}, nil)
	number, uuid := a.str("number"), a.str("uuid")
	c.must(t, map[string]any{"req": "login", "appid": "test.app", "build": "1.0", "name": "Alice", "locale": "en",
		"token": "token-" + number, "uuid": []string{uuid}}, nil)
	if a, _, err := c.post(map[string]any{"req": "credit", "auth": "wrong", "number": number, "seconds": 60}, nil, 0); err != nil || a.code() != 10061 {
		t.Fatalf("credit with a wrong token: %v %v", a, err)
	}
	c.must(t, map[string]any{"req": "credit", "auth": s.admin, "number": number, "seconds": 60}, nil)
	if _, data := c.must(t, map[string]any{"req": "aicall", "uuid": uuid, "caller_name": "Alice"}, nil); string(data) != "hi" {
		t.Fatalf("aicall answered data %q", data)
	}
	ai.mu.Lock()
	defer ai.mu.Unlock()
	if len(ai.auth) == 0 || ai.auth[0] != "Bearer "+s.ai {
		t.Fatalf("the AI service got Authorization %q", ai.auth)
	}
}

// httpGet fetches url and returns its status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// noSecret fails the test if text holds any of the secrets.
func noSecret(t *testing.T, what, text string, s secrets) {
	t.Helper()
	for _, secret := range s.all() {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the secret %q", what, secret)
		}
	}
}

// stop ends ringd with SIGTERM and returns its whole log.
func (p *proc) stop(t *testing.T) string {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, `msg=stopped`)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("ringd exit after SIGTERM: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// TestAdminListenerShowsNoSecret runs the binary with its secrets on the
// command line, -debug and an admin listener: the profiles' cmdline, the
// metrics, a goroutine dump and the log never show a secret, and the
// protocol's listener serves neither the metrics nor the profiles.
func TestAdminListenerShowsNoSecret(t *testing.T) {
	s, ai := newSecrets(), newFakeAI(t)
	p := startRingd(t, t.TempDir(), "-debug", "-admin-listen", "127.0.0.1:0", "-admin-token", s.admin,
		"--register-key="+s.register, "-ai-key="+s.ai, "-ai-url", ai.URL)
	useSecrets(t, newClient(p.url), s, ai)
	admin, api := p.adminURL(t), strings.TrimSuffix(p.url, "/")

	code, cmdline := httpGet(t, admin+"/debug/pprof/cmdline")
	if code != http.StatusOK || !strings.Contains(cmdline, "\x00-admin-token\x00"+redacted+"\x00") ||
		!strings.Contains(cmdline, "\x00-ai-url\x00"+ai.URL) {
		t.Errorf("cmdline answered %d %q", code, cmdline)
	}
	noSecret(t, "/debug/pprof/cmdline", cmdline, s)
	code, metrics := httpGet(t, admin+"/metrics")
	if code != http.StatusOK || !strings.Contains(metrics, `ringd_requests_total{answer="10000",req="aicall"} 1`) {
		t.Errorf("admin /metrics answered %d %.200q", code, metrics)
	}
	noSecret(t, "/metrics", metrics, s)
	code, stacks := httpGet(t, admin+"/debug/pprof/goroutine?debug=2")
	if code != http.StatusOK || !strings.Contains(stacks, "goroutine") {
		t.Errorf("goroutine dump answered %d %.200q", code, stacks)
	}
	noSecret(t, "the goroutine dump", stacks, s)
	for _, base := range []string{admin, api} {
		if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s/healthz answered %d %q", base, code, body)
		}
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if code, body := httpGet(t, api+path); code != http.StatusNotFound {
			t.Errorf("the protocol's listener answered %s with %d %.80q", path, code, body)
		}
	}
	log := p.stop(t)
	if !strings.Contains(log, `msg="admin serving" addr=127.0.0.1:`) {
		t.Errorf("the log does not say where the admin listener is:\n%s", log)
	}
	noSecret(t, "the log", log, s)
}

// TestSecretsFromFilesAndEnvironment: each secret read from a file (its
// trailing newline trimmed) or from the environment works as the flag
// does, and none is in the process's command line.
func TestSecretsFromFilesAndEnvironment(t *testing.T) {
	s, ai := newSecrets(), newFakeAI(t)
	adminFile := writeFile(t, "admin-token", s.admin+"\n")
	aiFile := writeFile(t, "ai-key", s.ai+"\r\n")
	cmd := exec.Command(ringdBinary(t), "-listen", "127.0.0.1:0", "-data", t.TempDir(),
		"-admin-token-file", adminFile, "-ai-url", ai.URL)
	cmd.Env = append(os.Environ(), "RINGD_REGISTER_KEY="+s.register, "RINGD_AI_KEY_FILE="+aiFile)
	p := startCmd(t, cmd, nil)
	useSecrets(t, newClient(p.url), s, ai)
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.cmd.Process.Pid)); err == nil {
		noSecret(t, "/proc/PID/cmdline", string(b), s)
	}
	noSecret(t, "the log", p.stop(t), s)
}

// TestSecretFileErrorsStopStart: a secret file that is missing, unreadable
// or empty, or given beside its secret, stops ringd at start with a message
// naming the flag, and never the secret.
func TestSecretFileErrorsStopStart(t *testing.T) {
	bin := ringdBinary(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	empty := writeFile(t, "empty", "\n")
	good := writeFile(t, "good", "the-file-secret\n")
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want []string // in the message
	}{
		{"missing", []string{"-admin-token-file", missing}, nil, []string{"-admin-token-file", missing}},
		{"unreadable", []string{"-register-key-file", dir}, nil, []string{"-register-key-file", dir}},
		{"empty", []string{"-ai-key-file", empty}, nil, []string{"-ai-key-file", empty, "empty"}},
		{"flag and file", []string{"-ai-key", "flag-secret-1", "-ai-key-file", good}, nil, []string{"-ai-key and -ai-key-file"}},
		{"environment and file", []string{"-admin-token-file", good}, []string{"RINGD_ADMIN_TOKEN=env-secret-2"},
			[]string{"-admin-token and -admin-token-file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A ringd that started would serve until the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"-listen", "127.0.0.1:0", "-data", t.TempDir()}, tc.args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("ringd started (%v):\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the message lacks %q:\n%s", w, out)
				}
			}
			for _, secret := range []string{"the-file-secret", "flag-secret-1", "env-secret-2"} {
				if strings.Contains(string(out), secret) {
					t.Errorf("the message shows the secret %q:\n%s", secret, out)
				}
			}
		})
	}
}
