package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openFiles is how many file descriptors process pid has open.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("counting ringd's descriptors: %v", err)
	}
	return len(fds)
}

// logText is what p has logged so far.
func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// logLines is how many lines of p's log hold s.
func (p *proc) logLines(s string) int { return strings.Count(p.logText(), s) }

// TestOutOfDescriptorsLoggedOnce: a ringd at its file-descriptor limit
// logs it once however many accepts fail, keeps the new connections
// waiting, serves them as soon as descriptors are free, and logs once that
// accepts work again. Run with -debug, where net/http's own log of each
// failed accept would show.
func TestOutOfDescriptorsLoggedOnce(t *testing.T) {
	p := startRingd(t, t.TempDir(), "-debug")
	c := newClient(p.url)
	newUser(t, c, "Alice") // the store's files are open
	c.hc.CloseIdleConnections()
	pid := p.cmd.Process.Pid
	// Room for a few more descriptors than it has open now: connections,
	// and the files of the store's connections it may open meanwhile.
	limit := uint64(openFiles(t, pid) + 10)
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: limit}, nil); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 40 {
		conn, err := net.Dial("tcp", host) // taken by the kernel, queued for accept
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	p.waitLog(t, "out of file descriptors")
	// Accepts fail and are retried meanwhile, a few times a second.
	time.Sleep(500 * time.Millisecond)
	if n := p.logLines("too many open files"); n != 1 {
		t.Fatalf("the failing accepts were logged %d times, want once:\n%s", n, p.logText())
	}

	// Descriptors come free: the connections waiting are served, and a
	// new client too. Once accepts have worked for a while, that is
	// logged, once.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	freed := time.Now()
	c = newClient(p.url)
	c.must(t, map[string]any{"req": "register"}, nil)
	c.hc.CloseIdleConnections()
	t.Logf("a new client was served %v after descriptors came free", time.Since(freed))
	if d := time.Since(freed); d > 5*time.Second {
		t.Fatalf("a new client waited %v once descriptors were free", d)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.logLines("accepting connections again") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ringd never logged that it accepts again:\n%s", p.logText())
		}
		time.Sleep(100 * time.Millisecond)
		conn, err := net.Dial("tcp", host) // an accept, to be logged at
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	if out, again := p.logLines("out of file descriptors"), p.logLines("accepting connections again"); out != 1 || again != 1 {
		t.Fatalf("logged running out %d times and accepting again %d times, want once each:\n%s", out, again, p.logText())
	}
	for _, line := range strings.Split(p.logText(), "\n") {
		if strings.Contains(line, "descriptors") || strings.Contains(line, "accepting") {
			t.Log(line)
		}
	}
	if n := p.logLines("Accept error"); n != 0 {
		t.Fatalf("net/http logged %d failed accepts", n)
	}
}
