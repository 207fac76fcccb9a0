package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// Work that every node looks for and exactly one must do: a ring timeout,
// a push. Each is claimed in the database, never by anything a node keeps
// in memory, so that two nodes never do it both, and a node that dies
// leaves nothing undone.

// DefaultPushLease is how long a node's claim on a push lasts unless
// SetPushLease says otherwise: past it, another node may send the push
// again. It must outlast one attempt.
const DefaultPushLease = time.Minute

// SetPushLease sets how long a node's claim on the pushes it takes lasts
// (the dispatcher's attempt timeout and a margin). A push is sent twice
// only when its node died, or its attempt outlasted this, within it.
func (db *DB) SetPushLease(d time.Duration) {
	db.pushLease.Store(d.Milliseconds())
}

func (db *DB) pushLeaseMS() int64 {
	if l := db.pushLease.Load(); l > 0 {
		return l
	}
	return DefaultPushLease.Milliseconds()
}

// ClaimDuePushes is DuePushes that also claims what it returns: the push
// dispatcher takes its work with it (push.Claimer). It returns up to limit
// pushes due at now, soonest first, leaving out those whose id is in skip
// (being sent here) and those another node holds a claim on. The claim is a lease
// (claimed_until) taken with FOR UPDATE SKIP LOCKED: nodes asking at once
// take different pushes, and none waits for another. A push's claim ends
// when it is deleted (sent, given up), rescheduled (RetryPush), or its
// lease runs out: its node died, and another sends it.
func (db *DB) ClaimDuePushes(ctx context.Context, now time.Time, limit int, skip map[int64]bool) ([]store.Push, error) {
	rows, err := db.pool.Query(ctx, `UPDATE outbox SET claimed_until = $4 WHERE id IN (
			SELECT id FROM outbox WHERE due <= $1 AND claimed_until <= $1 AND id <> ALL($2)
			ORDER BY due, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+pushColumns,
		ms(now), idsOf(skip), limit, ms(now)+db.pushLeaseMS())
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := scanPushes(rows)
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b store.Push) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// lockCallToEnd locks the call e ends. A party's hangup waits for the
// lock; the server's timeout does not (SKIP LOCKED): a call locked now is
// being answered or ended by a request, or timed out by another node's
// timer, and whichever commits decides. If that one rolls back, the
// deadline is still there and the next round of some timer takes it. So
// every node's timer may look for due calls, and each call's timeout is
// ended by one transaction: the compare-and-set in EndCall settles any
// race that slips past the lock.
func (tx *wtx) lockCallToEnd(ctx context.Context, e store.CallEnd) (store.Call, error) {
	if e.By != "" {
		return tx.lockCall(ctx, e.ID)
	}
	c, err := scanCall(tx.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = $1 FOR UPDATE SKIP LOCKED`, e.ID))
	if errors.Is(err, store.ErrBadCallID) {
		return c, store.ErrCallState // gone, or claimed by another
	}
	return c, err
}

// ReleasePushes ends the claims on ids at once: the dispatcher gives up
// what it abandoned when it stopped, so another node need not wait out
// the lease. Ids no longer in the outbox are left.
func (db *DB) ReleasePushes(ctx context.Context, ids []int64) error {
	_, err := db.pool.Exec(ctx, `UPDATE outbox SET claimed_until = 0 WHERE id = ANY($1)`, ids)
	return mapErr(err)
}
