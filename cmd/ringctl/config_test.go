package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestConfigPath(t *testing.T) {
	envOf := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	for _, tt := range []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"flag wins", "/f.json", map[string]string{"RINGCTL_CONFIG": "/e.json", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/f.json"},
		{"env next", "", map[string]string{"RINGCTL_CONFIG": "/e.json", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/e.json"},
		{"xdg", "", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/ringd/ringctl.json"},
		{"relative xdg is ignored, as the spec says", "", map[string]string{"XDG_CONFIG_HOME": "x", "HOME": "/h"}, "/h/.config/ringd/ringctl.json"},
		{"home", "", map[string]string{"HOME": "/h"}, "/h/.config/ringd/ringctl.json"},
	} {
		got, err := configPath(tt.flag, envOf(tt.env))
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestConfigSaveIsPrivateAndRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "ringctl.json")
	c := &config{Server: "http://h:1/", Device: device{Token: "tok12345"}}
	c.remember(numberEntry{Number: "1001", UUID: "u1", Server: "http://h:1/"})
	c.remember(numberEntry{Number: "1002", UUID: "u2", Server: "http://h:1"})
	c.remember(numberEntry{Number: "1001", UUID: "u1b", Server: "http://h:1"}) // replaces, same server
	c.remember(numberEntry{Number: "1001", UUID: "u3", Server: "http://other/"})
	if err := c.save(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode %v, want 0700", dst.Mode().Perm())
	}
	// Saving over a file someone made world-readable makes it private.
	os.Chmod(path, 0o644)
	if err := c.save(path); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("re-saved config mode %v, want 0600", st.Mode().Perm())
	}
	got, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("loaded %+v, saved %+v", got, c)
	}
	nums := got.numbersOf("http://h:1")
	if len(nums) != 2 || nums[0].UUID != "u1b" || nums[1].Number != "1002" {
		t.Errorf("numbersOf: %+v", nums)
	}
	if !got.forget("1001", "http://h:1/") || got.forget("1001", "http://h:1/") {
		t.Error("forget did not forget exactly once")
	}
	if len(got.numbersOf("http://other")) != 1 {
		t.Error("forget dropped another server's number")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestLoadConfigMissingIsEmpty(t *testing.T) {
	c, err := loadConfig(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || len(c.Numbers) != 0 {
		t.Errorf("got %+v, %v", c, err)
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080":          "http://127.0.0.1:8080/",
		"http://127.0.0.1:8080":   "http://127.0.0.1:8080/",
		"https://h/ringd":         "https://h/ringd",
		" http://h:1/api/ ":       "http://h:1/api/",
		"http://127.0.0.1:8080/x": "http://127.0.0.1:8080/x",
	} {
		if got := normalizeServer(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if !sameServer("127.0.0.1:8080", "http://127.0.0.1:8080/") || sameServer("http://a/", "http://b/") {
		t.Error("sameServer")
	}
}

func TestLocaleFromEnv(t *testing.T) {
	for in, want := range map[string]string{
		"en_US.UTF-8": "en_US", "de_DE@euro": "de_DE", "C": "en", "POSIX": "en", "": "en",
		"zh_CN": "zh_CN", "x": "en", "sr_RS_latin": "en",
	} {
		got := localeFromEnv(func(k string) string {
			if k == "LANG" {
				return in
			}
			return ""
		})
		if got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestParseInterleavesFlagsAndArguments(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		wantPos  []string
		wantFile string
		wantJSON bool
	}{
		{[]string{"1002", "-file", "p"}, []string{"1002"}, "p", false},
		{[]string{"-file", "p", "1002"}, []string{"1002"}, "p", false},
		{[]string{"1002", "hello", "-json", "world"}, []string{"1002", "hello", "world"}, "", true},
		{[]string{"1002", "--", "-file", "x"}, []string{"1002", "-file", "x"}, "", false},
	} {
		a := &app{}
		fs := a.flagSet("send")
		file := fs.String("file", "", "")
		pos, err := a.parse(fs, tt.args)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(pos, tt.wantPos) || *file != tt.wantFile || a.g.json != tt.wantJSON {
			t.Errorf("%q: pos %q file %q json %v", tt.args, pos, *file, a.g.json)
		}
	}
	a := &app{}
	fs := a.flagSet("send")
	if _, err := a.parse(fs, []string{"-nope"}); err == nil {
		t.Error("unknown flag accepted")
	} else if _, ok := err.(usageError); !ok {
		t.Errorf("unknown flag: %T %v, want usageError", err, err)
	}
}
