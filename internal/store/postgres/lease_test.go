package postgres_test

import (
	"testing"
	"time"
)

// One holder at a time: a second is refused while the first renews, takes
// over once the hold has ended, and at once after a release.
func TestLeaseOneHolder(t *testing.T) {
	dbs, _ := nodes(t, 2)
	hold := func(i int, holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := dbs[i].HoldLease(t.Context(), "janitor", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !hold(0, "a", 400*time.Millisecond) || hold(1, "b", time.Minute) {
		t.Fatal("a should hold the new lease, and b not")
	}
	time.Sleep(250 * time.Millisecond)
	if !hold(0, "a", 400*time.Millisecond) || hold(1, "b", time.Minute) {
		t.Fatal("a renews within its hold; b is refused")
	}
	time.Sleep(500 * time.Millisecond) // a stops renewing, as if dead
	if !hold(1, "b", time.Minute) || hold(0, "a", time.Minute) {
		t.Fatal("b takes over an ended hold; a is then refused")
	}
	if h, err := dbs[0].LeaseHolder(t.Context(), "janitor"); err != nil || h != "b" {
		t.Fatalf("holder %q %v, want b", h, err)
	}
	if err := dbs[0].ReleaseLease(t.Context(), "janitor", "a"); err != nil || hold(0, "a", time.Minute) {
		t.Fatalf("a's release of b's lease changed it (%v)", err)
	}
	if err := dbs[1].ReleaseLease(t.Context(), "janitor", "b"); err != nil || !hold(0, "a", time.Minute) {
		t.Fatalf("a does not take a released lease at once (%v)", err)
	}
}
