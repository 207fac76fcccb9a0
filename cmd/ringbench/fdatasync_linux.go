package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes f's data and what is needed to read it back, not its
// times: the flush a log needs.
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
