package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/store"
)

// Delivery by cursor, as on SQLite: every message to a number whose state
// column is 0 and whose id is at or below the number's cursor (cursors,
// upto) has been delivered. A get that takes all that waited for a number
// up to an id moves the cursor there, one row updated however many it
// takes, where marking each message wrote a new version of its row and of
// its index entries.
//
// This holds because one number's message ids grow in the order their
// transactions commit: every insert into messages first locks the callee's
// numbers row until it commits (schema.go, messages), so a get that sees a
// number's message sees every smaller id of that number that will ever
// be. Gets of one number queue on its cursor row; sends lock numbers rows,
// never cursors, so a get never waits for a send.

// effectiveState is a message's state as the protocol knows it, from
// messages m and the cursor k of its callee (a LEFT JOIN: no row, no
// message delivered by cursor).
const effectiveState = `CASE WHEN m.state = 0 AND m.id <= k.upto THEN 1 ELSE m.state END`

// anyWaiting is whether a message waits for one of q's numbers that a take
// would answer: most gets find nothing, and this read takes no lock and
// writes nothing. A message committed after it is one the get came too
// early for.
//
// Here and below, a scan of one number's messages is ordered by (callee,
// id): only messages_callee is in that order, so no plan, even a generic
// one on a table not yet analyzed, walks the primary key through every
// number's messages above a cursor instead.
const anyWaiting = `SELECT EXISTS (SELECT 1 FROM unnest($1::text[]) AS q(number), LATERAL (
		SELECT 1 FROM messages m WHERE m.callee = q.number
			AND m.id > coalesce((SELECT upto FROM cursors k WHERE k.number = q.number), 0)
			AND m.state = 0 AND m.time > $2 AND m.id > $3
		ORDER BY m.callee, m.id LIMIT 1) w)`

// lockCursors locks the cursor rows of the numbers $1, making those
// missing, in the order of their numbers (so concurrent gets of several
// numbers queue instead of deadlocking). A conflict's DO UPDATE that
// updates nothing still locks the row, and writes no new version of it.
const lockCursors = `INSERT INTO cursors(number, upto)
	SELECT DISTINCT number, 0::bigint FROM unnest($1::text[]) AS q(number) ORDER BY number
	ON CONFLICT (number) DO UPDATE SET upto = cursors.upto WHERE false`

// takeWaiting, run with the cursors of $1 locked, answers the oldest
// waiting messages of the numbers $1 that pass the filters (time > $2, id >
// $3), at most $4, and whether more wait, and marks them delivered: each
// number's from its own index range above its cursor, then the oldest of
// them, whole rows, so that the answer reads no row twice. A number whose
// taken messages are all that waited for it up to the last of them (none
// left behind for the filters) has its cursor moved there; one with any
// left behind has its taken rows marked one by one, as the cursor must
// not pass a message still waiting.
const takeWaiting = `WITH k AS (
		SELECT number, upto FROM cursors WHERE number = ANY($1)
	), picked AS (
		SELECT w.* FROM k, LATERAL (
			SELECT * FROM messages
			WHERE callee = k.number AND id > k.upto AND state = 0 AND time > $2 AND id > $3
			ORDER BY callee, id LIMIT $4 + 1) w
		ORDER BY w.id LIMIT $4 + 1
	), taken AS (
		SELECT * FROM picked ORDER BY id LIMIT $4
	), tops AS (
		SELECT callee, max(id) AS top FROM taken GROUP BY callee
	), cuts AS (
		SELECT t.callee, t.top, s.id IS NULL AS whole
		FROM tops t JOIN k ON k.number = t.callee LEFT JOIN LATERAL (
			SELECT id FROM messages
			WHERE callee = t.callee AND id > k.upto AND id < t.top
				AND state = 0 AND NOT (time > $2 AND id > $3)
			ORDER BY callee, id LIMIT 1) s ON true
	), moved AS (
		UPDATE cursors c SET upto = t.top FROM cuts t WHERE t.whole AND c.number = t.callee
	), marked AS (
		UPDATE messages SET state = 1 WHERE state = 0 AND id = ANY(ARRAY(
			SELECT t.id FROM taken t JOIN cuts u ON u.callee = t.callee WHERE NOT u.whole))
	)
	SELECT ` + messageHead + `1::smallint` + messageTail + `, (SELECT count(*) FROM picked) > $4
	FROM taken m` + dataJoin + `ORDER BY m.id`

// takeInOrder, run with the cursors of $1 locked, is takeWaiting for the
// common get, in one pass over each number's index range: when each
// number's oldest waiting messages above its cursor, at most $4 + 1, all
// pass the filters, they are what takeWaiting would pick, none is left
// behind below any taken, and each number's cursor moves to the last of
// its taken. When any of them fails the filters it takes nothing, writes
// nothing and answers no rows.
const takeInOrder = `WITH k AS (
		SELECT number, upto FROM cursors WHERE number = ANY($1)
	), ahead AS (
		SELECT w.* FROM k, LATERAL (
			SELECT * FROM messages WHERE callee = k.number AND id > k.upto AND state = 0
			ORDER BY callee, id LIMIT $4 + 1) w
	), picked AS (
		SELECT * FROM ahead WHERE NOT EXISTS (SELECT FROM ahead WHERE NOT (time > $2 AND id > $3))
		ORDER BY id LIMIT $4 + 1
	), taken AS (
		SELECT * FROM picked ORDER BY id LIMIT $4
	), moved AS (
		UPDATE cursors c SET upto = t.top
		FROM (SELECT callee, max(id) AS top FROM taken GROUP BY callee) t WHERE c.number = t.callee
	)
	SELECT ` + messageHead + `1::smallint` + messageTail + `, (SELECT count(*) FROM picked) > $4
	FROM taken m` + dataJoin + `ORDER BY m.id`

// TakeUndelivered takes the oldest waiting messages of q's numbers. The
// cursors are locked by one statement and the messages read and marked by
// the next, in one transaction sent in one round trip: the second
// statement's snapshot is taken once the locks are held, so it sees the
// cursors and marks as the gets before it left them, and a message is
// taken by one get alone.
func (db *DB) TakeUndelivered(ctx context.Context, q store.GetQuery, dst []store.Message) ([]store.Message, bool, error) {
	var waiting bool
	err := db.pool.QueryRow(ctx, anyWaiting, q.Callees, q.After, q.AfterID).Scan(&waiting)
	if err != nil || !waiting {
		return nil, false, mapErr(err)
	}
	var msgs []store.Message
	var more bool
	err = db.retry(ctx, func() error {
		var err error
		msgs, more, err = db.take(ctx, q, dst)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return msgs, more, nil
}

// take is one attempt of TakeUndelivered: takeInOrder, and when it takes
// nothing (a message the filters leave behind is among the oldest, or
// another get took them first), takeWaiting in a transaction of its own.
func (db *DB) take(ctx context.Context, q store.GetQuery, dst []store.Message) ([]store.Message, bool, error) {
	msgs, more, err := db.takeBy(ctx, takeInOrder, q, dst)
	if err != nil || len(msgs) > len(dst) {
		return msgs, more, err
	}
	return db.takeBy(ctx, takeWaiting, q, dst)
}

// genericPlans makes the statements after it in its transaction, and only
// those, run on their generic plans: left to choose, PostgreSQL plans a
// take anew for each get's parameters, a large part of the take's work,
// while the generic plan reads each number's range by messages_callee in
// order, and each message's data row by its key, whatever the parameters.
const genericPlans = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

// takeBy locks q's cursors and runs the take statement take, in one
// transaction sent in one round trip: a batch without BEGIN runs as one
// implicit transaction, committed at its end.
func (db *DB) takeBy(ctx context.Context, take string, q store.GetQuery, dst []store.Message) ([]store.Message, bool, error) {
	var b pgx.Batch
	b.Queue(genericPlans)
	b.Queue(lockCursors, q.Callees)
	b.Queue(take, q.Callees, q.After, q.AfterID, q.Limit)
	br := db.pool.SendBatch(ctx, &b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, false, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, false, err
	}
	msgs, more := dst, false
	for rows.Next() {
		m, err := scanMessage(rows, &more)
		if err != nil {
			rows.Close()
			return nil, false, err
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	// Close reads the commit's answer: until it succeeds nothing was taken.
	if err := br.Close(); err != nil {
		return nil, false, err
	}
	return msgs, more, nil
}

func (db *DB) History(ctx context.Context, q store.GetQuery) ([]store.Message, bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+messageHead+effectiveState+messageTail+`
		FROM unnest($1::text[]) AS q(number) LEFT JOIN cursors k ON k.number = q.number, LATERAL (
			SELECT * FROM messages WHERE callee = q.number AND time > $2 AND id > $3 ORDER BY id LIMIT $4) m`+dataJoin+`
		ORDER BY m.id LIMIT $4`,
		q.Callees, q.After, q.AfterID, q.Limit+1)
	if err != nil {
		return nil, false, mapErr(err)
	}
	msgs, more, err := collect(rows, q.Limit, nil)
	return msgs, more, mapErr(err)
}

func (db *DB) Message(ctx context.Context, id int64) (store.Message, error) {
	m, err := scanMessage(db.pool.QueryRow(ctx, `SELECT `+messageHead+effectiveState+messageTail+`
		FROM messages m LEFT JOIN cursors k ON k.number = m.callee`+dataJoin+`WHERE m.id = $1`, id))
	if notFound(err) {
		return store.Message{}, store.ErrBadMsgID
	}
	return m, mapErr(err)
}

func (db *DB) States(ctx context.Context, caller string, ids []int64) ([]store.State, error) {
	rows, err := db.pool.Query(ctx, `SELECT m.id, `+effectiveState+`
		FROM messages m LEFT JOIN cursors k ON k.number = m.callee WHERE m.id = ANY($1) AND m.caller = $2`, ids, caller)
	if err != nil {
		return nil, mapErr(err)
	}
	found := make(map[int64]store.State, len(ids))
	var id int64
	var st store.State
	if err := forEach(rows, []any{&id, &st}, func() { found[id] = st }); err != nil {
		return nil, mapErr(err)
	}
	out := make([]store.State, len(ids))
	for i, id := range ids {
		s, ok := found[id]
		if !ok {
			return nil, store.ErrBadMsgID
		}
		out[i] = s
	}
	return out, nil
}
