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
