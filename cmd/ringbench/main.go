// Command ringbench is ringd's load tool. It speaks the real protocol: it
// registers and logs in numbers of its own, then drives one operation with C
// concurrent connections for a duration or a count and prints requests/s,
// latency percentiles, the answer codes seen and, when it started the server
// itself, the server's CPU seconds and peak RSS.
//
//	ringbench [flags]          one load against ringd (-url, or -server-bin to start one)
//	ringbench compare [flags]  the same load alternately against ringd and against a
//	                           bare net/http handler (the ceiling), and their ratio
//	ringbench disk [flags]     what the filesystem can make durable, with no server
//
// Interrupting it (SIGINT, SIGTERM) stops every process it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// config is one invocation's settings.
type config struct {
	url        string
	serverBin  string
	serverArgs []string
	op         string
	size       int
	callees    int
	m          int
	wait       int
	prefill    int
	conns      int
	dur        time.Duration
	count      int
	warmup     time.Duration
	pairs      int
	verbose    bool
	// ab's second server: a running one, or a binary (default: serverBin)
	// started with its own flags.
	bURL  string
	bBin  string
	bArgs []string
}

const usage = `Usage:
  ringbench [flags]            run one load against ringd
  ringbench compare [flags]    alternate ringd and the built-in ceiling (A B A B ...)
  ringbench ab [flags]         alternate two ringd servers, A and B (two builds, or two
                               configurations: -b-bin, -b-args, -b-url), and their ratio B/A
  ringbench disk [flags]       durable writes the filesystem allows (-mode append|overwrite|files)

Operations (-op):
  send    send of a text of -size bytes
  file    send of a file of -size bytes
  sends   sends of a text of -size bytes to -callees callees
  get     get; with -m 0 it finds nothing (or long-polls -wait seconds),
          with -m M it returns M texts of -size bytes
  fetch   fetch of a file of -size bytes
  login   login of one number

Flags:
`

func parse(args []string, out io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("ringbench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.url, "url", "", "URL of a running ringd to load")
	fs.StringVar(&c.serverBin, "server-bin", "", "ringd binary to start on a temp data dir and a free port")
	serverArgs := fs.String("server-args", "", "extra flags for the started ringd, space-separated")
	fs.StringVar(&c.op, "op", "send", "operation: send, file, sends, get, fetch, login")
	fs.IntVar(&c.size, "size", 100, "bytes of data of send, file, sends, get's texts and fetch")
	fs.IntVar(&c.callees, "callees", 1000, "callees of each sends")
	fs.IntVar(&c.m, "m", 0, "messages each get returns")
	fs.IntVar(&c.wait, "wait", 0, "get with -m 0: seconds each get long-polls (\"wait\"); with -c N -n N it holds N polls at once")
	fs.IntVar(&c.prefill, "prefill", 0, "before the load, store this many messages (from one sender to 1000 numbers, then delivered), to measure cost against history")
	fs.IntVar(&c.conns, "c", 64, "concurrent connections")
	fs.DurationVar(&c.dur, "d", 5*time.Second, "duration of each run (unless -n)")
	fs.IntVar(&c.count, "n", 0, "requests of each run (instead of -d)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "load before each timed run, not counted (not with -n)")
	fs.IntVar(&c.pairs, "pairs", 3, "compare and ab: pairs of runs (ringd and the ceiling, or A and B)")
	fs.BoolVar(&c.verbose, "v", false, "print setup progress")
	fs.StringVar(&c.bURL, "b-url", "", "ab: URL of a running ringd as B")
	fs.StringVar(&c.bBin, "b-bin", "", "ab: ringd binary to start as B (default: -server-bin)")
	bArgs := fs.String("b-args", "", "ab: extra flags for B, space-separated")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.serverArgs = strings.Fields(*serverArgs)
	c.bArgs = strings.Fields(*bArgs)
	switch {
	case (c.url == "") == (c.serverBin == ""):
		return nil, errors.New("give exactly one of -url and -server-bin")
	case c.conns < 1:
		return nil, errors.New("-c must be at least 1")
	case c.size < 1 && c.op != "get" && c.op != "login":
		return nil, errors.New("-size must be at least 1")
	case c.callees < 1:
		return nil, errors.New("-callees must be at least 1")
	case c.m < 0 || c.count < 0 || c.pairs < 1 || c.wait < 0 || c.prefill < 0:
		return nil, errors.New("-m, -n, -wait must be positive, -pairs at least 1")
	case c.wait > 0 && (c.op != "get" || c.m > 0):
		return nil, errors.New("-wait is for get with -m 0")
	}
	if c.count > 0 {
		c.warmup = 0
	}
	return c, nil
}

func main() {
	args := os.Args[1:]
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "ceiling":
		// The ceiling server itself, started by compare as a child process
		// so that it, like ringd, has a process (and cores) of its own.
		err = ceilingMain(ctx, args)
	case "disk":
		err = diskMain(ctx, args, os.Stdout)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
	case "", "compare", "ab":
		var c *config
		c, err = parse(args, os.Stderr)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err == nil {
			switch cmd {
			case "compare":
				err = compare(ctx, c, os.Stdout)
			case "ab":
				err = ab(ctx, c, os.Stdout)
			default:
				err = bench(ctx, c, os.Stdout)
			}
		}
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ringbench:", err)
		os.Exit(1)
	}
}
