package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestConcurrentSendsAllStored: every one of many concurrent sends over
// HTTP answered 10000 is there afterwards. How many commits they shared is
// logged only: over HTTP that depends on the machine's timing; the store's
// TestGroupCommit asserts the sharing itself.
func TestConcurrentSendsAllStored(t *testing.T) {
	ringtest.NeedSQLite(t)
	s := ringtest.New(t, ringtest.NewConfig(t))
	const senders, each = 32, 10
	from := make([]ringtest.User, senders)
	for i := range from {
		from[i] = s.User(t, fmt.Sprintf("Sender %d", i))
	}
	bob := s.User(t, "Bob")
	c0 := s.DB.Commits()

	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for i := range from {
		wg.Go(func() {
			for j := range each {
				text := fmt.Sprintf("message %d from %d", j, i)
				body := ringtest.Body(map[string]any{"req": "send", "uuid": from[i].UUID, "callee": bob.Number, "length": len(text)}, []byte(text))
				resp, err := http.Post(s.URL, "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !bytes.HasPrefix(b, []byte(`{"answer":10000,`)) {
					errs <- fmt.Errorf("send answered %s", b)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	commits := s.DB.Commits() - c0
	sends := int64(senders * each)
	t.Logf("%d sends in %d commits", sends, commits)
	got := 0
	for {
		a, _ := s.Must(t, map[string]any{"req": "get", "uuid": []string{bob.UUID}}, nil)
		got += len(ringtest.Messages(a))
		if a["more"] != true {
			break
		}
	}
	if got != int(sends) {
		t.Fatalf("bob got %d messages, want %d", got, sends)
	}
}

// benchGet measures get end to end over HTTP against a real server: the
// request through net/http, the head parse, the uuid lookup, the store's
// take-and-mark, and the answer. With m > 0 each op first stores m
// messages for the receiver, untimed.
func benchGet(b *testing.B, m int) {
	s := ringtest.New(b, ringtest.NewConfig(b))
	alice := s.User(b, "Alice")
	bob := s.User(b, "Bob")
	body := ringtest.Body(map[string]any{"req": "get", "uuid": []string{bob.UUID}}, nil)
	text := bytes.Repeat([]byte("x"), 100)
	sendBody := ringtest.Body(map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(text)}, text)
	b.ReportAllocs()
	for b.Loop() {
		if m > 0 {
			// Stored from several clients at once, so that the sends share
			// commits and the untimed part stays short.
			b.StopTimer()
			var wg sync.WaitGroup
			for range min(m, 16) {
				wg.Go(func() {
					for range m / min(m, 16) {
						if !postOK(b, http.DefaultClient, s.URL, sendBody, "send") {
							return
						}
					}
				})
			}
			wg.Wait()
			b.StartTimer()
		}
		_, a, _ := s.PostRaw(b, body)
		if n := len(ringtest.Messages(a)); a.Code() != 10000 || n != m {
			b.Fatalf("get: %d messages, want %d: %v", n, m, a)
		}
	}
}

func BenchmarkGetEmpty(b *testing.B) { benchGet(b, 0) }
func BenchmarkGetOne(b *testing.B)   { benchGet(b, 1) }
func BenchmarkGet304(b *testing.B)   { benchGet(b, 304) } // 16 × 19

// BenchmarkGetEmptyParallel is get that finds nothing from many clients at
// once, each with its own number.
func BenchmarkGetEmptyParallel(b *testing.B) {
	s := ringtest.New(b, ringtest.NewConfig(b))
	users := make(chan ringtest.User, 64)
	for i := range cap(users) {
		users <- s.User(b, fmt.Sprintf("User %d", i))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		u := <-users
		body := ringtest.Body(map[string]any{"req": "get", "uuid": []string{u.UUID}}, nil)
		postEach(b, pb, hc, s.URL, body, "get")
	})
}

// BenchmarkSendText is the send of a 100-byte text end to end over HTTP,
// one at a time: each waits for its own commit and sync.
func BenchmarkSendText(b *testing.B) {
	s := ringtest.New(b, ringtest.NewConfig(b))
	alice := s.User(b, "Alice")
	bob := s.User(b, "Bob")
	text := bytes.Repeat([]byte("x"), 100)
	body := ringtest.Body(map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": len(text)}, text)
	b.ReportAllocs()
	for b.Loop() {
		if _, a, _ := s.PostRaw(b, body); a.Code() != 10000 {
			b.Fatalf("send answered %v", a)
		}
	}
}

// BenchmarkSendTextParallel is the send of a 100-byte text from 64 clients
// at once, each to its own callee, as ringbench's send load: they share
// commits and syncs, so its ns/op is mostly the CPU of a send.
func BenchmarkSendTextParallel(b *testing.B) {
	s := ringtest.New(b, ringtest.NewConfig(b))
	type pair struct{ from, to ringtest.User }
	pairs := make([]pair, 64)
	for i := range pairs {
		pairs[i] = pair{s.User(b, fmt.Sprintf("Sender %d", i)), s.User(b, fmt.Sprintf("Callee %d", i))}
	}
	var next atomic.Int64
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	text := bytes.Repeat([]byte("x"), 100)
	b.ReportAllocs()
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		p := pairs[int(next.Add(1))%len(pairs)]
		body := ringtest.Body(map[string]any{"req": "send", "uuid": p.from.UUID, "callee": p.to.Number, "length": len(text)}, text)
		postEach(b, pb, hc, s.URL, body, "send")
	})
}

// postEach posts body to url over hc once per pb.Next, failing b on an
// answer other than 10000 to the request named what.
func postEach(b *testing.B, pb *testing.PB, hc *http.Client, url string, body []byte, what string) {
	for pb.Next() {
		if !postOK(b, hc, url, body, what) {
			return
		}
	}
}

// postOK posts body to url over hc and reports whether the answer was
// 10000, failing b if not.
func postOK(b *testing.B, hc *http.Client, url string, body []byte, what string) bool {
	resp, err := hc.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return false
	}
	a, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.HasPrefix(a, []byte(`{"answer":10000,`)) {
		b.Errorf("%s answered %s", what, a)
		return false
	}
	return true
}
