//go:build !linux

package blob

import (
	"errors"
	"os"
)

func openDirect(name string, create bool) (*os.File, error) {
	return nil, errors.New("blob: O_DIRECT needs Linux")
}

func preallocate(f *os.File, size int64) (allocated bool, err error) { return false, nil }
