package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// config is what ringctl remembers between runs. It holds uuids, the
// numbers' secrets, so it is written with mode 0600 in a 0700 directory.
type config struct {
	// Server is the last server named with -server, used when none is.
	Server string `json:"server,omitempty"`
	// Numbers are the registered numbers, in registration order; the first
	// of a server's is the one that acts when -as names none.
	Numbers []numberEntry `json:"numbers,omitempty"`
	// Device is what login last sent; Token is generated once, so every
	// login of this ringctl names the same device.
	Device device `json:"device"`
}

// numberEntry is one registered number. A uuid is only good on the server
// that made it, so each number remembers its server.
type numberEntry struct {
	Number string `json:"number"`
	UUID   string `json:"uuid"`
	Server string `json:"server"`
}

type device struct {
	AppID  string `json:"appid,omitempty"`
	Build  string `json:"build,omitempty"`
	Name   string `json:"name,omitempty"`
	Locale string `json:"locale,omitempty"`
	Token  string `json:"token,omitempty"`
}

// configPath is where the config lives: -config, else $RINGCTL_CONFIG, else
// $XDG_CONFIG_HOME/ringd/ringctl.json, else ~/.config/ringd/ringctl.json.
func configPath(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := getenv("RINGCTL_CONFIG"); p != "" {
		return p, nil
	}
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "ringd", "ringctl.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("no config path: set -config or RINGCTL_CONFIG (%v)", err)
		}
	}
	return filepath.Join(home, ".config", "ringd", "ringctl.json"), nil
}

// loadConfig reads the config; a missing file is an empty config.
func loadConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &config{}, nil
	}
	if err != nil {
		return nil, err
	}
	var c config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// save writes the config atomically (a crash leaves the old file or the
// new, never half of one: losing a uuid loses its number) with mode 0600.
func (c *config) save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".ringctl-*.json") // created 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// numbersOf lists the numbers remembered for server.
func (c *config) numbersOf(server string) []numberEntry {
	var out []numberEntry
	for _, n := range c.Numbers {
		if sameServer(n.Server, server) {
			out = append(out, n)
		}
	}
	return out
}

// remember adds a number, replacing an older entry for the same number on
// the same server (a re-registration after the old one expired).
func (c *config) remember(n numberEntry) {
	for i, old := range c.Numbers {
		if old.Number == n.Number && sameServer(old.Server, n.Server) {
			c.Numbers[i] = n
			return
		}
	}
	c.Numbers = append(c.Numbers, n)
}

// forget drops a number of server; it reports whether there was one.
func (c *config) forget(number, server string) bool {
	for i, n := range c.Numbers {
		if n.Number == number && sameServer(n.Server, server) {
			c.Numbers = append(c.Numbers[:i], c.Numbers[i+1:]...)
			return true
		}
	}
	return false
}

// normalizeServer makes a -server value a URL: a bare host:port gets
// http://, and an empty path becomes "/", the protocol's default.
func normalizeServer(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	scheme, rest, _ := strings.Cut(s, "://")
	if !strings.Contains(rest, "/") {
		rest += "/"
	}
	return scheme + "://" + rest
}

// sameServer compares server URLs loosely: a trailing slash does not make
// another server.
func sameServer(a, b string) bool {
	return strings.TrimRight(normalizeServer(a), "/") == strings.TrimRight(normalizeServer(b), "/")
}
