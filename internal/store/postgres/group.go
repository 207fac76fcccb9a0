package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ringd/ringd/internal/store"
)

// Group commit of sends. Under load the node joins the sends without a
// cid, but those whose data is in the object store, into groups, and
// stores each group with one statement, so one commit (and one WAL flush)
// serves several sends. When push is not configured that statement is all
// (one round trip); when it is, the statement answers each message's
// device token, a second statement reads those devices (devicesOf), and
// the pushes the filter wants are queued to the outbox by a third
// statement of the same transaction, as a send alone queues them
// (outbox.go): a push never announces a message not committed, and the
// messages commit only with their pushes.
//
// At most groupsInFlight groups run at once. A send that finds one of
// them free runs at once, with whatever waits; otherwise it waits, and
// when a group is done, the sends waiting then form the next group (up to
// groupMaxSends sends and groupMaxBytes bytes of data), led by the first
// of them. So a send alone on an idle node runs alone, and the groups grow
// with the load.
//
// Each send of a group is judged alone, as sendAtOnce judges it: one whose
// sender is unknown or not in use, or none of whose callees is, stores
// nothing and gets its own error, and the others are stored. The group
// locks all its callees' rows in the order of their numbers, as every
// other send and login does, so groups queue behind each other rather
// than deadlock. A serialization failure or deadlock runs the group again;
// any other error PostgreSQL reports (which rolled the group back) runs
// its sends again one by one, so that one send's fault is that send's
// answer alone. A group of one is a send alone (sendWithoutCID).

const (
	groupsInFlight = 4
	groupMaxSends  = 64
	groupMaxBytes  = 1 << 20
)

// grouper queues the sends waiting for a group.
type grouper struct {
	mu      sync.Mutex // guards the following
	running int        // groups in flight
	waiting []*groupedSend
}

// groupedSend is one send in a group, and its answer once the group is
// stored.
type groupedSend struct {
	m       *store.NewMessages
	callees []string
	p       *placed
	res     store.SendResult
	err     error
	// done receives at most once: when res and err are set, or lead is.
	done chan struct{}
	lead []*groupedSend // the group this send is to run, itself among them
}

// bytes is how much of the group's statement this send's data takes.
func (s *groupedSend) bytes() int { return len(s.p.bytes) }

// sendInGroup stores the send in a group, and returns its own answer. It
// waits for the group however ctx ends: the group's statement is not
// cancelled by one of its sends' clients.
func (db *DB) sendInGroup(ctx context.Context, m *store.NewMessages, callees []string, p *placed) (store.SendResult, error) {
	me := &groupedSend{m: m, callees: callees, p: p, done: make(chan struct{}, 1)}
	g := &db.group
	g.mu.Lock()
	g.waiting = append(g.waiting, me)
	leads := g.running < groupsInFlight
	if leads {
		g.running++
		me.lead = g.next()
	}
	g.mu.Unlock()
	if !leads {
		<-me.done // me.lead is set before, if at all
	}
	if me.lead != nil {
		db.runGroup(context.WithoutCancel(ctx), me)
	}
	return me.res, me.err
}

// next takes the next group off the waiting sends; g.mu is held.
func (g *grouper) next() []*groupedSend {
	n, size := 0, 0
	for n < len(g.waiting) && n < groupMaxSends {
		size += g.waiting[n].bytes()
		if n > 0 && size > groupMaxBytes {
			break
		}
		n++
	}
	group := g.waiting[:n:n]
	g.waiting = g.waiting[n:]
	if len(g.waiting) == 0 {
		g.waiting = nil
	}
	return group
}

// runGroup stores the group leader leads, hands the sends that waited
// meanwhile to the first of them to lead, or frees the group's place, and
// answers the group's other sends.
func (db *DB) runGroup(ctx context.Context, leader *groupedSend) {
	group := leader.lead
	db.storeGroup(ctx, group)
	g := &db.group
	g.mu.Lock()
	var following []*groupedSend
	if len(g.waiting) > 0 {
		following = g.next()
	} else {
		g.running--
	}
	g.mu.Unlock()
	if following != nil {
		following[0].lead = following
		following[0].done <- struct{}{}
	}
	for _, s := range group {
		if s != leader {
			s.done <- struct{}{}
		}
	}
}

// storeGroup stores group's sends and sets each one's answer.
func (db *DB) storeGroup(ctx context.Context, group []*groupedSend) {
	if len(group) == 1 {
		s := group[0]
		s.res, s.err = db.sendWithoutCID(ctx, s.m, s.callees, s.p)
		return
	}
	err := db.retry(ctx, func() error { return db.sendGroup(ctx, group) })
	var pe *pgconn.PgError
	switch {
	case err == nil:
		db.stats.commits.Add(1)
	case errors.As(err, &pe) && !retryable(err):
		// The statement was rolled back: see whose fault it is.
		for _, s := range group {
			db.storeGroup(ctx, []*groupedSend{s})
		}
	default:
		for _, s := range group {
			s.res, s.err = store.SendResult{}, err
		}
	}
}

// groupStatement stores a group of sends as sendAtOnce stores one: $1 the
// senders' uuid hashes, one per send i (1, 2, ...); $2 and $3 the callees,
// flattened, with the i of their send; $4 to $11 each send's caller name,
// time, uri, length, fname, data row name, data row bytes and message
// bytes; $12 the data rows' last_used. The callees' rows are locked in
// the order of their numbers before any message id is taken, and the ids
// are taken in the order of the sends and, within a send, of its callees.
// It answers a row per send: whether its sender was found and is in use,
// and the callees it stored messages for with their ids.
//
// groupPushStatement is groupStatement that answers, after those, what
// the sends' pushes need: the sender's number, the caller name the
// messages carry, and for each message its callee's device (token, appid,
// empty when no device is known, and login count), as liveCallees reads
// them. Without push the statement reads no device.
var (
	groupStatement     = groupSQL(false)
	groupPushStatement = groupSQL(true)
)

// groupSQL is groupPushStatement if devices, else groupStatement.
func groupSQL(devices bool) string {
	var deviceColumns, deviceAggregates, deviceAnswers string
	if devices {
		deviceColumns = `, c.token`
		deviceAggregates = `, min(caller) AS caller, min(caller_name) AS caller_name,
				array_agg(token ORDER BY id) AS tokens`
		deviceAnswers = `, coalesce(k.caller, ''), coalesce(k.caller_name, ''), coalesce(k.tokens, '{}')`
	}
	return `WITH s AS (
		SELECT u.i, n.number, n.name, n.token IS NOT NULL AS in_use
		FROM unnest($1::bytea[]) WITH ORDINALITY AS u(h, i) JOIN numbers n ON n.uuid_hash = u.h
	), cc AS (
		SELECT * FROM unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS cc(i, callee, o)
	), c AS MATERIALIZED (
		SELECT number, token FROM numbers WHERE token IS NOT NULL
			AND number IN (SELECT cc.callee FROM cc JOIN s ON s.i = cc.i WHERE s.in_use)
		ORDER BY number FOR NO KEY UPDATE
	), r AS MATERIALIZED (
		SELECT o.*, nextval('messages_id_seq') AS id FROM (
			SELECT cc.i, cc.callee, s.number AS caller, coalesce(nullif(($4::text[])[cc.i], ''), s.name) AS caller_name` +
		deviceColumns + `
			FROM cc JOIN s ON s.i = cc.i JOIN c ON c.number = cc.callee
			WHERE s.in_use ORDER BY cc.o) o
	), d AS (
		INSERT INTO data(name, length, inline, last_used)
		SELECT ($9::text[])[i], ($7::bigint[])[i], ($10::bytea[])[i], $12
		FROM (SELECT DISTINCT i FROM r) k WHERE ($9::text[])[i] IS NOT NULL
	), m AS (
		INSERT INTO messages(id, caller, caller_name, callee, time, uri, length, fname, data, inline)
		OVERRIDING SYSTEM VALUE
		SELECT id, caller, caller_name, callee, ($5::bigint[])[i], ($6::text[])[i], ($7::bigint[])[i],
			($8::text[])[i], ($9::text[])[i], ($11::bytea[])[i]
		FROM r ORDER BY id
	)
	SELECT s.i IS NOT NULL, coalesce(s.in_use, false), coalesce(k.callees, '{}'), coalesce(k.ids, '{}')` +
		deviceAnswers + `
	FROM generate_series(1, cardinality($1::bytea[])) AS g(i)
		LEFT JOIN s ON s.i = g.i
		LEFT JOIN (SELECT i, array_agg(callee ORDER BY id) AS callees, array_agg(id ORDER BY id) AS ids` +
		deviceAggregates + `
			FROM r GROUP BY i) k ON k.i = g.i
	ORDER BY g.i`
}

// groupArgs are groupStatement's parameters.
type groupArgs struct {
	hashes                  [][]byte
	calleeSend              []int64
	callees                 []string
	callerNames, uris       []string
	times, lengths          []int64
	fnames, names           []*string
	dataBytes, messageBytes [][]byte
}

// argsOf lays out group's sends as groupStatement's parameters.
func argsOf(group []*groupedSend) *groupArgs {
	a := &groupArgs{}
	for i, s := range group {
		a.hashes = append(a.hashes, s.m.SenderHash[:])
		for _, c := range s.callees {
			a.calleeSend = append(a.calleeSend, int64(i+1))
			a.callees = append(a.callees, c)
		}
		a.callerNames = append(a.callerNames, s.m.CallerName)
		a.times = append(a.times, s.m.Now.Unix())
		a.uris = append(a.uris, s.p.uri)
		a.lengths = append(a.lengths, s.p.length)
		var fname, name *string
		if s.m.Fname != "" {
			fname = &s.m.Fname
		}
		var dataBytes, messageBytes []byte
		if s.p.inRow() {
			messageBytes = s.p.bytes
		} else {
			name = &s.p.name
			if !s.p.object {
				dataBytes = s.p.bytes
			}
		}
		a.fnames = append(a.fnames, fname)
		a.names = append(a.names, name)
		a.dataBytes = append(a.dataBytes, dataBytes)
		a.messageBytes = append(a.messageBytes, messageBytes)
	}
	return a
}

// sendGroup stores group in one transaction and sets each send's answer:
// its one statement alone when push is not configured, else that
// statement and the outbox's insert of the pushes it calls for, after
// whose commit the dispatcher is kicked.
func (db *DB) sendGroup(ctx context.Context, group []*groupedSend) error {
	if db.pushWanted.Load() == nil {
		_, err := storeMessages(ctx, db.pool, group, false)
		return err
	}
	tx := &wtx{db: db}
	err := pgx.BeginFunc(ctx, db.pool, func(t pgx.Tx) error {
		tx.Tx = t
		pushes, err := storeMessages(ctx, t, group, true)
		if err != nil {
			return err
		}
		return tx.queuePushes(ctx, pushes)
	})
	if err == nil && tx.pushed {
		db.pushCommitted()
	}
	return err
}

// storeMessages runs groupStatement through q, or groupPushStatement if
// withPushes, sets each send's answer, and returns the pushes announcing
// the messages stored.
func storeMessages(ctx context.Context, q querier, group []*groupedSend, withPushes bool) ([]store.Push, error) {
	a := argsOf(group)
	var r groupRow
	statement, scans := groupStatement, r.scans()
	if withPushes {
		statement, scans = groupPushStatement, append(scans, r.pushScans()...)
	}
	rows, err := q.Query(ctx, statement, a.hashes, a.calleeSend, a.callees, a.callerNames,
		a.times, a.uris, a.lengths, a.fnames, a.names, a.dataBytes, a.messageBytes, time.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	var announce []groupRow
	i := 0
	err = forEach(rows, scans, func() {
		if i < len(group) {
			answer(group[i], r.found, r.inUse, r.stored, r.ids)
			if withPushes && len(r.ids) > 0 {
				announce = append(announce, groupRow{send: group[i], caller: r.caller, callerName: r.callerName,
					stored: slices.Clone(r.stored), ids: slices.Clone(r.ids), tokens: slices.Clone(r.tokens)})
			}
		}
		i++
	})
	if err == nil && i != len(group) {
		err = fmt.Errorf("postgres: a group of %d sends answered %d rows", len(group), i)
	}
	if err != nil || len(announce) == 0 {
		return nil, err
	}
	return pushesOf(ctx, q, announce)
}

// pushesOf returns the pushes announcing the messages rows stored, as a
// send alone makes them (insertMessages), to the devices read now
// (devicesOf).
func pushesOf(ctx context.Context, q querier, rows []groupRow) ([]store.Push, error) {
	var tokens []string
	for _, r := range rows {
		tokens = append(tokens, r.tokens...)
	}
	devices, err := devicesOf(ctx, q, tokens)
	if err != nil {
		return nil, err
	}
	var pushes []store.Push
	for _, r := range rows {
		for k, id := range r.ids {
			d := devices[r.tokens[k]]
			c := liveCallee{number: r.stored[k], token: r.tokens[k], appid: d.appid, login: d.login}
			pushes = appendMessagePush(pushes, r.send.m, r.send.p, r.caller, r.callerName, c, id)
		}
	}
	return pushes, nil
}

// groupRow is a send's row of groupStatement or groupPushStatement.
type groupRow struct {
	send               *groupedSend
	found, inUse       bool
	stored             []string
	ids                []int64
	caller, callerName string
	tokens             []string
}

// scans are the destinations of groupStatement's columns.
func (r *groupRow) scans() []any { return []any{&r.found, &r.inUse, &r.stored, &r.ids} }

// pushScans are those of the columns groupPushStatement answers after.
func (r *groupRow) pushScans() []any {
	return []any{&r.caller, &r.callerName, &r.tokens}
}

// answer sets s's answer from its row of groupStatement.
func answer(s *groupedSend, found, inUse bool, stored []string, ids []int64) {
	s.res = store.SendResult{Time: s.m.Now.Unix()}
	switch {
	case !found:
		s.err = store.ErrUnknownUUID
		return
	case !inUse:
		s.err = store.ErrCallerNotInUse
		return
	case len(ids) == 0:
		s.err = store.ErrCalleeNotInUse
		return
	}
	s.err = nil
	setStored(&s.res, s.callees, stored, ids)
}
