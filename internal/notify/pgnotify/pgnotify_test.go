package pgnotify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/notify/pgnotify"
	"github.com/ringd/ringd/internal/testsrv"
)

// open starts a Notifier on url, closed at t's end.
func open(t testing.TB, url string, recheck time.Duration) *pgnotify.Notifier {
	t.Helper()
	n, err := pgnotify.Open(context.Background(), url, pgnotify.Options{Recheck: recheck})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// woken reports how long c took to receive, or fails after within.
func woken(t *testing.T, c <-chan struct{}, within time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-c:
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("%s: not woken within %v", what, within)
		return 0
	}
}

// quiet fails if c receives within d.
func quiet(t *testing.T, c <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-c:
		t.Fatalf("%s: woken", what)
	case <-time.After(d):
	}
}

func TestWakesAcrossNotifiers(t *testing.T) {
	url := testsrv.Postgres(t)
	a := open(t, url, time.Hour)
	b := open(t, url, time.Hour)
	onB, cancel := b.Subscribe(notify.Messages("100"), notify.Call("c1"))
	defer cancel()
	onA, cancelA := a.Subscribe(notify.Messages("100"))
	defer cancelA()

	a.Notify(notify.Messages("200")) // another topic: no wake-up
	quiet(t, onB, 300*time.Millisecond, "a topic B does not wait on")

	start := time.Now()
	a.Notify(notify.Messages("100"))
	woken(t, onA, 10*time.Millisecond, "the notifying node's own waiter")
	woken(t, onB, time.Second, "B, by a notify on A")
	t.Logf("wake-up across two notifiers: %v", time.Since(start))

	b.Notify(notify.Call("c1"))
	woken(t, onB, 10*time.Millisecond, "B's own notify")
	quiet(t, onB, 300*time.Millisecond, "B's notification coming back to B")
	quiet(t, onA, 0, "A, on a topic it does not wait on")
}

func TestBatchesManyTopics(t *testing.T) {
	url := testsrv.Postgres(t)
	a := open(t, url, time.Hour)
	b := open(t, url, time.Hour)
	const n = 3000 // more than one payload holds
	chans := make([]<-chan struct{}, n)
	for i := range chans {
		c, cancel := b.Subscribe(notify.Messages(fmt.Sprint(1000000 + i)))
		defer cancel()
		chans[i] = c
	}
	for i := range n {
		a.Notify(notify.Messages(fmt.Sprint(1000000 + i)))
	}
	for i, c := range chans {
		woken(t, c, 5*time.Second, fmt.Sprint("topic ", i))
	}
}

func TestListenerTerminated(t *testing.T) {
	url := testsrv.Postgres(t)
	a := open(t, url, time.Hour)
	b := open(t, url, time.Hour)
	onB, cancel := b.Subscribe(notify.Messages("100"))
	defer cancel()
	a.Notify(notify.Messages("100")) // the sender's session exists too
	woken(t, onB, time.Second, "before")

	if n := testsrv.TerminateBackends(t, url, pgnotify.ApplicationName, ""); n < 3 {
		t.Fatalf("terminated %d sessions, want both listeners and A's sender", n)
	}
	// Anything sent meanwhile may be lost: the reconnect wakes every waiter.
	woken(t, onB, 5*time.Second, "B, after its listener reconnected")
	if r := counter(t, b, "ringd_pgnotify_listener_reconnects_total"); r != 1 {
		t.Fatalf("B's listener reconnects counted %v, want 1", r)
	}
	// And it listens again; A's sender reconnects on its next send, which
	// may be the one that finds its session gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.Notify(notify.Messages("100"))
		select {
		case <-onB:
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("B not woken by A after the listeners were terminated")
		}
	}
}

func TestRecheckWakesWithoutNotify(t *testing.T) {
	url := testsrv.Postgres(t)
	b := open(t, url, 200*time.Millisecond)
	onB, cancel := b.Subscribe(notify.Messages("100"))
	defer cancel()
	woken(t, onB, 2*time.Second, "the periodic re-check")
}

func TestOpenFailsWithoutDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pgnotify.Open(ctx, "postgres://nobody:secretpw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", pgnotify.Options{})
	if err == nil {
		t.Fatal("Open succeeded without a server")
	}
	if s := err.Error(); strings.Contains(s, "secretpw") {
		t.Fatalf("error names the password: %s", s)
	}
}

// counter is the value of the Notifier's metric name (a counter, or a
// histogram's count), read as /metrics would.
func counter(t *testing.T, n *pgnotify.Notifier, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(n)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// Published messages reach the other node's handlers of their kind, many
// payloads' worth in a burst, never the publishing node's own; what is not
// valid is dropped; a cancelled handler hears nothing more.
func TestPublishAcrossNotifiers(t *testing.T) {
	url := testsrv.Postgres(t)
	a := open(t, url, time.Hour)
	b := open(t, url, time.Hour)
	got := make(chan string, 10000)
	cancelB := b.Handle("rate", func(msg string) { got <- msg })
	defer a.Handle("rate", func(msg string) { t.Errorf("A heard its own message %q", msg) })()
	defer b.Handle("other", func(msg string) { t.Errorf("the handler of another kind heard %q", msg) })()
	wake, cancelWake := b.Subscribe(notify.Messages("100"))
	defer cancelWake()

	const n = 400 // 100-byte messages: several payloads of under 8000 bytes
	want := map[string]bool{}
	a.Notify(notify.Messages("100")) // a topic in the same batch
	a.Publish("rate", "bad\nline")
	a.Publish("a kind", "x")
	for i := range n {
		msg := fmt.Sprintf("r 192.0.2.%d %d %s", i%256, i, strings.Repeat("x", 80))
		want[msg] = true
		a.Publish("rate", msg)
	}
	woken(t, wake, 5*time.Second, "B, by the topic sent with the messages")
	for len(want) > 0 {
		select {
		case m := <-got:
			if !want[m] {
				t.Fatalf("B heard %q, not published or heard twice", m)
			}
			delete(want, m)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d messages never reached B", len(want), n)
		}
	}
	if d := counter(t, a, "ringd_pgnotify_messages_dropped_total"); d != 2 {
		t.Fatalf("%v messages dropped, want the 2 invalid ones", d)
	}
	// B can hear a NOTIFY before A's statement has returned and A counted
	// it: A's counts are read once they have stopped moving.
	var s, r float64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s, r = counter(t, a, "ringd_pgnotify_messages_sent_total"), counter(t, b, "ringd_pgnotify_messages_received_total")
		if s == n || time.Now().After(deadline) {
			break
		}
	}
	if s != n || r != n {
		t.Fatalf("messages sent by A %v, received by B %v; want %d", s, r, n)
	}
	notifies, batches := counter(t, a, "ringd_pgnotify_sends_total"), counter(t, a, "ringd_pgnotify_batch_lines")
	if notifies < 1 || notifies > n/10 || batches != notifies {
		t.Fatalf("%v NOTIFY statements (%v batches observed) for %d messages: not batched", notifies, batches, n)
	}
	t.Logf("%d messages and a topic in %v NOTIFY statements, %v notifications heard by B", n, notifies,
		counter(t, b, "ringd_pgnotify_notifications_received_total"))

	cancelB()
	a.Publish("rate", "after cancel")
	a.Notify(notify.Messages("100"))
	woken(t, wake, 5*time.Second, "B, by a topic sent after the message")
	select {
	case m := <-got:
		t.Fatalf("a cancelled handler heard %q", m)
	default:
	}
}
