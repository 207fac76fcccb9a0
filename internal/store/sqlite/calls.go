package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/store"
)

var _ store.Calls = (*DB)(nil)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

const callColumns = `id, caller, caller_name, callee, ai, state, reason, created, answered, ended,
	deadline, offer, answer_data`

func scanCall(row interface{ Scan(...any) error }) (store.Call, error) {
	var c store.Call
	var created, answered, ended int64
	var deadline sql.NullInt64
	err := row.Scan(&c.ID, &c.Caller, &c.CallerName, &c.Callee, &c.AI, &c.State, &c.Reason,
		&created, &answered, &ended, &deadline, &c.Offer, &c.AnswerData)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrBadCallID
	}
	c.Created, c.Answered, c.Ended = fromMS(created), fromMS(answered), fromMS(ended)
	if deadline.Valid {
		c.Deadline = fromMS(deadline.Int64)
	}
	return c, mapErr(err)
}

// nonNil keeps empty data an empty BLOB rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (db *DB) CreateCall(ctx context.Context, nc store.NewCall) (store.Call, error) {
	var c store.Call
	err := db.write(ctx, func(tx *wtx) error {
		var name string
		var token sql.NullString
		c = store.Call{ID: nc.ID, Callee: nc.Callee, AI: nc.Callee == "", Created: nc.Now, Offer: nonNil(nc.Offer)}
		err := tx.queryRow(`SELECT number, name, token FROM numbers WHERE uuid_hash = ?`, nc.CallerHash[:]).
			Scan(&c.Caller, &name, &token)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrUnknownUUID
		}
		if err != nil {
			return err
		}
		if !token.Valid {
			return store.ErrCallerNotInUse
		}
		c.CallerName = nc.CallerName
		if c.CallerName == "" {
			c.CallerName = name
		}
		if c.AI {
			var bal int64
			err := tx.queryRow(`SELECT seconds FROM balances WHERE number = ?`, c.Caller).Scan(&bal)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if bal <= 0 {
				return store.ErrNoBalance
			}
			// The call ends by itself when the balance runs out, or at the
			// maximum length, whichever comes first.
			c.State, c.Answered, c.AnswerData = store.Answered, nc.Now, nonNil(nc.AnswerData)
			c.Deadline = nc.Now.Add(min(time.Duration(bal)*time.Second, nc.MaxLength))
		} else {
			var tok sql.NullString
			err := tx.queryRow(`SELECT token FROM numbers WHERE number = ?`, nc.Callee).Scan(&tok)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if !tok.Valid {
				return store.ErrCalleeNotInUse
			}
			c.State, c.Deadline = store.Ringing, nc.RingDeadline
			// The VoIP push that rings the callee, as durable as the call;
			// it is worthless once the call has stopped ringing.
			if _, err := tx.queuePushTo(c.Callee, store.Push{Kind: store.PushCall, CallID: c.ID, Caller: c.Caller,
				CallerName: c.CallerName, Created: nc.Now, Expires: nc.RingDeadline}); err != nil {
				return err
			}
		}
		var answered int64
		if !c.Answered.IsZero() {
			answered = ms(c.Answered)
		}
		_, err = tx.exec(`INSERT INTO calls(`+callColumns+`) VALUES(?, ?, ?, ?, ?, ?, '', ?, ?, 0, ?, ?, ?)`,
			c.ID, c.Caller, c.CallerName, c.Callee, c.AI, c.State, ms(c.Created), answered,
			ms(c.Deadline), c.Offer, c.AnswerData)
		return err
	})
	return c, err
}

func (db *DB) Call(ctx context.Context, id string) (store.Call, error) {
	return scanCall(db.rqueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = ?`, id))
}

func (db *DB) AnswerCall(ctx context.Context, id, number string, data []byte, now time.Time, maxLength time.Duration) (store.Call, error) {
	var c store.Call
	err := db.write(ctx, func(tx *wtx) error {
		var err error
		c, err = scanCall(tx.queryRow(`SELECT `+callColumns+` FROM calls WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if c.AI || c.Callee != number {
			return store.ErrBadCallID
		}
		if c.State != store.Ringing {
			return store.ErrCallState
		}
		c.State, c.Answered, c.AnswerData, c.Deadline = store.Answered, now, nonNil(data), now.Add(maxLength)
		// Compare-and-set: the WHERE state = ringing is what makes the first
		// of racing changes the only one.
		r, err := tx.exec(`UPDATE calls SET state = ?, answered = ?, answer_data = ?, deadline = ? WHERE id = ? AND state = ?`,
			store.Answered, ms(now), c.AnswerData, ms(c.Deadline), id, store.Ringing)
		return casResult(r, err)
	})
	return c, err
}

func casResult(r sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return store.ErrCallState
	}
	return nil
}

func (db *DB) EndCall(ctx context.Context, e store.CallEnd) (store.Call, error) {
	var c store.Call
	err := db.write(ctx, func(tx *wtx) error {
		var err error
		c, err = scanCall(tx.queryRow(`SELECT `+callColumns+` FROM calls WHERE id = ?`, e.ID))
		if err != nil {
			return err
		}
		from, err := store.EndCallAs(&c, e)
		if err != nil {
			return err
		}
		r, err := tx.exec(`UPDATE calls SET state = ?, reason = ?, ended = ?, deadline = NULL WHERE id = ? AND state = ?`,
			store.Ended, c.Reason, ms(c.Ended), e.ID, from)
		if err := casResult(r, err); err != nil {
			return err
		}
		if from == store.Ringing && c.Reason != store.ReasonDeclined {
			if err := tx.missedCall(&c, e.Now); err != nil {
				return err
			}
		}
		if c.AI {
			return tx.chargeAICall(&c)
		}
		return nil
	})
	return c, err
}

// missedCall stores the notice of c, a call that rang and ended undeclined
// at c.Ended, for the callee (it learns of it from get: seed), setting
// c.MissedMsgID, and queues the pushes that stop its device ringing and
// tell it what it missed. A declined call was ended on that device itself.
func (tx *wtx) missedCall(c *store.Call, now time.Time) error {
	r, err := tx.exec(`INSERT INTO messages(caller, caller_name, callee, time, uri, length, callid) VALUES(?, ?, ?, ?, ?, 0, ?)`,
		c.Caller, c.CallerName, c.Callee, c.Ended.Unix(), store.MissedCallURI, c.ID)
	if err != nil {
		return err
	}
	if c.MissedMsgID, err = r.LastInsertId(); err != nil {
		return err
	}
	// Not held: its data is looked up in blobs by its uri.
	tx.stored(store.Message{ID: c.MissedMsgID, Callee: c.Callee}, false)
	if _, err := tx.queuePushTo(c.Callee, store.Push{Kind: store.PushCallEnded, CallID: c.ID, Reason: c.Reason,
		Caller: c.Caller, CallerName: c.CallerName, Created: now}); err != nil {
		return err
	}
	_, err = tx.queuePushTo(c.Callee, store.Push{Kind: store.PushMissedCall, CallID: c.ID, MsgID: c.MissedMsgID,
		Caller: c.Caller, CallerName: c.CallerName, Created: now})
	return err
}

// chargeAICall takes the seconds of c, an AI call ended at c.Ended, from
// its caller's balance, as far as the balance goes, and sets c.Charged.
func (tx *wtx) chargeAICall(c *store.Call) error {
	elapsed := c.Ended.Sub(c.Answered)
	secs := max(int64((elapsed+time.Second-1)/time.Second), 0)
	var bal int64
	err := tx.queryRow(`SELECT seconds FROM balances WHERE number = ?`, c.Caller).Scan(&bal)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	c.Charged = min(secs, bal)
	_, err = tx.exec(`UPDATE balances SET seconds = seconds - ? WHERE number = ?`, c.Charged, c.Caller)
	return err
}

func (db *DB) NextDeadline(ctx context.Context) (time.Time, bool, error) {
	var d sql.NullInt64
	err := db.rqueryRow(ctx, `SELECT MIN(deadline) FROM calls WHERE deadline IS NOT NULL`).Scan(&d)
	if err != nil {
		return time.Time{}, false, mapErr(err)
	}
	if !d.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(d.Int64), true, nil
}

func (db *DB) DueCalls(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.rquery(ctx, `SELECT id FROM calls WHERE deadline IS NOT NULL AND deadline <= ? ORDER BY deadline LIMIT 1000`, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, mapErr(rows.Err())
}

func (db *DB) ExpireCalls(ctx context.Context, before time.Time) error {
	return db.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`DELETE FROM calls WHERE state = ? AND ended < ?`, store.Ended, ms(before))
		return err
	})
}

func (db *DB) Balance(ctx context.Context, number string) (int64, error) {
	var bal int64
	err := db.rqueryRow(ctx, `SELECT seconds FROM balances WHERE number = ?`, number).Scan(&bal)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return bal, mapErr(err)
}

func (db *DB) Credit(ctx context.Context, number string, seconds int64) (int64, error) {
	var bal int64
	err := db.write(ctx, func(tx *wtx) error {
		var one int
		err := tx.queryRow(`SELECT 1 FROM numbers WHERE number = ?`, number).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return tx.queryRow(`INSERT INTO balances(number, seconds) VALUES(?, ?)
			ON CONFLICT(number) DO UPDATE SET seconds = seconds + excluded.seconds RETURNING seconds`,
			number, seconds).Scan(&bal)
	})
	return bal, err
}

func (db *DB) SetLink(ctx context.Context, number, data string) error {
	return db.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO links(number, data) VALUES(?, ?)`, number, data)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return store.ErrLinkExists
		}
		return err
	})
}

func (db *DB) Link(ctx context.Context, number string) (string, bool, error) {
	var data string
	err := db.rqueryRow(ctx, `SELECT data FROM links WHERE number = ?`, number).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, mapErr(err)
	}
	return data, true, nil
}

func (db *DB) Reserve(ctx context.Context, numbers []string) error {
	return db.write(ctx, func(tx *wtx) error {
		for _, n := range numbers {
			if _, err := tx.exec(`INSERT INTO reserved(number) VALUES(?) ON CONFLICT DO NOTHING`, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func (db *DB) Stats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	err := db.rqueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM numbers),
		(SELECT COUNT(*) FROM numbers WHERE token IS NOT NULL),
		(SELECT COUNT(*) FROM devices),
		(SELECT COUNT(*) FROM messages),
		(SELECT COUNT(*) FROM calls),
		(SELECT COALESCE(SUM(length), 0) FROM blobs) +
			(SELECT COALESCE(SUM(length), 0) FROM messages WHERE data IS NOT NULL OR arena_off IS NOT NULL)`).
		Scan(&st.Numbers, &st.InUse, &st.Devices, &st.Messages, &st.Calls, &st.Bytes)
	return st, mapErr(err)
}

// RingingCalls returns the calls ringing to callees, oldest first. Only
// calls not ended have a deadline, so the partial index on it holds the
// few this looks through.
func (db *DB) RingingCalls(ctx context.Context, callees []string) ([]store.Call, error) {
	if len(callees) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(callees)+1)
	args = append(args, store.Ringing)
	for _, c := range callees {
		args = append(args, c)
	}
	rows, err := db.rquery(ctx, `SELECT `+callColumns+` FROM calls WHERE deadline IS NOT NULL AND state = ?
		AND callee IN (?`+strings.Repeat(", ?", len(callees)-1)+`) ORDER BY created, id`, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var calls []store.Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	return calls, mapErr(rows.Err())
}
