//go:build !linux

package blob

import (
	"errors"
	"os"
)

var errNoTmpfile = errors.New("blob: unnamed temporary files need Linux")

func openTmpfile(dir string) (*os.File, error) { return nil, errNoTmpfile }

func linkTmpfile(f *os.File, final string) error { return errNoTmpfile }
