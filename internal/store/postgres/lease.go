package postgres

import (
	"context"
	"time"
)

// Leases keep work to one node at a time (the janitor's expiry and sweep),
// as river's leader election does: a row per kind of work names its
// holder and when its hold ends, by PostgreSQL's clock, so the nodes'
// clocks need not agree. The holder renews it well within its length; any
// node takes a row whose hold has ended. A row, not an advisory lock: a
// node whose session drops (a pooler, a failover) loses nothing it does
// not see, and a node that dies is replaced within one lease length.

// HoldLease takes or renews the lease name for holder, for ttl from now.
// It reports whether holder holds it: false while another holder's hold
// has not ended.
func (db *DB) HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	rows, err := db.pool.Query(ctx, `INSERT INTO leases(name, holder, expires)
		VALUES($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
			WHERE leases.holder = excluded.holder OR leases.expires <= now()
		RETURNING holder`, name, holder, ttl.Milliseconds())
	if err != nil {
		return false, mapErr(err)
	}
	defer rows.Close()
	held := rows.Next()
	return held, mapErr(rows.Err())
}

// ReleaseLease gives up holder's lease name at once, so another node takes
// it without waiting for it to end; a lease holder does not hold is left.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return mapErr(err)
}

// LeaseHolder names who holds the lease name now; "" when nobody does.
func (db *DB) LeaseHolder(ctx context.Context, name string) (string, error) {
	var holder string
	err := db.pool.QueryRow(ctx, `SELECT holder FROM leases WHERE name = $1 AND expires > now()`, name).Scan(&holder)
	if notFound(err) {
		return "", nil
	}
	return holder, mapErr(err)
}
