package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebFlags runs the binary: the pages are served by default and turned
// off by -web=false, RINGD_WEB=false or the file's web: false; the CORS
// origins come from -cors-origins and the file, and a malformed one stops
// ringd at start.
func TestWebFlags(t *testing.T) {
	get := func(p *proc, path string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", strings.TrimSuffix(p.url, "/")+path, nil)
		if len(header) == 2 {
			req.Method = "OPTIONS"
			req.Header.Set("Origin", header[0])
			req.Header.Set("Access-Control-Request-Method", header[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	on := startRingd(t, t.TempDir())
	if r := get(on, "/app/"); r.StatusCode != 200 || r.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("default: GET /app/ %d, CSP %q", r.StatusCode, r.Header.Get("Content-Security-Policy"))
	}
	if r := get(on, "/", "https://app.example.com", "POST"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("default: CORS allowed for an origin nobody listed")
	}

	conf := filepath.Join(t.TempDir(), "ringd.yaml")
	os.WriteFile(conf, []byte("web: false\ncors-origins: [\"https://app.example.com\"]\n"), 0o600)
	for name, p := range map[string]*proc{
		"-web=false": startRingd(t, t.TempDir(), "-web=false", "-cors-origins", "https://app.example.com"),
		"RINGD_WEB":  startEnv(t, []string{"RINGD_WEB=false", "RINGD_CORS_ORIGINS=https://app.example.com"}),
		"the file":   startRingd(t, t.TempDir(), "-config", conf),
	} {
		for _, path := range []string{"/app/", "/console/"} {
			if r := get(p, path); r.StatusCode != 404 {
				t.Errorf("%s: GET %s %d", name, path, r.StatusCode)
			}
		}
		r := get(p, "/", "https://app.example.com", "POST")
		if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Errorf("%s: preflight of the listed origin %d, Allow-Origin %q", name, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}

	out, err := exec.Command(ringdBinary(t), "-listen", "127.0.0.1:0", "-data", t.TempDir(), "-cors-origins", "*").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "scheme://host") {
		t.Errorf("-cors-origins '*': %v\n%s", err, out)
	}
}

// startEnv starts ringd with extra environment variables.
func startEnv(t *testing.T, env []string) *proc {
	t.Helper()
	cmd := exec.Command(ringdBinary(t), "-listen", "127.0.0.1:0", "-data", t.TempDir())
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd, nil)
}
