package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/store"
)

// sendRecord is how a cid's first result is kept for replay.
type sendRecord struct {
	Time   int64            `json:"time"`
	MsgIDs map[string]int64 `json:"msgids"`
	Failed []string         `json:"failed,omitempty"`
}

// Send places the data (data.go), then commits the messages that refer
// to it, then frees the data if they do not.
func (db *DB) Send(ctx context.Context, m store.NewMessages) (store.SendResult, error) {
	callees := distinct(m.Callees)
	p, err := db.placeData(ctx, &m, len(callees))
	if err != nil {
		return store.SendResult{}, err
	}
	var res store.SendResult
	switch {
	case m.CID == "" && !p.object:
		// The data, the messages and their pushes are stored in one
		// transaction shared with the sends that wait meanwhile (group.go).
		res, err = db.sendInGroup(ctx, &m, callees, &p)
	case m.CID == "":
		// An object's put outweighs a commit: a group gains it nothing.
		res, err = db.sendWithoutCID(ctx, &m, callees, &p)
	default:
		err = db.write(ctx, func(tx *wtx) error {
			res = store.SendResult{}
			return tx.send(ctx, &m, callees, &p, &res)
		})
	}
	db.settle(p, res, err)
	if err == nil && !res.Replayed {
		db.stats.sends.Add(1)
		db.stats.messages.Add(int64(len(res.MsgIDs)))
	}
	return res, err
}

// distinct is list without repeats, in the order of first appearance.
func distinct(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sender is a send's sender as its uuid finds it.
type sender struct {
	number, name string
	inUse        bool
}

// send stores m's messages to callees, with the data p holds, into res.
func (tx *wtx) send(ctx context.Context, m *store.NewMessages, callees []string, p *placed, res *store.SendResult) error {
	var s sender
	err := tx.QueryRow(ctx, `SELECT number, name, token IS NOT NULL FROM numbers WHERE uuid_hash = $1`,
		m.SenderHash[:]).Scan(&s.number, &s.name, &s.inUse)
	if notFound(err) {
		return store.ErrUnknownUUID
	}
	if err != nil {
		return err
	}
	if m.CID != "" {
		if replayed, err := tx.claimCID(ctx, s.number, m, res); err != nil || replayed {
			return err
		}
	}
	if !s.inUse {
		return store.ErrCallerNotInUse
	}
	callerName := m.CallerName
	if callerName == "" {
		callerName = s.name
	}
	res.Time = m.Now.Unix()
	live, err := tx.liveCallees(ctx, callees, res)
	if err != nil {
		return err
	}
	if err := tx.insertMessages(ctx, m, p, s.number, callerName, live, res); err != nil {
		return err
	}
	if m.CID == "" {
		return nil
	}
	rec, err := json.Marshal(sendRecord{Time: res.Time, MsgIDs: res.MsgIDs, Failed: res.Failed})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE sends SET result = $3 WHERE caller = $1 AND cid = $2`, s.number, m.CID, string(rec))
	return err
}

// sendWithoutCID stores a send without a cid alone: in one statement
// (sendAlone) when push is not configured, else in a transaction of its
// own that also queues its pushes.
func (db *DB) sendWithoutCID(ctx context.Context, m *store.NewMessages, callees []string, p *placed) (store.SendResult, error) {
	if db.pushWanted.Load() == nil {
		return db.sendAlone(ctx, m, callees, p)
	}
	var res store.SendResult
	err := db.write(ctx, func(tx *wtx) error {
		res = store.SendResult{}
		return tx.send(ctx, m, callees, p, &res)
	})
	return res, err
}

// sendAlone stores a send without a cid, when no push is queued, in a
// statement of its own, run again on a serialization failure or deadlock.
func (db *DB) sendAlone(ctx context.Context, m *store.NewMessages, callees []string, p *placed) (store.SendResult, error) {
	var res store.SendResult
	err := db.retry(ctx, func() error {
		res = store.SendResult{}
		return db.sendAtOnce(ctx, m, callees, p, &res)
	})
	return res, err
}

// sendAtOnce stores a send without a cid, when no push is queued, in one
// statement (one round trip, one implicit transaction): what send does
// in several, with the same locks in the same order. It changes nothing
// unless the sender is in use and a callee is.
func (db *DB) sendAtOnce(ctx context.Context, m *store.NewMessages, callees []string, p *placed, res *store.SendResult) error {
	var name, inline, rowData, fname any
	if p.inRow() {
		rowData = p.bytes
	} else {
		name = p.name
		if !p.object {
			inline = p.bytes
		}
	}
	if m.Fname != "" {
		fname = m.Fname
	}
	res.Time = m.Now.Unix()
	var senders int
	var inUse bool
	var stored []string
	var ids []int64
	err := db.pool.QueryRow(ctx, `WITH s AS (
			SELECT number, name, token IS NOT NULL AS in_use FROM numbers WHERE uuid_hash = $1
		), c AS (
			SELECT number FROM numbers WHERE number = ANY($2) AND token IS NOT NULL
				AND EXISTS (SELECT 1 FROM s WHERE in_use)
			ORDER BY number FOR NO KEY UPDATE
		), d AS (
			INSERT INTO data(name, length, inline, last_used) SELECT $3, $4, $5, $6
			WHERE $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM c) RETURNING 1
		), m AS (
			INSERT INTO messages(caller, caller_name, callee, time, uri, length, fname, data, inline)
			SELECT s.number, coalesce(nullif($7, ''), s.name), c.number, $8, $9, $4, $10, $3, $11
			FROM s, c ORDER BY array_position($2, c.number) RETURNING callee, id
		)
		SELECT (SELECT count(*) FROM s), coalesce((SELECT in_use FROM s), false),
			coalesce((SELECT array_agg(callee ORDER BY id) FROM m), '{}'),
			coalesce((SELECT array_agg(id ORDER BY id) FROM m), '{}'), (SELECT count(*) FROM d)`,
		m.SenderHash[:], callees, name, p.length, inline, time.Now().UnixMilli(),
		m.CallerName, res.Time, p.uri, fname, rowData).Scan(&senders, &inUse, &stored, &ids, new(int))
	switch {
	case err != nil:
		return err
	case senders == 0:
		return store.ErrUnknownUUID
	case !inUse:
		return store.ErrCallerNotInUse
	case len(ids) == 0:
		return store.ErrCalleeNotInUse
	}
	setStored(res, callees, stored, ids)
	db.stats.commits.Add(1)
	return nil
}

// setStored sets res's message ids, ids[i] the message to stored[i], and
// its failed callees, those of callees not stored.
func setStored(res *store.SendResult, callees, stored []string, ids []int64) {
	res.MsgIDs = make(map[string]int64, len(ids))
	for i, c := range stored {
		res.MsgIDs[c] = ids[i]
	}
	for _, c := range callees {
		if _, ok := res.MsgIDs[c]; !ok {
			res.Failed = append(res.Failed, c)
		}
	}
}

// claimCID makes m's cid this send's: its sends row, inserted now and
// filled in when the send is stored. If another send holds the cid, the
// insert waits for that send's transaction, and then either finds its
// result (replayed, into res) or, that send having failed, claims it.
func (tx *wtx) claimCID(ctx context.Context, caller string, m *store.NewMessages, res *store.SendResult) (bool, error) {
	for {
		tag, err := tx.Exec(ctx, `INSERT INTO sends(caller, cid, time, result) VALUES($1, $2, $3, '')
			ON CONFLICT DO NOTHING`, caller, m.CID, m.Now.Unix())
		if err != nil || tag.RowsAffected() == 1 {
			return false, err
		}
		var rec string
		err = tx.QueryRow(ctx, `SELECT result FROM sends WHERE caller = $1 AND cid = $2`, caller, m.CID).Scan(&rec)
		if notFound(err) {
			continue // expired between the two: claim it again
		}
		if err != nil {
			return false, err
		}
		var r sendRecord
		if err := json.Unmarshal([]byte(rec), &r); err != nil {
			return false, err
		}
		*res = store.SendResult{Time: r.Time, MsgIDs: r.MsgIDs, Failed: r.Failed, Replayed: true}
		return true, nil
	}
}

// device is what a push to a device's token carries of its row.
type device struct {
	appid string
	login int64
}

// devicesOf reads the devices of tokens. Called after the send has locked
// the rows of the numbers bound to them, in a statement of its own: a
// statement reads the devices as they were when it began, and a login
// that moved a number to a new device may have committed while the lock
// waited for it; a new statement sees that device, and no later login can
// bind or rebind those numbers until the send commits.
func devicesOf(ctx context.Context, q querier, tokens []string) (map[string]device, error) {
	rows, err := q.Query(ctx, `SELECT token, appid, login FROM devices WHERE token = ANY($1)`, tokens)
	if err != nil {
		return nil, err
	}
	out := make(map[string]device, len(tokens))
	var token string
	var d device
	err = forEach(rows, []any{&token, &d.appid, &d.login}, func() { out[token] = d })
	return out, err
}

// liveCallee is a callee in use, and the device its pushes go to.
type liveCallee struct {
	number, token, appid string
	login                int64 // the device's login count (store.Push.Login)
}

// liveCallees sorts callees into those in use (returned, in callees'
// order) and not (res.Failed); ErrCalleeNotInUse if none is.
//
// It locks the callees' rows until the send commits, so that the sends to
// one number commit one after another, in the order of their message ids
// (taken after the lock): a get or a history page that has read a
// number's message never later finds one of a smaller id. The rows are
// locked in the order of their numbers, as login locks them.
func (tx *wtx) liveCallees(ctx context.Context, callees []string, res *store.SendResult) ([]liveCallee, error) {
	rows, err := tx.Query(ctx, `SELECT number, coalesce(token, '') FROM numbers
		WHERE number = ANY($1) ORDER BY number FOR NO KEY UPDATE`, callees)
	if err != nil {
		return nil, err
	}
	found := make(map[string]liveCallee, len(callees))
	var c liveCallee
	if err := forEach(rows, []any{&c.number, &c.token}, func() { found[c.number] = c }); err != nil {
		return nil, err
	}
	var tokens []string
	for _, c := range found {
		tokens = append(tokens, c.token)
	}
	devices, err := devicesOf(ctx, tx, tokens)
	if err != nil {
		return nil, err
	}
	for n, c := range found {
		c.appid, c.login = devices[c.token].appid, devices[c.token].login
		found[n] = c
	}
	res.MsgIDs = make(map[string]int64, len(callees))
	live := make([]liveCallee, 0, len(callees))
	for _, n := range callees {
		if c, ok := found[n]; ok && c.token != "" {
			live = append(live, c)
		} else {
			res.Failed = append(res.Failed, n)
		}
	}
	if len(live) == 0 {
		return nil, store.ErrCalleeNotInUse
	}
	return live, nil
}

// insertMessages writes the send's data row (unless the messages hold the
// data), a message per live callee, and the pushes announcing them.
func (tx *wtx) insertMessages(ctx context.Context, m *store.NewMessages, p *placed, caller, callerName string,
	live []liveCallee, res *store.SendResult) error {
	var rowData, name any
	if p.inRow() {
		rowData = p.bytes
	} else {
		var inline any
		if !p.object {
			inline = p.bytes
		}
		name = p.name
		if _, err := tx.Exec(ctx, `INSERT INTO data(name, length, inline, last_used) VALUES($1, $2, $3, $4)`,
			p.name, p.length, inline, time.Now().UnixMilli()); err != nil {
			return err
		}
	}
	var fname any
	if m.Fname != "" {
		fname = m.Fname
	}
	numbers := make([]string, len(live))
	for i, c := range live {
		numbers[i] = c.number
	}
	rows, err := tx.Query(ctx, `INSERT INTO messages(caller, caller_name, callee, time, uri, length, fname, data, inline)
		SELECT $1, $2, c, $4, $5, $6, $7, $8, $9 FROM unnest($3::text[]) WITH ORDINALITY AS u(c, o) ORDER BY o
		RETURNING callee, id`, caller, callerName, numbers, res.Time, p.uri, p.length, fname, name, rowData)
	if err != nil {
		return err
	}
	var callee string
	var id int64
	if err := forEach(rows, []any{&callee, &id}, func() { res.MsgIDs[callee] = id }); err != nil {
		return err
	}
	var pushes []store.Push
	for _, c := range live {
		pushes = appendMessagePush(pushes, m, p, caller, callerName, c, res.MsgIDs[c.number])
	}
	return tx.queuePushes(ctx, pushes)
}

// appendMessagePush appends to pushes the push announcing message id, of
// m from caller to c, unless c's device is unknown (no appid).
func appendMessagePush(pushes []store.Push, m *store.NewMessages, p *placed, caller, callerName string,
	c liveCallee, id int64) []store.Push {
	if c.appid == "" {
		return pushes
	}
	return append(pushes, store.Push{Kind: store.PushMessage, Caller: caller, CallerName: callerName,
		Body: messagePreview(m, p), Created: m.Now, Token: c.token, AppID: c.appid, MsgID: id, Login: c.login})
}

// messageHead, a message's state and messageTail are what scanMessage
// reads, from messages m joined to their data rows d. The state is an
// expression of the query's (cursor.go: a message's state column is not
// its state). A text of at most store.TextMax bytes comes with its
// message, from whichever row holds it.
const (
	messageHead = `m.id, m.caller, m.caller_name, m.callee, m.time, m.uri, m.length,
	coalesce(m.fname, ''), coalesce(m.callid, ''), `
	messageTail = `, coalesce(m.data, ''),
	CASE WHEN m.fname IS NULL AND m.length <= 4096 THEN coalesce(m.inline, d.inline) END`
)

const dataJoin = ` LEFT JOIN data d ON d.name = m.data `

// scanMessage scans a row of a message's columns (messageHead),
// and any columns after them into more.
func scanMessage(row pgx.Row, more ...any) (store.Message, error) {
	var m store.Message
	var text []byte
	dest := append([]any{&m.ID, &m.Caller, &m.CallerName, &m.Callee, &m.Time, &m.URI, &m.Length,
		&m.Fname, &m.CallID, &m.State, &m.Data, &text}, more...)
	err := row.Scan(dest...)
	if text != nil {
		t := string(text)
		m.Text = &t
	}
	return m, err
}

// collect appends rows of a message's columns to dst; more reports a row past
// limit, which it leaves out.
func collect(rows pgx.Rows, limit int, dst []store.Message) ([]store.Message, bool, error) {
	defer rows.Close()
	n := 0
	more := false
	for rows.Next() {
		if n == limit {
			more = true
			break
		}
		m, err := scanMessage(rows)
		if err != nil {
			return nil, false, err
		}
		dst = append(dst, m)
		n++
	}
	rows.Close()
	return dst, more, rows.Err()
}

func (db *DB) MarkRead(ctx context.Context, callees []string, ids []int64) error {
	want := int64(len(distinct64(ids)))
	return db.write(ctx, func(tx *wtx) error {
		tag, err := tx.Exec(ctx, `UPDATE messages SET state = 2 WHERE id = ANY($1) AND callee = ANY($2)`, ids, callees)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != want {
			return store.ErrBadMsgID // and the transaction rolls back
		}
		return nil
	})
}

// distinct64 is ids without repeats.
func distinct64(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
