package push

import (
	"context"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// Claimer is an outbox that several nodes drain at once (the PostgreSQL
// engine). Its ClaimDuePushes is DuePushes that also takes a lease on
// what it returns, in the store, so that no other node sends those pushes
// until the lease ends. The dispatcher's own in-flight set then only
// keeps one node from taking a push twice; what keeps two nodes apart is
// the store's claim.
type Claimer interface {
	ClaimDuePushes(ctx context.Context, now time.Time, limit int, skip map[int64]bool) ([]store.Push, error)
}

// leaseMargin is how much longer than one attempt a claim lasts: its
// bookkeeping after the provider answered.
const leaseMargin = 10 * time.Second

// Lease is how long a claim on a push should last under c: one attempt
// and a margin. A push is sent twice only when its node dies within it.
func (c Config) Lease() time.Duration {
	c.setDefaults()
	return time.Duration(c.Timeout) + leaseMargin
}

// takeDue returns the pushes due at now, claimed if the outbox claims.
func (d *Dispatcher) takeDue(now time.Time, limit int, skip map[int64]bool) ([]store.Push, error) {
	if c, ok := d.out.(Claimer); ok {
		return c.ClaimDuePushes(d.ctx, now, limit, skip)
	}
	return d.out.DuePushes(d.ctx, now, limit, skip)
}

// claimReleaser is a Claimer that can end its claims before their lease.
type claimReleaser interface {
	ReleasePushes(ctx context.Context, ids []int64) error
}

// inFlight returns the ids of the pushes being sent now.
func (d *Dispatcher) inFlight() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]int64, 0, len(d.inflight))
	for id := range d.inflight {
		ids = append(ids, id)
	}
	return ids
}

// releaseClaims gives up the claims on ids, the pushes that were in
// flight when Close abandoned them, so another node sends them at once
// rather than once their lease ends. One whose attempt had reached the
// provider is sent twice, as it would be after the lease.
func (d *Dispatcher) releaseClaims(ids []int64) {
	r, ok := d.out.(claimReleaser)
	if !ok || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ReleasePushes(ctx, ids); err != nil {
		d.log.Warn("push: releasing the claims of abandoned pushes", "err", err)
	}
}
