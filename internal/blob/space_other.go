//go:build !linux

package blob

import "errors"

// FreeSpace is not known here: growth and sends then learn of a full
// filesystem from their writes.
func FreeSpace(dir string) (int64, error) { return 0, errors.ErrUnsupported }
