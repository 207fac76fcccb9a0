package server_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestConcurrentGetsDeliverOnce: gets of one number racing each other and
// the sends never hand out a message twice, and lose none. (get reads on
// the read pool and keeps only what its own commit marked delivered.)
func TestConcurrentGetsDeliverOnce(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice := s.User(t, "Alice")
	bob := s.User(t, "Bob")
	const n = 200

	var mu sync.Mutex // guards seen and sent
	seen := map[string]int{}
	sent := 0
	done := make(chan struct{})
	var getters sync.WaitGroup
	for range 8 {
		getters.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, m := range s.Get(t, bob) {
					mu.Lock()
					seen[m["msgid"].(string)]++
					mu.Unlock()
				}
			}
		})
	}
	var senders sync.WaitGroup
	for g := range 4 {
		senders.Go(func() {
			for i := range n / 4 {
				if a := s.Send(t, alice, bob.Number, fmt.Sprintf("text %d/%d", g, i)); a.Code() != 10000 {
					t.Errorf("send: %v", a)
					return
				}
				mu.Lock()
				sent++
				mu.Unlock()
			}
		})
	}
	senders.Wait()
	close(done)
	getters.Wait()
	// Whatever the getters left, one last get takes.
	for _, m := range s.Get(t, bob) {
		seen[m["msgid"].(string)]++
	}
	if len(seen) != sent {
		t.Errorf("%d distinct messages delivered, %d sent", len(seen), sent)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("message %s delivered %d times", id, k)
		}
	}
}
