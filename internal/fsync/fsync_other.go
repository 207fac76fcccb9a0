//go:build !linux

package fsync

import "os"

func datasync(f *os.File) error { return f.Sync() }
