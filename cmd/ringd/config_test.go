package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The example the README points to must be a configuration ringd takes.
func TestConfigExample(t *testing.T) {
	o, err := parseFlags([]string{"-config", "../../docs/config.example.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "0.0.0.0:8080" || o.cfg.AdminToken != "change-me" || o.cfg.Retention != 24*time.Hour {
		t.Errorf("flags from the example: %+v", o)
	}
	if o.push == nil || len(o.push.Apps) != 4 {
		t.Fatalf("push apps: %+v", o.push)
	}
	a := o.push.Apps["com.example.phone"].APNs
	if a == nil || a.TeamID != "ABCDE12345" || a.KeyFile != "/etc/ringd/AuthKey_FGHIJ67890.p8" || !a.Production {
		t.Errorf("apns app: %+v", a)
	}
	if f := o.push.Apps["com.example.phone.android"].FCM; f == nil || f.ProjectID != "example-phone" {
		t.Errorf("fcm app: %+v", f)
	}
	if w := o.push.Apps["com.example.desktop"].Webhook; w == nil || w.URL != "https://push.example.com/ringd" {
		t.Errorf("webhook app: %+v", w)
	}
	if time.Duration(o.push.MaxAge) != time.Hour || o.push.Workers != 16 {
		t.Errorf("push tuning: %+v", o.push)
	}
}

func TestConfigTOMLAndPrecedence(t *testing.T) {
	path := writeFile(t, "ringd.toml", `
max_length = 1000
max-get = 7
ring-timeout = "30s"
debug = true

[push]
workers = 3
[push.apps.desk.webhook]
url = "http://127.0.0.1:9/hook"
`)
	o, err := parseFlags([]string{"-config", path})
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.MaxLength != 1000 || o.cfg.MaxGet != 7 || o.cfg.RingTimeout != 30*time.Second || !o.debug {
		t.Errorf("from TOML: %+v", o.cfg)
	}
	if o.push == nil || o.push.Workers != 3 || o.push.Apps["desk"].Webhook.URL != "http://127.0.0.1:9/hook" {
		t.Errorf("push from TOML: %+v", o.push)
	}

	// The environment beats the file, and the command line beats both.
	t.Setenv("RINGD_MAX_GET", "8")
	t.Setenv("RINGD_MAX_LENGTH", "2000")
	o, err = parseFlags([]string{"-config", path, "-max-length", "3000"})
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.MaxGet != 8 || o.cfg.MaxLength != 3000 || o.cfg.RingTimeout != 30*time.Second {
		t.Errorf("precedence: max-get %d (want env's 8), max-length %d (want flag's 3000)", o.cfg.MaxGet, o.cfg.MaxLength)
	}

	// The file can also be named in the environment.
	t.Setenv("RINGD_CONFIG", path)
	if o, err = parseFlags(nil); err != nil || o.push == nil {
		t.Errorf("RINGD_CONFIG: %v %+v", err, o)
	}
}

func TestConfigRefusesMistakes(t *testing.T) {
	for name, content := range map[string]string{
		"unknown setting": "max-lenght: 10\n",
		"bad value":       "max-get: lots\n",
		"unknown push key": `push:
  apps:
    a: {webhook: {url: "http://x", sekret: "y"}}
`,
		"two providers": `push:
  apps:
    a: {webhook: {url: "http://x"}, fcm: {credentials-file: "f.json"}}
`,
		"apns without key": `push:
  apps:
    a: {apns: {team-id: T, key-id: K, bundle-id: b}}
`,
	} {
		path := writeFile(t, "ringd.yaml", content)
		if _, err := parseFlags([]string{"-config", path}); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "push") {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
	if _, err := parseFlags([]string{"-config", filepath.Join(t.TempDir(), "missing.yaml")}); err == nil {
		t.Error("a missing file was accepted")
	}
}

// -arena-max is refused below 64 KiB and above a chunk of the arena.
func TestArenaMaxFlag(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil || o.arenaMax != 1<<20 {
		t.Fatalf("default: %v, %+v", err, o)
	}
	if o, err := parseFlags([]string{"-arena-max", "65536"}); err != nil || o.arenaMax != 65536 {
		t.Fatalf("64 KiB: %v", err)
	}
	for _, v := range []string{"65535", "0", "67108865"} {
		if _, err := parseFlags([]string{"-arena-max", v}); err == nil {
			t.Errorf("-arena-max %s accepted", v)
		}
	}
}

// -disk-reserve defaults to 8 MiB, is refused below 1 MiB, and is read
// from RINGD_DISK_RESERVE like every flag.
func TestDiskReserveFlag(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil || o.cfg.DiskReserve != 8<<20 {
		t.Fatalf("default: %v, %+v", err, o)
	}
	t.Setenv("RINGD_DISK_RESERVE", "1048576")
	if o, err := parseFlags(nil); err != nil || o.cfg.DiskReserve != 1<<20 {
		t.Fatalf("RINGD_DISK_RESERVE=1048576: %v", err)
	}
	for _, v := range []string{"1048575", "0", "-1"} {
		if _, err := parseFlags([]string{"-disk-reserve", v}); err == nil {
			t.Errorf("-disk-reserve %s accepted", v)
		}
	}
}

// -orphan-grace defaults to an hour and is refused under a second.
func TestOrphanGraceFlag(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil || o.orphanGrace != time.Hour {
		t.Fatalf("default: %v, %+v", err, o)
	}
	if o, err := parseFlags([]string{"-orphan-grace", "1s"}); err != nil || o.orphanGrace != time.Second {
		t.Fatalf("1s: %v", err)
	}
	for _, v := range []string{"999ms", "0s", "-1h"} {
		if _, err := parseFlags([]string{"-orphan-grace", v}); err == nil {
			t.Errorf("-orphan-grace %s accepted", v)
		}
	}
}
