package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// makeDataDir makes dir and its missing parents. When it made any, it
// returns removeMade, which removes the topmost directory it made with all
// that is in it and returns its path: a start that fails before serving
// leaves no directory behind that it created, and never touches one that
// existed before (nil removeMade: it made none).
func makeDataDir(dir string) (removeMade func() string, err error) {
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
	made := ""
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], 0o700)
		switch {
		case err == nil && made == "":
			made = missing[i]
		case errors.Is(err, fs.ErrExist):
			// Made meanwhile by someone else: not ours to remove.
		case err != nil:
			if made != "" {
				os.RemoveAll(made)
			}
			return nil, err
		}
	}
	if err := os.MkdirAll(abs, 0o700); err != nil { // dir exists as a file, say
		return nil, err
	}
	if made == "" {
		return nil, nil
	}
	return func() string { os.RemoveAll(made); return made }, nil
}
