package postgres

import (
	"context"
	"github.com/jackc/pgx/v5"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// The push outbox. Pushes are queued inside the transaction of what they
// announce (queuePushes, queuePushTo), and the push dispatcher reads,
// reschedules and deletes them through the DB methods below
// (push.Outbox).

// queuePushes writes ps to the outbox in tx, due at once unless they say
// otherwise, leaving out those whose appid has no provider: one statement
// however many there are.
func (tx *wtx) queuePushes(ctx context.Context, ps []store.Push) error {
	f := tx.db.pushWanted.Load()
	if f == nil || len(ps) == 0 {
		return nil // push is not configured, or nothing to queue
	}
	var cols struct {
		kind, token, appid, caller, callerName, body, callid, reason []string
		msgid, created, expires, due, login                          []int64
	}
	for _, p := range ps {
		if !(*f)(p.AppID) {
			continue
		}
		due := p.Due
		if due.IsZero() {
			due = p.Created
		}
		cols.kind = append(cols.kind, string(p.Kind))
		cols.token = append(cols.token, p.Token)
		cols.appid = append(cols.appid, p.AppID)
		cols.caller = append(cols.caller, p.Caller)
		cols.callerName = append(cols.callerName, p.CallerName)
		cols.body = append(cols.body, p.Body)
		cols.callid = append(cols.callid, p.CallID)
		cols.reason = append(cols.reason, p.Reason)
		cols.msgid = append(cols.msgid, p.MsgID)
		cols.created = append(cols.created, ms(p.Created))
		cols.expires = append(cols.expires, ms(p.Expires))
		cols.due = append(cols.due, ms(due))
		cols.login = append(cols.login, p.Login)
	}
	if len(cols.kind) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox(kind, token, appid, caller, caller_name, body, callid, reason,
		msgid, created, expires, due, login)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])`,
		cols.kind, cols.token, cols.appid, cols.caller, cols.callerName, cols.body, cols.callid, cols.reason,
		cols.msgid, cols.created, cols.expires, cols.due, cols.login)
	if err == nil {
		tx.pushed = true
	}
	return err
}

// queuePushTo queues p for the device number is bound to, filling in its
// token, appid and login count; it queues nothing (false) when the number
// is not in use.
func (tx *wtx) queuePushTo(ctx context.Context, number string, p store.Push) (bool, error) {
	err := tx.QueryRow(ctx, `SELECT n.token, d.appid, d.login FROM numbers n JOIN devices d ON d.token = n.token
		WHERE n.number = $1`, number).Scan(&p.Token, &p.AppID, &p.Login)
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, tx.queuePushes(ctx, []store.Push{p})
}

// DuePushes returns up to limit pushes due at now, soonest first, leaving
// out those whose id is in skip (being sent) and those another node holds
// a lease on.
func (db *DB) DuePushes(ctx context.Context, now time.Time, limit int, skip map[int64]bool) ([]store.Push, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+pushColumns+` FROM outbox
		WHERE due <= $1 AND claimed_until <= $1 AND id <> ALL($2) ORDER BY due, id LIMIT $3`,
		ms(now), idsOf(skip), limit)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanPushes(rows)
}

// pushColumns are the outbox columns scanPushes reads, in its order.
const pushColumns = `id, kind, token, appid, caller, caller_name, body, msgid, callid, reason,
	created, expires, due, attempts, login`

// scanPushes reads rows of pushColumns.
func scanPushes(rows pgx.Rows) ([]store.Push, error) {
	var out []store.Push
	var p store.Push
	var kind string
	var created, expires, due int64
	err := forEach(rows, []any{&p.ID, &kind, &p.Token, &p.AppID, &p.Caller, &p.CallerName, &p.Body, &p.MsgID,
		&p.CallID, &p.Reason, &created, &expires, &due, &p.Attempts, &p.Login}, func() {
		p.Kind = store.PushKind(kind)
		p.Created, p.Expires, p.Due = fromMS(created), fromMS(expires), fromMS(due)
		out = append(out, p)
	})
	return out, mapErr(err)
}

// idsOf lists the ids of skip, as a statement argument.
func idsOf(skip map[int64]bool) []int64 {
	ids := make([]int64, 0, len(skip))
	for id := range skip {
		ids = append(ids, id)
	}
	return ids
}

// NextPushDue returns when the soonest push is due; ok is false when the
// outbox is empty.
func (db *DB) NextPushDue(ctx context.Context) (due time.Time, ok bool, err error) {
	var d *int64
	err = db.pool.QueryRow(ctx, `SELECT min(due) FROM outbox`).Scan(&d)
	if err != nil || d == nil {
		return time.Time{}, false, mapErr(err)
	}
	return time.UnixMilli(*d), true, nil
}

// DeletePush removes a push that was delivered or given up.
func (db *DB) DeletePush(ctx context.Context, id int64) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM outbox WHERE id = $1`, id)
	db.stats.pushDeletes.Add(1)
	return mapErr(err)
}

// DeletePushes removes the pushes ids, delivered or given up, in one
// statement and one commit however many there are. Ids no longer in the
// outbox are left.
func (db *DB) DeletePushes(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids)
	db.stats.pushDeletes.Add(1)
	return mapErr(err)
}

// RetryPush records a failed attempt and when to try again.
func (db *DB) RetryPush(ctx context.Context, id int64, attempts int, due time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE outbox SET attempts = $1, due = $2, claimed_until = 0 WHERE id = $3`, attempts, ms(due), id)
	return mapErr(err)
}

// UnbindToken handles a token the provider called dead: compare and clear.
// The numbers still bound to token are unbound, the device forgotten, and
// its waiting pushes dropped, but only if the device has not logged in
// again since the push was made: its login count is above login, the
// push's. A login in between, with a new token or the same one, stands. It
// reports how many numbers it unbound.
//
// It locks what it changes in login's order (the device, then the
// token's numbers by number), so the two queue rather than deadlock, and
// a login either commits first, and is seen, or waits and comes after.
func (db *DB) UnbindToken(ctx context.Context, token string, login int64) (int, error) {
	var n int
	err := db.write(ctx, func(tx *wtx) error {
		n = 0
		var current int64
		err := tx.QueryRow(ctx, `SELECT login FROM devices WHERE token = $1 FOR UPDATE`, token).Scan(&current)
		if err == nil && current > login {
			return nil // logged in again after the push was made
		}
		if err != nil && !notFound(err) {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT 1 FROM numbers WHERE token = $1 ORDER BY number FOR UPDATE`, token)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE numbers SET token = NULL WHERE token = $1`, token)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `DELETE FROM devices WHERE token = $1`, token); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM outbox WHERE token = $1`, token)
		return err
	})
	return n, err
}

// OutboxDepth returns how many pushes wait in the outbox.
func (db *DB) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n)
	return n, mapErr(err)
}

// QueuePush queues p for the device number is bound to, in a transaction of
// its own; false when the number is not in use.
func (db *DB) QueuePush(ctx context.Context, number string, p store.Push) (bool, error) {
	var queued bool
	err := db.write(ctx, func(tx *wtx) error {
		var err error
		queued, err = tx.queuePushTo(ctx, number, p)
		return err
	})
	return queued, err
}

// SetPushKick makes the store call kick after each commit that queued a
// push, so the dispatcher sends at once. kick must not block.
func (db *DB) SetPushKick(kick func()) {
	db.pushKick.Store(&kick)
}

func (db *DB) pushCommitted() {
	if k := db.pushKick.Load(); k != nil {
		(*k)()
	}
}

// SetPushFilter makes the store queue pushes only for the appids wanted
// says yes to (the push dispatcher's Wants); until it is called, none are
// queued, so a server without push configured keeps no outbox.
func (db *DB) SetPushFilter(wanted func(appid string) bool) {
	db.pushWanted.Store(&wanted)
}
