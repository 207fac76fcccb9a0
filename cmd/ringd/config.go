package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/goccy/go-yaml"

	"github.com/ringd/ringd/internal/push"
)

// The configuration file (-config PATH) is YAML, or TOML when its name ends
// in .toml. Each top-level key is a flag's name (max-length, or
// max_length) and sets that flag unless the command line or the
// environment does; the section "push" configures push notifications (see
// docs/config.example.yaml). Unknown keys are an error, so a typo is not
// silently ignored.

// readConfig parses the file at path into its top-level keys.
func readConfig(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		if _, err := toml.Decode(string(b), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return m, nil
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// applyConfig sets, from the file, each flag given neither on the command
// line nor in the environment, and returns the push section (nil if none).
func applyConfig(fs *flag.FlagSet, path string) (*push.Config, error) {
	m, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pc *push.Config
	for _, k := range keys {
		v := m[k]
		name := strings.ReplaceAll(k, "_", "-")
		if name == "push" {
			if pc, err = decodePush(v); err != nil {
				return nil, fmt.Errorf("%s: push: %w", path, err)
			}
			continue
		}
		f := fs.Lookup(name)
		if f == nil || name == "config" || !fromEnvOrFile(name) {
			return nil, fmt.Errorf("%s: unknown setting %q", path, k)
		}
		if given[name] {
			continue // the command line wins
		}
		if _, ok := os.LookupEnv(envName(name)); ok {
			continue // and so does the environment
		}
		s, err := flagText(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		if err := f.Value.Set(s); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, k, err)
		}
	}
	return pc, nil
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "RINGD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagText renders a file's value as a flag's text: a list is joined with
// commas (as -reserved takes it).
func flagText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int, int64, uint64, int32, uint32:
		return fmt.Sprint(x), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := flagText(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("cannot use a %T as a flag's value", v)
}

// decodePush reads the push section through JSON, so that YAML and TOML
// share push.Config's one set of field names and its strictness.
func decodePush(v any) (*push.Config, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var pc push.Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pc); err != nil {
		return nil, err
	}
	if err := pc.Validate(); err != nil {
		return nil, err
	}
	return &pc, nil
}
