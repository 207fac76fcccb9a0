package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process ringbench started and must stop.
type proc struct {
	name string
	cmd  *exec.Cmd
	url  string // where to POST
	dir  string // its temporary directory, removed by stop
	log  string // its stderr
	done chan struct{}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startRingd starts bin on a fresh data directory and a free port, and
// waits until it answers.
func startRingd(ctx context.Context, bin string, extra []string) (*proc, error) {
	dir, err := os.MkdirTemp("", "ringbench-ringd-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := append([]string{"-listen", addr, "-data", filepath.Join(dir, "data")}, extra...)
	return start(ctx, "ringd", bin, args, dir, addr)
}

// startCeiling starts this binary's ceiling server answering size bytes
// (a small JSON when 0).
func startCeiling(ctx context.Context, size int) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ringbench-ceiling-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{"ceiling", "-listen", addr, "-size", strconv.Itoa(size)}
	return start(ctx, "ceiling", self, args, dir, addr)
}

func start(ctx context.Context, name, bin string, args []string, dir, addr string) (*proc, error) {
	p := &proc{name: name, url: "http://" + addr + "/", dir: dir, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	// Not CommandContext: stop ends the child with SIGTERM and waits, so an
	// interrupted ringd still shuts down cleanly and its files are removed.
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if name == "ceiling" {
		p.cmd.Env = append(os.Environ(), ceilingEnv+"=1")
	}
	setDeathSignal(p.cmd)
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	if err := p.waitReady(ctx); err != nil {
		tail := p.logTail()
		p.stop()
		return nil, fmt.Errorf("%s did not start: %w\n%s", name, err, tail)
	}
	return p, nil
}

func (p *proc) waitReady(ctx context.Context) error {
	health := strings.TrimSuffix(p.url, "/") + "/healthz"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return errors.New("exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("no answer on " + health)
		}
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stop ends the process (SIGTERM, then SIGKILL after 10s) and removes its
// directory.
func (p *proc) stop() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	os.RemoveAll(p.dir)
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times; 100 on every
// Linux platform Go supports.
const clockTick = 100

// cpuSeconds is the user and system CPU time the process has used, or -1
// when /proc does not tell.
func (p *proc) cpuSeconds() float64 {
	if p == nil {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	// After ")": state(3) ... utime(14) stime(15), counted from 1.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return float64(ut+st) / clockTick
}

// peakRSS is the process's peak resident set (VmHWM) in bytes, or -1.
func (p *proc) peakRSS() int64 { return p.statusKB("VmHWM:") }

// rss is the process's resident set now (VmRSS) in bytes, or -1.
func (p *proc) rss() int64 { return p.statusKB("VmRSS:") }

func (p *proc) statusKB(field string) int64 {
	if p == nil {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
