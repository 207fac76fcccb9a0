package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// The push outbox. Pushes are queued inside the write transaction of what
// they announce (queuePush, queuePushTo), and the push dispatcher reads,
// reschedules and deletes them through the DB methods below.

// pushDevice is a callee's device as Send sees it.
type pushDevice struct {
	token, appid string
	login        int64 // the device's login count (store.Push.Login)
}

// messagePreview is the push body of a new message.
func messagePreview(m *store.NewMessages, p *placed) string {
	switch {
	case m.Fname != "":
		return m.Fname
	case p.preview != "":
		return p.preview
	case p.inline != nil:
		return store.Preview(strings.ToValidUTF8(string(p.inline), ""))
	}
	return ""
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// queuePush writes p to the outbox in tx, due at once. Code of this package
// that commits something a device must hear of (a message, a call, a
// call's end) calls it in the same transaction, so the push is exactly as
// durable as what it announces.
func (tx *wtx) queuePush(p store.Push) error {
	return tx.queuePushes([]store.Push{p})
}

// pushChunk bounds the rows of one INSERT: a sends to many callees queues
// its pushes in a few statements rather than one per callee.
const pushChunk = 64

const pushColumns = 14

// queuePushes writes ps to the outbox in tx, leaving out those whose appid
// has no provider.
func (tx *wtx) queuePushes(ps []store.Push) error {
	f := tx.db.pushWanted.Load()
	if f == nil || len(ps) == 0 {
		return nil // push is not configured, or nothing to queue
	}
	args := make([]any, 0, min(len(ps), pushChunk)*pushColumns)
	flush := func(rows int) error {
		if rows == 0 {
			return nil
		}
		q := `INSERT INTO outbox(id, kind, token, appid, caller, caller_name, body, msgid, callid, reason, created, expires, due, login) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", rows), ", ")
		_, err := tx.exec(q, args...)
		args = args[:0]
		tx.pushed = true
		return err
	}
	rows := 0
	for _, p := range ps {
		if !(*f)(p.AppID) {
			continue
		}
		due := p.Due
		if due.IsZero() {
			due = p.Created
		}
		// An id SQLite would choose (one above the largest) names again
		// a push deleted while the dispatcher still held it (an unbound
		// token's pushes go with it), and the dispatcher's delete or
		// retry by id would then hit the new push: a message queued in
		// that moment lost its push. Ids from outboxNext only grow.
		id := tx.db.outboxNext
		tx.db.outboxNext++
		args = append(args, id, string(p.Kind), p.Token, p.AppID, p.Caller, p.CallerName, p.Body, p.MsgID, p.CallID,
			p.Reason, millis(p.Created), millis(p.Expires), millis(due), p.Login)
		if rows++; rows == pushChunk {
			if err := flush(rows); err != nil {
				return err
			}
			rows = 0
		}
	}
	return flush(rows)
}

// pushWanted reports whether queuePushes would queue a push for one of
// devs.
func (tx *wtx) pushWanted(devs []pushDevice) bool {
	f := tx.db.pushWanted.Load()
	if f == nil {
		return false
	}
	for _, d := range devs {
		if d.appid != "" && (*f)(d.appid) {
			return true
		}
	}
	return false
}

// queuePushTo queues p for the device number is bound to, filling in its
// token and appid; it queues nothing (false) when the number is not in use.
// This is the call for the calls code: e.g. inside the transaction that
// makes a call,
//
//	tx.queuePushTo(callee, store.Push{Kind: store.PushCall, CallID: id,
//		Caller: caller, CallerName: name, Created: now, Expires: now.Add(ringTimeout)})
func (tx *wtx) queuePushTo(number string, p store.Push) (bool, error) {
	var tok, appid sql.NullString
	var login int64
	err := tx.queryRow(`SELECT n.token, d.appid, d.login FROM numbers n JOIN devices d ON d.token = n.token
		WHERE n.number = ?`, number).Scan(&tok, &appid, &login)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.Token, p.AppID, p.Login = tok.String, appid.String, login
	return true, tx.queuePush(p)
}

// DuePushes returns up to limit pushes due at now, soonest first, leaving
// out those whose id is in skip (being sent).
func (db *DB) DuePushes(ctx context.Context, now time.Time, limit int, skip map[int64]bool) ([]store.Push, error) {
	rows, err := db.rquery(ctx, `SELECT id, kind, token, appid, caller, caller_name, body, msgid, callid, reason,
		created, expires, due, attempts, login FROM outbox WHERE due <= ? ORDER BY due, id LIMIT ?`,
		now.UnixMilli(), limit+len(skip))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Push
	for rows.Next() && len(out) < limit {
		var p store.Push
		var kind string
		var created, expires, due int64
		if err := rows.Scan(&p.ID, &kind, &p.Token, &p.AppID, &p.Caller, &p.CallerName, &p.Body, &p.MsgID,
			&p.CallID, &p.Reason, &created, &expires, &due, &p.Attempts, &p.Login); err != nil {
			return nil, err
		}
		if skip[p.ID] {
			continue
		}
		p.Kind = store.PushKind(kind)
		p.Created, p.Expires, p.Due = fromMillis(created), fromMillis(expires), fromMillis(due)
		out = append(out, p)
	}
	return out, mapErr(rows.Err())
}

// NextPushDue returns when the soonest push is due; ok is false when the
// outbox is empty.
func (db *DB) NextPushDue(ctx context.Context) (due time.Time, ok bool, err error) {
	var ms sql.NullInt64
	err = db.rqueryRow(ctx, `SELECT MIN(due) FROM outbox`).Scan(&ms)
	if err != nil || !ms.Valid {
		return time.Time{}, false, mapErr(err)
	}
	return time.UnixMilli(ms.Int64), true, nil
}

// DeletePush removes a push that was delivered or given up.
func (db *DB) DeletePush(ctx context.Context, id int64) error {
	return db.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`DELETE FROM outbox WHERE id = ?`, id)
		return err
	})
}

// DeletePushes removes the pushes ids, delivered or given up, in one
// transaction, pushChunk ids a statement. Ids no longer in the outbox are
// left.
func (db *DB) DeletePushes(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return db.write(ctx, func(tx *wtx) error {
		for chunk := range slices.Chunk(ids, pushChunk) {
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			q := `DELETE FROM outbox WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + `)`
			if _, err := tx.exec(q, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// RetryPush records a failed attempt and when to try again.
func (db *DB) RetryPush(ctx context.Context, id int64, attempts int, due time.Time) error {
	return db.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`UPDATE outbox SET attempts = ?, due = ? WHERE id = ?`, attempts, due.UnixMilli(), id)
		return err
	})
}

// UnbindToken handles a token the provider called dead: compare and clear.
// The numbers still bound to token are unbound, the device forgotten, and
// its waiting pushes dropped, but only if the device has not logged in
// again since the push was made: its login count is above login, the
// push's. A login in between, with a new token or the same one, stands. It
// reports how many numbers it unbound.
func (db *DB) UnbindToken(ctx context.Context, token string, login int64) (int, error) {
	var n int
	err := db.write(ctx, func(tx *wtx) error {
		n = 0
		var current int64
		err := tx.queryRow(`SELECT login FROM devices WHERE token = ?`, token).Scan(&current)
		if err == nil && current > login {
			return nil // logged in again after the push was made
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		r, err := tx.exec(`UPDATE numbers SET token = NULL WHERE token = ?`, token)
		if err != nil {
			return err
		}
		k, err := r.RowsAffected()
		if err != nil {
			return err
		}
		n = int(k)
		if _, err := tx.exec(`DELETE FROM devices WHERE token = ?`, token); err != nil {
			return err
		}
		_, err = tx.exec(`DELETE FROM outbox WHERE token = ?`, token)
		return err
	})
	return n, err
}

// OutboxDepth returns how many pushes wait in the outbox.
func (db *DB) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	err := db.rqueryRow(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	return n, mapErr(err)
}

// QueuePush queues p for the device number is bound to, in a transaction of
// its own; false when the number is not in use. Code inside a store write
// uses tx.queuePushTo instead, so the push commits with its cause.
func (db *DB) QueuePush(ctx context.Context, number string, p store.Push) (bool, error) {
	var queued bool
	err := db.write(ctx, func(tx *wtx) error {
		var err error
		queued, err = tx.queuePushTo(number, p)
		return err
	})
	return queued, err
}

// SetPushKick makes the writer call kick after each commit that queued a
// push, so the dispatcher sends at once whichever code queued it: a send,
// a call, a call's end. kick must not block.
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
