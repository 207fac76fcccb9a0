package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the child if ringbench dies without
// stopping it (kill -9), so no server outlives the run.
func setDeathSignal(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
