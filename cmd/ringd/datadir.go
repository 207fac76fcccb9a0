package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// madeDir is what makeDataDir made: a start that fails before serving
// leaves no directory behind that it created, and never touches one that
// existed before.
type madeDir struct {
	top    string // the topmost directory this run made; "": none
	served bool   // set once serving: from then on nothing is removed
}

// makeDataDir makes dir and its missing parents.
func makeDataDir(dir string) (*madeDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var missing []string // from dir up to the topmost missing parent
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	m := &madeDir{}
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], 0o700)
		switch {
		case err == nil && m.top == "":
			m.top = missing[i]
		case errors.Is(err, fs.ErrExist):
			// Made meanwhile by someone else: not ours to remove.
		case err != nil:
			m.removeUnlessServed(nil)
			return nil, err
		}
	}
	if err := os.MkdirAll(abs, 0o700); err != nil { // dir exists as a file, say
		return nil, err
	}
	return m, nil
}

// removeUnlessServed removes, with all in it, the topmost directory this
// run made, unless ringd has served: the start failed.
func (m *madeDir) removeUnlessServed(log *slog.Logger) {
	if m.served || m.top == "" {
		return
	}
	err := os.RemoveAll(m.top)
	if log != nil {
		log.Info("removed the data directory this failed start made", "dir", m.top, "err", err)
	}
}
