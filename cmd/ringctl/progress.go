package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws one line on a terminal: a bar, percent, sizes and speed.
// It is a few dozen lines, so ringctl carries it rather than a dependency.
// Updates come from the goroutine moving the data and are throttled, since
// they arrive once per read or write.
type progressBar struct {
	w     io.Writer
	label string

	mu      sync.Mutex
	start   time.Time
	drawn   time.Time
	done    int64
	total   int64
	visible bool
}

const progressThreshold = 1 << 20 // smaller transfers are over before a bar helps

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, start: time.Now()}
}

// update is a client.ProgressFunc.
func (p *progressBar) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	now := time.Now()
	if done < total && now.Sub(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = now
	p.draw(now)
}

func (p *progressBar) draw(now time.Time) {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	speed := ""
	if secs := now.Sub(p.start).Seconds(); secs > 0.2 {
		speed = "  " + humanBytes(int64(float64(p.done)/secs)) + "/s"
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3.0f%%  %s / %s%s\x1b[K",
		p.label, bar, frac*100, humanBytes(p.done), humanBytes(p.total), speed)
	p.visible = true
}

// finish ends the bar's line, drawing its last state.
func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.visible {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
		p.visible = false
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
