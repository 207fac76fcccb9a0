package main

import (
	"strings"
)

// secretFlags are the flags whose values are secrets. pprof's cmdline
// shows them redacted (debug.go).
var secretFlags = []string{"admin-token", "register-key", "ai-key"}

// redacted replaces a secret flag's value where the arguments are shown.
const redacted = "[redacted]"

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
