package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestMain lets the test binary stand in for ringbench when compare starts
// the ceiling as a child of os.Executable().
func TestMain(m *testing.M) {
	if os.Getenv(ceilingEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "ceiling" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := ceilingMain(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestShortLoads runs each operation for a few hundred requests against a
// real ringd; bench fails unless every request was answered 10000.
func TestShortLoads(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	for _, args := range [][]string{
		{"-op", "send"},
		{"-op", "file", "-size", "5000"},
		{"-op", "sends", "-callees", "20", "-n", "50"},
		{"-op", "get", "-prefill", "2000"},
		{"-op", "get", "-m", "3", "-n", "150"},
		{"-op", "fetch", "-size", "6000"},
		{"-op", "login"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c, err := parse(append([]string{"-url", s.URL, "-c", "8", "-n", "200"}, args...), os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := bench(context.Background(), c, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			want := fmt.Sprintf("n=%d ", c.count)
			if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), fmt.Sprintf("10000:%d", c.count)) {
				t.Fatalf("output lacks %q answered 10000:\n%s", want, out.String())
			}
		})
	}
}

// TestGetRoundsReturnM checks that the get load's rounds leave each
// receiver exactly M messages, also after a run that stopped mid-round:
// a get answer of the wrong size would make the ceiling's size wrong.
func TestGetRoundsReturnM(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	c, err := parse([]string{"-url", s.URL, "-c", "4", "-op", "get", "-m", "2", "-size", "10"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ld, err := setup(ctx, c, s.URL, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	tg := newTarget("ringd", s.URL, nil, c.conns, true)
	defer tg.close()
	for _, n := range []int{7, 30} {
		r, err := run(ctx, c, ld, tg, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		if !r.ok() || r.n != n {
			t.Fatalf("run of %d: %v", n, r)
		}
		// Each answer holds exactly two messages.
		if got := r.answerLen; got == 0 {
			t.Fatal("no answer length recorded")
		}
	}
	a := &api{hc: tg.hc, url: s.URL}
	count := func(i int) int {
		t.Helper()
		ans, err := a.call(ctx, map[string]any{"req": "get", "uuid": []string{uuidOf(t, ld.gen(0, i))}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := ans["messages"].([]any)
		return len(msgs)
	}
	// Every receiver a run took from is empty afterwards.
	if n := count(6); n != 0 {
		t.Fatalf("receiver 6 still holds %d messages after the run", n)
	}
	// A run that stops after 2 of 5 prepared gets: done drains the other 3.
	if _, err := ld.round(ctx, 5); err != nil {
		t.Fatal(err)
	}
	ld.done(2)
	if n := count(3); n != 0 {
		t.Fatalf("receiver 3 holds %d messages after done drained it", n)
	}
	if n := count(1); n != 2 {
		t.Fatalf("receiver 1 holds %d messages, want the round's 2", n)
	}
}

func uuidOf(t *testing.T, getBody []byte) string {
	const key = `"uuid":["`
	i := bytes.Index(getBody, []byte(key))
	if i < 0 {
		t.Fatalf("no uuid in %q", getBody)
	}
	rest := getBody[i+len(key):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// TestCompare runs compare for one short pair: it starts the ceiling as a
// child process, loads both, and stops the child.
func TestCompare(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	c, err := parse([]string{"-url", s.URL, "-c", "4", "-n", "100", "-pairs", "1", "-op", "get", "-m", "1"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := compare(context.Background(), c, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"ringd ", "ceiling ", "pair 1: ringd/ceiling = ", "median ringd/ceiling over 1 pairs", "ceiling answers "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCeilingBodySize(t *testing.T) {
	for _, n := range []int{0, 10, 100, 4096, 70000} {
		b := ceilingBody(n)
		if n > len(smallAnswer) && len(b) != n {
			t.Errorf("ceilingBody(%d) has %d bytes", n, len(b))
		}
		if answerCode(b) != 10000 {
			t.Errorf("ceilingBody(%d) answers %d", n, answerCode(b))
		}
	}
}

// TestDisk runs each pattern of ringbench disk briefly; it checks that it
// runs and reports, not how fast.
func TestDisk(t *testing.T) {
	for _, mode := range []string{"append", "overwrite", "files"} {
		var out bytes.Buffer
		err := diskMain(context.Background(), []string{"-dir", t.TempDir(), "-mode", mode, "-size", "8192", "-c", "4", "-d", "200ms", "-span", "1048576"}, &out)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if !strings.HasPrefix(out.String(), "disk "+mode+" size=8192 c=4: ") || strings.Contains(out.String(), " 0 records/s") {
			t.Fatalf("%s: unexpected report %q", mode, out.String())
		}
	}
}

// TestAB runs ab for two short pairs against two real servers: each gets
// its own numbers, both are loaded, and the ratio is printed.
func TestAB(t *testing.T) {
	a := ringtest.New(t, ringtest.NewConfig(t))
	b := ringtest.New(t, ringtest.NewConfig(t))
	c, err := parse([]string{"-url", a.URL, "-b-url", b.URL, "-c", "4", "-n", "100", "-pairs", "2", "-op", "send"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ab(context.Background(), c, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"A ", "B ", "pair 1: B/A = ", "pair 2: B/A = ", "median B/A over 2 pairs"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Count(out.String(), "10000:100") != 4 {
		t.Fatalf("want four runs of 100 answered 10000:\n%s", out.String())
	}
}
