package postgres

import (
	"context"
	"time"

	"github.com/ringd/ringd/internal/store"
)

var _ store.Calls = (*DB)(nil)

const callColumns = `id, caller, caller_name, callee, ai, state, reason, created, answered, ended,
	deadline, offer, answer_data`

// row is one result row to scan.
type row interface{ Scan(dest ...any) error }

func scanCall(r row) (store.Call, error) {
	var c store.Call
	var created, answered, ended int64
	var deadline *int64
	err := r.Scan(&c.ID, &c.Caller, &c.CallerName, &c.Callee, &c.AI, &c.State, &c.Reason,
		&created, &answered, &ended, &deadline, &c.Offer, &c.AnswerData)
	if notFound(err) {
		return store.Call{}, store.ErrBadCallID
	}
	if err != nil {
		return store.Call{}, err
	}
	c.Created, c.Answered, c.Ended = fromMS(created), fromMS(answered), fromMS(ended)
	if deadline != nil {
		c.Deadline = fromMS(*deadline)
	}
	return c, nil
}

// nonNil keeps empty data an empty bytea rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (db *DB) CreateCall(ctx context.Context, nc store.NewCall) (store.Call, error) {
	var c store.Call
	err := db.write(ctx, func(tx *wtx) error {
		c = store.Call{ID: nc.ID, Callee: nc.Callee, AI: nc.Callee == "", Created: nc.Now, Offer: nonNil(nc.Offer)}
		var name string
		var token *string
		err := tx.QueryRow(ctx, `SELECT number, name, token FROM numbers WHERE uuid_hash = $1`, nc.CallerHash[:]).
			Scan(&c.Caller, &name, &token)
		if notFound(err) {
			return store.ErrUnknownUUID
		}
		if err != nil {
			return err
		}
		if token == nil {
			return store.ErrCallerNotInUse
		}
		c.CallerName = nc.CallerName
		if c.CallerName == "" {
			c.CallerName = name
		}
		if c.AI {
			err = tx.startAICall(ctx, &c, nc)
		} else {
			err = tx.ring(ctx, &c, nc)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO calls(`+callColumns+`) VALUES($1, $2, $3, $4, $5, $6, '', $7, $8, 0, $9, $10, $11)`,
			c.ID, c.Caller, c.CallerName, c.Callee, c.AI, c.State, ms(c.Created), ms(c.Answered),
			ms(c.Deadline), c.Offer, c.AnswerData)
		return err
	})
	return c, err
}

// startAICall makes c an AI call, answered from the start, that ends by
// itself when the balance runs out or at the maximum length, whichever
// comes first; ErrNoBalance without a balance.
func (tx *wtx) startAICall(ctx context.Context, c *store.Call, nc store.NewCall) error {
	var bal int64
	err := tx.QueryRow(ctx, `SELECT seconds FROM balances WHERE number = $1`, c.Caller).Scan(&bal)
	if err != nil && !notFound(err) {
		return err
	}
	if bal <= 0 {
		return store.ErrNoBalance
	}
	c.State, c.Answered, c.AnswerData = store.Answered, nc.Now, nonNil(nc.AnswerData)
	c.Deadline = nc.Now.Add(min(time.Duration(bal)*time.Second, nc.MaxLength))
	return nil
}

// ring makes c a ringing call to a callee in use, and queues the VoIP push
// that rings it: as durable as the call, worthless once it stops ringing.
func (tx *wtx) ring(ctx context.Context, c *store.Call, nc store.NewCall) error {
	var token *string
	err := tx.QueryRow(ctx, `SELECT token FROM numbers WHERE number = $1`, nc.Callee).Scan(&token)
	if err != nil && !notFound(err) {
		return err
	}
	if token == nil {
		return store.ErrCalleeNotInUse
	}
	c.State, c.Deadline = store.Ringing, nc.RingDeadline
	_, err = tx.queuePushTo(ctx, c.Callee, store.Push{Kind: store.PushCall, CallID: c.ID, Caller: c.Caller,
		CallerName: c.CallerName, Created: nc.Now, Expires: nc.RingDeadline})
	return err
}

func (db *DB) Call(ctx context.Context, id string) (store.Call, error) {
	c, err := scanCall(db.pool.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = $1`, id))
	return c, mapErr(err)
}

// lockCall reads a call and locks its row until tx ends: of racing changes
// to one call, each reads the state the one before it left.
func (tx *wtx) lockCall(ctx context.Context, id string) (store.Call, error) {
	return scanCall(tx.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = $1 FOR UPDATE`, id))
}

// casCall runs a compare-and-set update of one call: ErrCallState unless
// it changed exactly one row. The row lock makes it hold already; the
// WHERE on the state the change was decided on keeps it true of the
// statement alone.
func (tx *wtx) casCall(ctx context.Context, sql string, args ...any) error {
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return store.ErrCallState
	}
	return nil
}

func (db *DB) AnswerCall(ctx context.Context, id, number string, data []byte, now time.Time, maxLength time.Duration) (store.Call, error) {
	var c store.Call
	err := db.write(ctx, func(tx *wtx) error {
		var err error
		if c, err = tx.lockCall(ctx, id); err != nil {
			return err
		}
		if c.AI || c.Callee != number {
			return store.ErrBadCallID
		}
		if c.State != store.Ringing {
			return store.ErrCallState
		}
		c.State, c.Answered, c.AnswerData, c.Deadline = store.Answered, now, nonNil(data), now.Add(maxLength)
		return tx.casCall(ctx, `UPDATE calls SET state = $1, answered = $2, answer_data = $3, deadline = $4
			WHERE id = $5 AND state = $6`,
			store.Answered, ms(now), c.AnswerData, ms(c.Deadline), id, store.Ringing)
	})
	return c, err
}

func (db *DB) EndCall(ctx context.Context, e store.CallEnd) (store.Call, error) {
	var c store.Call
	err := db.write(ctx, func(tx *wtx) error {
		var err error
		if c, err = tx.lockCallToEnd(ctx, e); err != nil {
			return err
		}
		from, err := store.EndCallAs(&c, e)
		if err != nil {
			return err
		}
		err = tx.casCall(ctx, `UPDATE calls SET state = $1, reason = $2, ended = $3, deadline = NULL
			WHERE id = $4 AND state = $5`, store.Ended, c.Reason, ms(c.Ended), e.ID, from)
		if err != nil {
			return err
		}
		if from == store.Ringing && c.Reason != store.ReasonDeclined {
			if err := tx.missedCall(ctx, &c, e.Now); err != nil {
				return err
			}
		}
		if c.AI {
			return tx.chargeAICall(ctx, &c)
		}
		return nil
	})
	return c, err
}

// missedCall stores the notice of c, a call that rang and ended undeclined
// at c.Ended, for the callee (it learns of it from get: seed), setting
// c.MissedMsgID, and queues the pushes that stop its device ringing and
// tell it what it missed. A declined call was ended on that device itself.
func (tx *wtx) missedCall(ctx context.Context, c *store.Call, now time.Time) error {
	// The callee's row is locked as a send locks it (liveCallees), so its
	// messages' ids grow in the order they commit.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM numbers WHERE number = $1 FOR NO KEY UPDATE`, c.Callee); err != nil {
		return err
	}
	err := tx.QueryRow(ctx, `INSERT INTO messages(caller, caller_name, callee, time, uri, length, callid)
		VALUES($1, $2, $3, $4, $5, 0, $6) RETURNING id`,
		c.Caller, c.CallerName, c.Callee, c.Ended.Unix(), store.MissedCallURI, c.ID).Scan(&c.MissedMsgID)
	if err != nil {
		return err
	}
	if _, err := tx.queuePushTo(ctx, c.Callee, store.Push{Kind: store.PushCallEnded, CallID: c.ID, Reason: c.Reason,
		Caller: c.Caller, CallerName: c.CallerName, Created: now}); err != nil {
		return err
	}
	_, err = tx.queuePushTo(ctx, c.Callee, store.Push{Kind: store.PushMissedCall, CallID: c.ID, MsgID: c.MissedMsgID,
		Caller: c.Caller, CallerName: c.CallerName, Created: now})
	return err
}

// chargeAICall takes the seconds of c, an AI call ended at c.Ended, from
// its caller's balance, as far as the balance goes, and sets c.Charged.
// The balance's row is locked for the read and the update, so a credit
// at the same moment is neither lost nor charged.
func (tx *wtx) chargeAICall(ctx context.Context, c *store.Call) error {
	elapsed := c.Ended.Sub(c.Answered)
	secs := max(int64((elapsed+time.Second-1)/time.Second), 0)
	var bal int64
	err := tx.QueryRow(ctx, `SELECT seconds FROM balances WHERE number = $1 FOR UPDATE`, c.Caller).Scan(&bal)
	if err != nil && !notFound(err) {
		return err
	}
	c.Charged = min(secs, bal)
	_, err = tx.Exec(ctx, `UPDATE balances SET seconds = seconds - $1 WHERE number = $2`, c.Charged, c.Caller)
	return err
}

func (db *DB) NextDeadline(ctx context.Context) (time.Time, bool, error) {
	var d *int64
	err := db.pool.QueryRow(ctx, `SELECT min(deadline) FROM calls WHERE deadline IS NOT NULL`).Scan(&d)
	if err != nil || d == nil {
		return time.Time{}, false, mapErr(err)
	}
	return fromMS(*d), true, nil
}

// dueCallsMax bounds one DueCalls: the timer asks again for the rest.
const dueCallsMax = 1000

func (db *DB) DueCalls(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM calls WHERE deadline IS NOT NULL AND deadline <= $1
		ORDER BY deadline LIMIT $2`, ms(now), dueCallsMax)
	if err != nil {
		return nil, mapErr(err)
	}
	var ids []string
	var id string
	err = forEach(rows, []any{&id}, func() { ids = append(ids, id) })
	return ids, mapErr(err)
}

func (db *DB) ExpireCalls(ctx context.Context, before time.Time) error {
	return db.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(ctx, `DELETE FROM calls WHERE state = $1 AND ended < $2`, store.Ended, ms(before))
		return err
	})
}

func (db *DB) Balance(ctx context.Context, number string) (int64, error) {
	var bal int64
	err := db.pool.QueryRow(ctx, `SELECT seconds FROM balances WHERE number = $1`, number).Scan(&bal)
	if notFound(err) {
		return 0, nil
	}
	return bal, mapErr(err)
}

func (db *DB) Credit(ctx context.Context, number string, seconds int64) (int64, error) {
	var bal int64
	err := db.write(ctx, func(tx *wtx) error {
		var registered bool
		err := tx.QueryRow(ctx, `SELECT EXISTS(SELECT 1 FROM numbers WHERE number = $1)`, number).Scan(&registered)
		if err != nil {
			return err
		}
		if !registered {
			return store.ErrNotFound
		}
		return tx.QueryRow(ctx, `INSERT INTO balances(number, seconds) VALUES($1, $2)
			ON CONFLICT(number) DO UPDATE SET seconds = balances.seconds + excluded.seconds RETURNING seconds`,
			number, seconds).Scan(&bal)
	})
	return bal, err
}

func (db *DB) SetLink(ctx context.Context, number, data string) error {
	return db.write(ctx, func(tx *wtx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO links(number, data) VALUES($1, $2) ON CONFLICT DO NOTHING`, number, data)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrLinkExists
		}
		return nil
	})
}

func (db *DB) Link(ctx context.Context, number string) (string, bool, error) {
	var data string
	err := db.pool.QueryRow(ctx, `SELECT data FROM links WHERE number = $1`, number).Scan(&data)
	if notFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, mapErr(err)
	}
	return data, true, nil
}

func (db *DB) Reserve(ctx context.Context, numbers []string) error {
	return db.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(ctx, `INSERT INTO reserved(number) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, numbers)
		return err
	})
}

// Stats counts what the store holds. Bytes are those of the data records
// and of the data messages hold in their rows.
func (db *DB) Stats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM numbers),
		(SELECT count(*) FROM numbers WHERE token IS NOT NULL),
		(SELECT count(*) FROM devices),
		(SELECT count(*) FROM messages),
		(SELECT count(*) FROM calls),
		(SELECT coalesce(sum(length), 0) FROM data) +
			(SELECT coalesce(sum(length), 0) FROM messages WHERE inline IS NOT NULL)`).
		Scan(&st.Numbers, &st.InUse, &st.Devices, &st.Messages, &st.Calls, &st.Bytes)
	return st, mapErr(err)
}

// RingingCalls returns the calls ringing to callees, oldest first: what a
// client without push (a browser) polls for with incoming.
func (db *DB) RingingCalls(ctx context.Context, callees []string) ([]store.Call, error) {
	if len(callees) == 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+callColumns+` FROM calls
		WHERE deadline IS NOT NULL AND state = $1 AND callee = ANY($2) ORDER BY created, id`,
		int(store.Ringing), callees)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var calls []store.Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		calls = append(calls, c)
	}
	return calls, mapErr(rows.Err())
}
