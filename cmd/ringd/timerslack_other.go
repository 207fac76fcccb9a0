//go:build !linux

package main

import "time"

// timerSlack: only Linux has a timer slack to set (timerslack_linux.go).
func timerSlack() (time.Duration, error) { return 0, nil }
