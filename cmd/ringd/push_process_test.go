package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigFilePush runs the binary with a -config file whose push section
// names a webhook for the test app: a send reaches the webhook, and
// /metrics on the admin listener counts it.
func TestConfigFilePush(t *testing.T) {
	hits := make(chan map[string]any, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		hits <- m
	}))
	defer hook.Close()
	cfg := writeFile(t, "ringd.yaml", "max-get: 50\npush:\n  apps:\n    test.app:\n      webhook:\n        url: "+hook.URL+"\n")
	p := startRingd(t, t.TempDir(), "-config", cfg, "-admin-listen", "127.0.0.1:0")
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")
	a, _ := c.must(t, map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number, "length": 5}, []byte("hello"))
	select {
	case m := <-hits:
		if m["type"] != "message" || m["msgid"] != a.str("msgid") || m["caller"] != alice.number ||
			m["body"] != "hello" || m["token"] != "token-"+bob.number {
			t.Errorf("webhook got %v", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook call")
	}
	metrics := func() string {
		res, err := http.Get(p.adminURL(t) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(metrics(), `ringd_pushes_sent_total{provider="webhook"} 1`); {
		if time.Now().After(deadline) {
			t.Fatalf("metrics:\n%s", metrics())
		}
		time.Sleep(10 * time.Millisecond) // another process: nothing to wait on but its answers
	}
}

// A push configuration that cannot work stops ringd at start, naming the
// file, rather than at the first push.
func TestConfigFileBadKeyStopsStart(t *testing.T) {
	bin := ringdBinary(t)
	missing := filepath.Join(t.TempDir(), "AuthKey_missing.p8")
	cfg := writeFile(t, "ringd.yaml", `push:
  apps:
    ios:
      apns: {team-id: T1, key-id: K1, key-file: `+missing+`, bundle-id: com.example}
`)
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-data", t.TempDir(), "-config", cfg)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("ringd started with a missing key file:\n%s", out)
	}
	if !strings.Contains(string(out), missing) {
		t.Errorf("the error does not name the key file:\n%s", out)
	}
}
