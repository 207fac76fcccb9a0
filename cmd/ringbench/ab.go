package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ab runs the load alternately against two ringd servers, A and B (two
// builds, or one build with two configurations), each with its own numbers
// and data, and prints each pair's B/A ratio and their median. A and B take
// turns going first, so that neither always runs on a warmer machine.
func ab(ctx context.Context, c *config, out io.Writer) error {
	a, stopA, err := ringdTarget(ctx, c, out)
	if err != nil {
		return err
	}
	defer stopA()
	a.name = "A"
	b, stopB, err := bTarget(ctx, c, out)
	if err != nil {
		return err
	}
	defer stopB()
	lds := make([]*load, 2)
	for i, t := range []*target{a, b} {
		if lds[i], err = setup(ctx, c, t.url, c.logf(out)); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	fmt.Fprintln(out, c.describe(lds[0]))
	var ratios []float64
	var bad error
	for pair := 1; pair <= c.pairs; pair++ {
		order := []int{0, 1}
		if pair%2 == 0 {
			order = []int{1, 0}
		}
		rs := make([]*result, 2)
		for _, i := range order {
			t := []*target{a, b}[i]
			if rs[i], err = timed(ctx, c, lds[i], t); err != nil {
				return err
			}
			fmt.Fprintln(out, rs[i])
			if !rs[i].ok() && bad == nil {
				bad = fmt.Errorf("%s: %d of %d requests not answered 10000", t.name, rs[i].n+rs[i].errs-rs[i].codes[10000], rs[i].n+rs[i].errs)
			}
		}
		ratio := rs[1].rate() / rs[0].rate()
		ratios = append(ratios, ratio)
		fmt.Fprintf(out, "pair %d: B/A = %.3f\n", pair, ratio)
	}
	slices.Sort(ratios)
	fmt.Fprintf(out, "median B/A over %d pairs: %.3f\n", len(ratios), median(ratios))
	return bad
}

// bTarget starts B (-b-bin, default -server-bin, with -b-args) or uses the
// running one at -b-url.
func bTarget(ctx context.Context, c *config, out io.Writer) (*target, func(), error) {
	if c.bURL != "" {
		return newTarget("B", c.bURL, nil, c.conns, true), func() {}, nil
	}
	bin := c.bBin
	if bin == "" {
		bin = c.serverBin
	}
	if bin == "" {
		return nil, nil, errors.New("ab: give -b-url, or -b-bin (or -server-bin) to start B")
	}
	p, err := startRingd(ctx, bin, c.bArgs)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "# started B: %s %v at %s (pid %d)\n", bin, c.bArgs, p.url, p.cmd.Process.Pid)
	t := newTarget("B", p.url, p, c.conns, true)
	return t, func() { t.close(); p.stop() }, nil
}
