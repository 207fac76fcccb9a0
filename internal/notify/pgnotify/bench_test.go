package pgnotify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/testsrv"
)

// BenchmarkWakeAcross is one wake-up from a Notify on one node to its
// waiter on another: a NOTIFY's commit and its delivery, end to end.
func BenchmarkWakeAcross(b *testing.B) {
	url := testsrv.Postgres(b)
	a, n := open(b, url, time.Hour), open(b, url, time.Hour)
	woke, cancel := n.Subscribe(notify.Messages("100"))
	defer cancel()
	for b.Loop() {
		a.Notify(notify.Messages("100"))
		select {
		case <-woke:
		case <-time.After(10 * time.Second):
			b.Fatal("not woken")
		}
	}
}

// BenchmarkBurstAcross is a burst of notifies of distinct topics, as many
// sends to many numbers make, until the other node has heard them all;
// the sender batches them into few NOTIFYs.
func BenchmarkBurstAcross(b *testing.B) {
	url := testsrv.Postgres(b)
	a, n := open(b, url, time.Hour), open(b, url, time.Hour)
	const topics = 1000
	chans := make([]<-chan struct{}, topics)
	for i := range chans {
		c, cancel := n.Subscribe(notify.Messages(fmt.Sprint(1_000_000 + i)))
		defer cancel()
		chans[i] = c
	}
	for b.Loop() {
		for i := range topics {
			a.Notify(notify.Messages(fmt.Sprint(1_000_000 + i)))
		}
		for _, c := range chans {
			select {
			case <-c:
			case <-time.After(10 * time.Second):
				b.Fatal("not woken")
			}
		}
	}
	b.ReportMetric(float64(topics*b.N)/b.Elapsed().Seconds(), "topics/s")
}
