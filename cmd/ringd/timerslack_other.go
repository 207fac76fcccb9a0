//go:build !linux || !cgo

package main

import "time"

// timerSlack: only Linux has a timer slack to set, and only a C constructor
// can set it early enough (timerslack_linux.go, which needs cgo).
func timerSlack() (time.Duration, error) { return 0, nil }
