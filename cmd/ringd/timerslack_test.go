package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The constructor ran in this test binary too, before the runtime: every
// thread the runtime made since has ringd's slack.
func TestTimerSlackOnEveryThread(t *testing.T) {
	if v, ok := os.LookupEnv("RINGD_TIMER_SLACK"); ok {
		t.Skipf("RINGD_TIMER_SLACK=%q is set for this run", v)
	}
	if d, err := timerSlack(); err != nil || d.Nanoseconds() != 1e6 {
		t.Fatalf("timerSlack() = %v, %v; want 1ms", d, err)
	}
	// Goroutines that lock their thread and wait make the runtime start
	// new threads for the others.
	const n = 8
	got := make(chan int, n)
	release := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			v, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
			if err != nil {
				v = -1
			}
			got <- v
			<-release
		}()
	}
	defer close(release)
	for range n {
		if v := <-got; v != 1e6 {
			t.Fatalf("a thread has a timer slack of %d ns, want 1000000", v)
		}
	}
}

// RINGD_TIMER_SLACK sets it; 0 leaves the one ringd was started with; a
// value that cannot be read stops ringd before it serves.
func TestTimerSlackFromEnvironment(t *testing.T) {
	bin := ringdBinary(t)
	// slackOf starts ringd with RINGD_TIMER_SLACK=env, through
	// startOnThread when it is given, and reads its main thread's slack.
	slackOf := func(env string, startOnThread func(*exec.Cmd) error) int {
		t.Helper()
		dir := t.TempDir()
		cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-data", dir)
		cmd.Env = append(os.Environ(), "RINGD_TIMER_SLACK="+env)
		var start func() error
		if startOnThread != nil {
			start = func() error { return startOnThread(cmd) }
		}
		p := startCmd(t, cmd, start)
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/timerslack_ns")
		if err != nil {
			t.Skipf("no /proc/PID/timerslack_ns: %v", err)
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for env, want := range map[string]int{"250us": 250000, "2ms": 2000000, "50000": 50000, "1s": 1000000000} {
		if got := slackOf(env, nil); got != want {
			t.Errorf("RINGD_TIMER_SLACK=%s: slack %d ns, want %d", env, got, want)
		}
	}
	// A child inherits the slack of the thread that starts it: start it
	// from a thread of our own with a slack nobody else uses. The
	// goroutine on that thread only starts the process; the test's checks
	// stay on the test's goroutine.
	startOnThread := func(cmd *exec.Cmd) error {
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // and never unlock: the thread goes with the goroutine
			if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 333000, 0, 0, 0); err != nil {
				errc <- err
				return
			}
			errc <- cmd.Start()
		}()
		return <-errc
	}
	if got := slackOf("0", startOnThread); got != 333000 {
		t.Errorf("RINGD_TIMER_SLACK=0: slack %d ns, want the inherited 333000", got)
	}
	for _, bad := range []string{"", "fast", "1h", "2s", "-1ms", "1.5ms", "10 ms"} {
		cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-data", t.TempDir())
		cmd.Env = append(os.Environ(), "RINGD_TIMER_SLACK="+bad)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "RINGD_TIMER_SLACK") {
			t.Errorf("RINGD_TIMER_SLACK=%q: %v, %s; want exit 2 naming the variable", bad, err, out)
		}
	}
}
