package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/blob"
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
	p, err := db.placeData(ctx, &m)
	if err != nil {
		db.settle(p, &m, store.SendResult{}, err)
		return store.SendResult{}, err
	}
	var res store.SendResult
	// write1: the common send, a text to one number without a cid or a
	// push, writes one row; the others open their savepoint (tx.send).
	err = db.write1(ctx, func(tx *wtx) error {
		res = store.SendResult{}
		return tx.send(&m, &p, &res)
	})
	db.settle(p, &m, res, err)
	return res, err
}

// sendTo is what a send resolved of its sender and callees.
type sendTo struct {
	caller, callerName       string
	callerArg, callerNameArg any // as statement arguments
	live                     []string
	devs                     []pushDevice // of live, in order
	liveArgs                 []any        // of live, in order: as statement arguments
}

// send stores m's messages, with the data p holds, into res.
func (tx *wtx) send(m *store.NewMessages, p *placed, res *store.SendResult) error {
	to, replayed, err := tx.sendSender(m, res)
	if err != nil || replayed {
		return err
	}
	res.Time = m.Now.Unix()
	if err := tx.sendCallees(m, &to, res); err != nil {
		return err
	}
	inRow := p.inRow(m)
	writes := len(to.live)
	if !inRow {
		writes++ // the blobs row
	}
	if m.CID != "" {
		writes++ // the sends row
	}
	if tx.pushWanted(to.devs) {
		writes++ // the outbox rows
	}
	if writes > 1 {
		if err := tx.savepoint(); err != nil {
			return err
		}
	}
	text, err := tx.sendData(m, p, inRow)
	if err != nil {
		return err
	}
	if err := tx.sendMessages(m, p, &to, inRow, text, res); err != nil {
		return err
	}
	return tx.recordCID(m, to.caller, res)
}

// sendSender resolves m's sender, or finds the result of the send m
// retries (replayed).
func (tx *wtx) sendSender(m *store.NewMessages, res *store.SendResult) (sendTo, bool, error) {
	var to sendTo
	sender, err := tx.sender(m.SenderHash)
	if errors.Is(err, sql.ErrNoRows) {
		return to, false, store.ErrUnknownUUID
	}
	if err != nil {
		return to, false, err
	}
	to.caller, to.callerArg, to.callerNameArg = sender.number, sender.numberArg, sender.nameArg
	if m.CID != "" {
		var rec string
		err := tx.queryRow(`SELECT result FROM sends WHERE caller = ? AND cid = ?`, to.caller, m.CID).Scan(&rec)
		if err == nil {
			var r sendRecord
			if err := json.Unmarshal([]byte(rec), &r); err != nil {
				return to, false, err
			}
			*res = store.SendResult{Time: r.Time, MsgIDs: r.MsgIDs, Failed: r.Failed, Replayed: true}
			return to, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return to, false, err
		}
	}
	if !sender.inUse {
		return to, false, store.ErrCallerNotInUse
	}
	to.callerName = m.CallerName
	if to.callerName == "" {
		to.callerName = sender.name
	} else {
		to.callerNameArg = to.callerName
	}
	return to, false, nil
}

// sendCallees sorts m's callees into those in use (to.live) and not
// (res.Failed).
func (tx *wtx) sendCallees(m *store.NewMessages, to *sendTo, res *store.SendResult) error {
	res.MsgIDs = make(map[string]int64, len(m.Callees))
	for _, c := range m.Callees {
		if _, dup := res.MsgIDs[c]; dup {
			continue
		}
		dev, err := tx.callee(c)
		if err != nil {
			return err
		}
		if dev.token == "" {
			res.Failed = append(res.Failed, c)
			continue
		}
		res.MsgIDs[c] = 0
		to.live = append(to.live, c)
		to.devs = append(to.devs, pushDevice{token: dev.token, appid: dev.appid, login: dev.login})
		to.liveArgs = append(to.liveArgs, dev.numberArg)
	}
	if len(to.live) == 0 {
		return store.ErrCalleeNotInUse
	}
	return nil
}

// sendData writes the blobs row of data not kept in its message's row,
// and returns the text a get of the messages reads (nil for a file, or a
// text past TextMax).
func (tx *wtx) sendData(m *store.NewMessages, p *placed, inRow bool) (*string, error) {
	if inRow {
		if p.inline == nil {
			return nil, nil
		}
		t := string(p.inline)
		return &t, nil
	}
	r, err := tx.exec(`INSERT INTO blobs(hash, length, inline, arena_off) VALUES(?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING`,
		p.uri, p.length, p.inline, p.arenaOff())
	if err != nil {
		return nil, err
	}
	// A get reads the text from the blobs row; one stored before is read
	// back, so what get is told is what is there.
	inline := p.inline
	if n, err := r.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		if err := tx.queryRow(`SELECT inline FROM blobs WHERE hash = ?`, p.uri).Scan(&inline); err != nil {
			return nil, err
		}
	}
	if m.Fname != "" || inline == nil {
		return nil, nil
	}
	t := string(inline)
	return &t, nil
}

// sendMessages writes a message row per live callee, and the pushes of
// those whose devices get one.
func (tx *wtx) sendMessages(m *store.NewMessages, p *placed, to *sendTo, inRow bool, text *string, res *store.SendResult) error {
	var data, arenaOff, fname any
	if inRow {
		data, arenaOff = p.inline, p.arenaOff()
		if p.inArena {
			data = nil
		}
	}
	if m.Fname != "" {
		fname = m.Fname
	}
	// The push and its preview are made for the first callee that wants
	// one: most sends queue none, and building them costs allocations.
	var push store.Push
	var pushes []store.Push
	timeArg := tx.db.timeArg(res.Time)
	for i, c := range to.live {
		r, err := tx.exec(`INSERT INTO messages(caller, caller_name, callee, time, uri, length, fname, data, arena_off) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			to.callerArg, to.callerNameArg, to.liveArgs[i], timeArg, p.uri, p.length, fname, data, arenaOff)
		if err != nil {
			return err
		}
		id, err := r.LastInsertId()
		if err != nil {
			return err
		}
		res.MsgIDs[c] = id
		tx.stored(store.Message{ID: id, Caller: to.caller, CallerName: to.callerName, Callee: c, Time: res.Time,
			URI: p.uri, Length: p.length, Fname: m.Fname, Text: text}, true)
		if to.devs[i].appid != "" {
			if pushes == nil {
				push = store.Push{Kind: store.PushMessage, Caller: to.caller, CallerName: to.callerName,
					Body: messagePreview(m, p), Created: m.Now}
				pushes = make([]store.Push, 0, len(to.live)-i)
			}
			push.Token, push.AppID, push.MsgID, push.Login = to.devs[i].token, to.devs[i].appid, id, to.devs[i].login
			pushes = append(pushes, push)
		}
	}
	return tx.queuePushes(pushes)
}

// recordCID keeps the result of a send that carried a cid, for its retries.
func (tx *wtx) recordCID(m *store.NewMessages, caller string, res *store.SendResult) error {
	if m.CID == "" {
		return nil
	}
	rec, err := json.Marshal(sendRecord{Time: res.Time, MsgIDs: res.MsgIDs, Failed: res.Failed})
	if err != nil {
		return err
	}
	_, err = tx.exec(`INSERT INTO sends(caller, cid, time, result) VALUES(?, ?, ?, ?)`,
		caller, m.CID, res.Time, string(rec))
	return err
}

// effectiveState is a message's state as the protocol knows it: one still
// 0 whose id is at or below its callee's cursor was delivered (schema.go,
// cursors). Every read of a message's state goes through it.
const effectiveState = `CASE WHEN m.state = 0 AND m.id <= (SELECT upto FROM cursors WHERE number = m.callee) THEN 1 ELSE m.state END`

const messageColumns = `m.id, m.caller, m.caller_name, m.callee, m.time, m.uri, m.length, m.fname, m.callid, ` + effectiveState + `,
	CASE WHEN m.fname IS NULL THEN coalesce(m.data, b.inline) END`

// undeliveredColumns are messageColumns for messages known to be waiting.
const undeliveredColumns = `m.id, m.caller, m.caller_name, m.callee, m.time, m.uri, m.length, m.fname, m.callid, m.state,
	CASE WHEN m.fname IS NULL THEN coalesce(m.data, b.inline) END`

// afterCursor is the condition of the rows a message UPDATE may take out of
// the waiting: still 0, and not delivered by cursor.
const afterCursor = `state = 0 AND id > coalesce((SELECT upto FROM cursors WHERE number = callee), 0)`

// blobsJoin looks up blobs only for the messages whose data is not in
// their own row (data, or an extent of their own).
const blobsJoin = ` LEFT JOIN blobs b ON m.data IS NULL AND m.arena_off IS NULL AND b.hash = m.uri `

const messageFrom = ` FROM messages m` + blobsJoin

func scanMessage(rows interface{ Scan(...any) error }) (store.Message, error) {
	var m store.Message
	var fname, callid sql.NullString
	var inline []byte
	err := rows.Scan(&m.ID, &m.Caller, &m.CallerName, &m.Callee, &m.Time, &m.URI, &m.Length,
		&fname, &callid, &m.State, &inline)
	m.Fname, m.CallID = fname.String, callid.String
	if inline != nil {
		t := string(inline)
		m.Text = &t
	}
	return m, err
}

// inList returns "?, ?, ?" for n arguments.
func inList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func getQuery(q store.GetQuery, onlyUndelivered bool) (string, []any) {
	var sb strings.Builder
	if onlyUndelivered {
		// Each number's messages from its cursor on: a get must not cost
		// more the more a number has received, and everything at or below
		// the cursor is delivered. What lies beyond it and is not waiting
		// (taken row by row, or read) is little: a get by cursor moves the
		// cursor past it.
		sb.WriteString(`SELECT ` + undeliveredColumns + ` FROM (VALUES `)
		sb.WriteString(strings.TrimSuffix(strings.Repeat("(?), ", len(q.Callees)), ", "))
		sb.WriteString(`) AS q LEFT JOIN cursors k ON k.number = q.column1
			JOIN messages m INDEXED BY messages_callee ON m.callee = q.column1 AND m.id > coalesce(k.upto, 0)` + blobsJoin +
			`WHERE m.time > ? AND m.id > ? AND m.state = 0`)
	} else {
		sb.WriteString(`SELECT ` + messageColumns + messageFrom + `WHERE m.callee IN (`)
		sb.WriteString(inList(len(q.Callees)))
		sb.WriteString(`) AND m.time > ? AND m.id > ?`)
	}
	sb.WriteString(` ORDER BY m.id LIMIT ?`)
	args := make([]any, 0, len(q.Callees)+3)
	for _, c := range q.Callees {
		args = append(args, c)
	}
	args = append(args, q.After, q.AfterID, q.Limit+1)
	return sb.String(), args
}

func collect(rows *sql.Rows, limit int) ([]store.Message, bool, error) {
	defer rows.Close()
	var msgs []store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, false, err
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, false, mapErr(err)
	}
	more := len(msgs) > limit
	if more {
		msgs = truncate(msgs, limit)
	}
	return msgs, more, nil
}

// truncate cuts msgs to n, clearing what it cuts: a get's caller may keep
// the slice's space for the next get (TakeUndelivered's dst), and what
// lies past the end must not hold messages it no longer answers for.
func truncate(msgs []store.Message, n int) []store.Message {
	clear(msgs[n:])
	return msgs[:n]
}

func (db *DB) TakeUndelivered(ctx context.Context, q store.GetQuery, dst []store.Message) ([]store.Message, bool, error) {
	// What waits is read beside the writer: most gets find nothing, and
	// reading messages is the costly part of the others. "Is anything
	// waiting" is answered by the writer's exact counts (waiting.go): a get
	// that finds nothing touches no SQL, and one whose numbers' messages
	// are held there reads none; the others read on the read pool.
	//
	// The writer then only marks them (mark), in the transaction the
	// answer waits for, and this get keeps just those it marked: a
	// concurrent get of the same number may have taken some, and a message
	// is delivered once. One committed after the read is simply one this
	// get came too early for.
	if !db.wait.any(q.Callees) {
		return nil, false, nil
	}
	msgs, more, cuts, held := db.wait.take(q, dst)
	if !held {
		query, args := getQuery(q, true)
		rows, err := db.rquery(ctx, query, args...)
		if err != nil {
			return nil, false, err
		}
		var err2 error
		if msgs, more, err2 = collect(rows, q.Limit); err2 != nil {
			return nil, false, err2
		}
	}
	if len(msgs) == 0 {
		return nil, false, nil
	}
	var mk marking
	// One statement either way, so write1: no savepoint of its own.
	err := db.write1(ctx, func(tx *wtx) error {
		mk = marking{}
		return tx.mark(msgs, cuts, &mk)
	})
	if err != nil {
		return nil, false, err
	}
	kept := msgs[:0]
	for _, m := range msgs {
		if mk.byCursor || mk.taken[m.ID] {
			m.State = store.Delivered
			kept = append(kept, m)
		}
	}
	return truncate(msgs, len(kept)), more, nil
}

// marking is how mark marked a get's messages delivered: all of them by
// moving cursors, or those in taken row by row.
type marking struct {
	byCursor bool
	taken    map[int64]bool
}

// mark marks msgs delivered. When what the get takes of each number is all
// that waited for it up to some id, and nothing has taken any of them
// since it looked (cuts), marking is moving the numbers' cursors: one
// statement whatever the count, where marking each row dirties a page of
// messages and one of an index per message. Otherwise it marks each row
// still waiting.
func (tx *wtx) mark(msgs []store.Message, cuts []cut, mk *marking) error {
	mk.byCursor = len(cuts) > 0
	for _, c := range cuts {
		if tx.touched[c.callee] || !tx.db.wait.unchanged(c.callee, c.gen) {
			mk.byCursor = false
			break
		}
	}
	if mk.byCursor {
		return tx.markByCursor(cuts)
	}
	mk.taken = make(map[int64]bool, len(msgs))
	if len(msgs) == 1 {
		// The common get of one: whether it was taken is the count of
		// rows changed, without reading a RETURNING row back.
		r, err := tx.exec(`UPDATE messages SET state = 1 WHERE id = ? AND `+afterCursor, msgs[0].ID)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		mk.taken[msgs[0].ID] = n == 1
		if n == 1 {
			tx.taken(msgs[0].Callee, msgs[0].ID)
		}
		return nil
	}
	return tx.markRows(msgs, mk.taken)
}

// markByCursor moves each cut's number's cursor to its last id taken.
func (tx *wtx) markByCursor(cuts []cut) error {
	args := make([]any, 0, 2*len(cuts))
	for _, c := range cuts {
		args = append(args, c.callee, c.upto)
	}
	if _, err := tx.exec(`INSERT INTO cursors(number, upto) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?), ", len(cuts)), ", ")+
		` ON CONFLICT(number) DO UPDATE SET upto = max(upto, excluded.upto)`, args...); err != nil {
		return err
	}
	for _, c := range cuts {
		tx.advanced(c.callee, c.upto, c.n)
	}
	return nil
}

// markRows marks those of msgs still waiting delivered, noting them in
// taken.
func (tx *wtx) markRows(msgs []store.Message, taken map[int64]bool) error {
	ids := make([]any, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].ID
	}
	rows, err := tx.query(`UPDATE messages SET state = 1 WHERE id IN (`+inList(len(ids))+`) AND `+afterCursor+` RETURNING id`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		taken[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if taken[m.ID] {
			tx.taken(m.Callee, m.ID)
		}
	}
	return nil
}

func (db *DB) History(ctx context.Context, q store.GetQuery) ([]store.Message, bool, error) {
	query, args := getQuery(q, false)
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, mapErr(err)
	}
	return collect(rows, q.Limit)
}

func (db *DB) Message(ctx context.Context, id int64) (store.Message, error) {
	m, err := scanMessage(db.rqueryRow(ctx, `SELECT `+messageColumns+messageFrom+`WHERE m.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, store.ErrBadMsgID
	}
	return m, mapErr(err)
}

func (db *DB) MarkRead(ctx context.Context, callees []string, ids []int64) error {
	return db.write(ctx, func(tx *wtx) error {
		for _, id := range ids {
			var callee string
			var st store.State
			err := tx.queryRow(`SELECT m.callee, `+effectiveState+` FROM messages m WHERE m.id = ?`, id).Scan(&callee, &st)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && !contains(callees, callee)) {
				return store.ErrBadMsgID
			}
			if err != nil {
				return err
			}
			if _, err := tx.exec(`UPDATE messages SET state = 2 WHERE id = ?`, id); err != nil {
				return err
			}
			if st == store.Sent {
				tx.taken(callee, id)
			}
		}
		return nil
	})
}

func (db *DB) States(ctx context.Context, caller string, ids []int64) ([]store.State, error) {
	out := make([]store.State, 0, len(ids))
	for _, id := range ids {
		var c string
		var st store.State
		err := db.rqueryRow(ctx, `SELECT m.caller, `+effectiveState+` FROM messages m WHERE m.id = ?`, id).Scan(&c, &st)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && c != caller) {
			return nil, store.ErrBadMsgID
		}
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, st)
	}
	return out, nil
}

// expireBatch bounds the rows one expiry operation deletes, so the janitor
// never holds the writer for long.
const expireBatch = 2000

// expired is what expireMessages deleted that may have to be freed: the
// distinct uris of the blobs rows deleted messages referred to (the
// candidates for dropBlobs), and the extents they held themselves.
type expired struct {
	uris  []string
	arena []blob.Extent
}

// expireMessages deletes messages and idempotency records older than
// before. On an error it still returns what the part that committed
// deleted.
func (db *DB) expireMessages(ctx context.Context, before time.Time) (expired, error) {
	cut := before.Unix()
	seen := map[string]bool{}
	var out expired
	var ex expiredBatch
	for {
		err := db.write(ctx, func(tx *wtx) error {
			ex = expiredBatch{uris: ex.uris[:0], arena: ex.arena[:0]}
			return tx.expire(cut, seen, &ex)
		})
		if err != nil {
			return out, err
		}
		// Committed: the extents are the caller's to free.
		out.arena = append(out.arena, ex.arena...)
		for _, u := range ex.uris {
			if !seen[u] {
				seen[u] = true
				out.uris = append(out.uris, u)
			}
		}
		if ex.n < expireBatch {
			return out, nil
		}
	}
}

// expiredBatch is what one expiry operation deleted: n messages, whose
// blobs rows (uris) may now be unused, and whose own arena extents are to
// be freed once it commits.
type expiredBatch struct {
	n     int
	uris  []string
	arena []blob.Extent
}

// expire deletes up to expireBatch messages stored before cut, and the
// sends and pushes as old; uris already in seen are not added again.
func (tx *wtx) expire(cut int64, seen map[string]bool, ex *expiredBatch) error {
	var top int64
	if err := tx.queryRow(`SELECT coalesce(max(id), 0) FROM messages`).Scan(&top); err != nil {
		return err
	}
	if err := tx.deleteExpired(cut, seen, ex); err != nil {
		return err
	}
	// A new message's id is the largest one's plus one (no
	// AUTOINCREMENT): once the newest messages are gone, new ones would
	// take ids at or below cursors, and be delivered before anyone got
	// them. No cursor may stand above the largest id.
	var left int64
	if err := tx.queryRow(`SELECT coalesce(max(id), 0) FROM messages`).Scan(&left); err != nil {
		return err
	}
	if left < top {
		if _, err := tx.exec(`UPDATE cursors SET upto = ? WHERE upto > ?`, left, left); err != nil {
			return err
		}
	}
	if _, err := tx.exec(`DELETE FROM sends WHERE time < ?`, cut); err != nil {
		return err
	}
	// Pushes older than the messages they announced: left only when
	// push was configured and no longer is, so nothing drains them.
	_, err := tx.exec(`DELETE FROM outbox WHERE created < ?`, cut*1000)
	return err
}

// deleteExpired deletes up to expireBatch messages stored before cut.
func (tx *wtx) deleteExpired(cut int64, seen map[string]bool, ex *expiredBatch) error {
	// A message holding its own data leaves nothing to check; one holding
	// its own extent leaves it to free, once this commits.
	rows, err := tx.query(`DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE time < ? LIMIT `+strconv.Itoa(expireBatch)+`)
		RETURNING CASE WHEN data IS NULL AND arena_off IS NULL THEN uri END, id, callee, `+afterCursor+`, length, arena_off`, cut)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var u sql.NullString
		var id, length int64
		var callee string
		var undelivered bool
		var off sql.NullInt64
		if err := rows.Scan(&u, &id, &callee, &undelivered, &length, &off); err != nil {
			return err
		}
		if off.Valid {
			ex.arena = append(ex.arena, blob.ExtentOf(off.Int64, length))
		}
		if undelivered {
			tx.taken(callee, id)
		}
		ex.n++
		if u.Valid && !seen[u.String] {
			ex.uris = append(ex.uris, u.String)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// dropBlobs deletes the blobs rows among uris that no message refers to,
// and returns those whose data lives outside the database, to be freed
// once this returns: the deletes are then durable.
func (db *DB) dropBlobs(ctx context.Context, uris []string) ([]placed, error) {
	var external []placed
	for len(uris) > 0 {
		chunk := uris[:min(len(uris), expireBatch)]
		uris = uris[len(chunk):]
		var dropped []placed
		err := db.write(ctx, func(tx *wtx) error {
			dropped = dropped[:0]
			for _, h := range chunk {
				var ext bool
				var length int64
				var off sql.NullInt64
				err := tx.queryRow(`DELETE FROM blobs WHERE hash = ? AND NOT EXISTS (SELECT 1 FROM messages WHERE uri = ? AND data IS NULL AND arena_off IS NULL)
					RETURNING inline IS NULL, length, arena_off`, h, h).Scan(&ext, &length, &off)
				if errors.Is(err, sql.ErrNoRows) {
					continue
				}
				if err != nil {
					return err
				}
				if ext {
					dropped = append(dropped, placed{uri: h, length: length, inArena: off.Valid,
						ext: blob.ExtentOf(off.Int64, length), file: !off.Valid})
				}
			}
			return nil
		})
		if err != nil {
			// The chunks before committed: theirs are the caller's to free.
			return external, err
		}
		external = append(external, dropped...)
	}
	return external, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
