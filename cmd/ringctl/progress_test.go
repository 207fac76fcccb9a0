package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	bar := newProgressBar(&out, "sending")
	bar.update(0, 4<<20)
	bar.update(1<<20, 4<<20) // throttled: too soon after the first draw
	bar.update(4<<20, 4<<20) // the end is always drawn
	bar.finish()
	s := out.String()
	if strings.Count(s, "\r") != 3 { // first draw, last draw, finish's redraw
		t.Errorf("drew %d times: %q", strings.Count(s, "\r"), s)
	}
	if !strings.Contains(s, "100%  4.0 MiB / 4.0 MiB") || !strings.HasSuffix(s, "\n") {
		t.Errorf("last state not drawn: %q", s)
	}
	if !strings.Contains(s, "[>                             ]   0%") {
		t.Errorf("first state not drawn: %q", s)
	}

	var quiet bytes.Buffer
	newProgressBar(&quiet, "x").finish()
	if quiet.Len() != 0 {
		t.Errorf("a bar never updated printed %q", quiet.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}
