package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// secretFlags are the flags whose values are secrets. Each can be read from
// a file (-NAME-file) instead, and is never shown in full: a value on the
// command line is readable by every local user (ps, /proc/PID/cmdline),
// and pprof's cmdline shows it redacted (debug.go).
var secretFlags = []string{"admin-token", "register-key", "ai-key", "database"}

// redacted replaces a secret flag's value where the arguments are shown.
const redacted = "[redacted]"

// addSecretFileFlags defines -NAME-file for each secret flag.
func addSecretFileFlags(fs *flag.FlagSet) {
	for _, name := range secretFlags {
		fs.String(name+"-file", "", fmt.Sprintf("file holding -%s (a trailing newline is trimmed); unlike the flag, not shown to other local users", name))
	}
}

// readSecretFiles sets each secret flag from its file, once the command
// line, the environment and the config file have been read. A file that
// cannot be read or holds nothing is an error, and so is a secret set both
// directly and by file: which one is meant would be a guess.
func readSecretFiles(fs *flag.FlagSet) error {
	for _, name := range secretFlags {
		path := fs.Lookup(name + "-file").Value.String()
		if path == "" {
			continue
		}
		secret := fs.Lookup(name)
		if secret.Value.String() != "" {
			return fmt.Errorf("-%s and -%s-file are both set (by flag, %s or the config file): set one", name, name, envName(name))
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("-%s-file: %w", name, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return fmt.Errorf("-%s-file %s: the file is empty", name, path)
		}
		if err := secret.Value.Set(v); err != nil {
			return fmt.Errorf("-%s-file %s: %v", name, path, err)
		}
	}
	return nil
}

// redactArgs returns args with the value of each secret flag replaced by
// redacted, in every form the flag package takes: -name value, -name=value,
// and the same with two dashes.
func redactArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i := 1; i < len(out); i++ {
		dashes := len(out[i]) - len(strings.TrimLeft(out[i], "-"))
		if dashes == 0 || dashes > 2 {
			continue
		}
		name, _, hasValue := strings.Cut(out[i][dashes:], "=")
		if !isSecretFlag(name) {
			continue
		}
		if hasValue {
			out[i] = out[i][:dashes] + name + "=" + redacted
		} else if i+1 < len(out) {
			i++
			out[i] = redacted
		}
	}
	return out
}

func isSecretFlag(name string) bool {
	for _, s := range secretFlags {
		if s == name {
			return true
		}
	}
	return false
}
