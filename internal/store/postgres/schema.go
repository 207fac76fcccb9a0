package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// The schema is versioned (migrate.go): a database's version is the number
// of steps it has had, and Open runs the ones it lacks. A change to the
// schema is a step appended here; a step is never edited once a released
// ringd could have run it. (Until ringd can be pointed at this engine, no
// database outside tests has step 1, and it may still change.)
var steps = []step{
	// 1: the schema the engine started with.
	statements(schemaV1...),
	// 2: login counts on devices and pushes, as SQLite's step 2: every
	// login takes the next value of login_count into its device's row, and
	// every push carries its device's count when it was made, so a "token
	// dead" answer to a push made before a re-login cannot unbind the
	// device (UnbindToken), even within the same second. A sequence never
	// hands out a value twice, whatever transactions roll back.
	statements(
		`CREATE SEQUENCE login_count`,
		`ALTER TABLE devices ADD COLUMN login bigint NOT NULL DEFAULT 0`,
		`ALTER TABLE outbox ADD COLUMN login bigint NOT NULL DEFAULT 0`,
	),
	// 3: objects whose data rows expiry has deleted, kept for one orphan
	// grace for readers that opened them before. A table, not a node's
	// memory, so that whichever node sweeps next knows them: written in
	// the transaction that deletes the rows, cleared with the object.
	// since is PostgreSQL's clock in Unix milliseconds, one clock for
	// every node.
	statements(
		`CREATE TABLE doomed_objects(name text PRIMARY KEY, since bigint NOT NULL)`,
		`CREATE INDEX doomed_objects_since ON doomed_objects(since)`,
	),
	// 4: delivery by cursor (cursor.go): every message to number whose
	// state is 0 and whose id is at or below upto has been delivered. A
	// table of its own, not a column of numbers: sends lock the callees'
	// numbers rows, and a get must not queue behind them. Each number's
	// cursor starts just below its oldest undelivered message (or at its
	// newest message), exact for what the database holds: a message not
	// yet committed has a larger id than every committed one of its
	// callee's. Then messages_undelivered goes: it would hold every
	// message delivered by cursor until it expires, and no read uses it.
	statements(
		`CREATE TABLE cursors(number text PRIMARY KEY, upto bigint NOT NULL)`,
		`INSERT INTO cursors(number, upto)
			SELECT callee, coalesce(min(id) FILTER (WHERE state = 0) - 1, max(id)) FROM messages GROUP BY callee`,
		`DROP INDEX messages_undelivered`,
	),
}

// statements is a step that runs qs in order.
func statements(qs ...string) step {
	return func(ctx context.Context, tx pgx.Tx) error {
		for _, q := range qs {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
}

// schemaV1 keeps what the SQLite engine keeps (internal/store/sqlite,
// schema.go), shaped for many writers at once: row locks rather than one
// writer, ids from sequences (never reused), unique keys where concurrent
// requests must agree (numbers, a send's cid), and lease columns for work
// several nodes share (the outbox, the janitor). Times the server passes
// in are Unix seconds (numbers, messages) or milliseconds (calls, the
// outbox, data), as on SQLite; times only PostgreSQL's clock decides
// (leases) are timestamptz.
var schemaV1 = []string{
	// numbers: token is the push token of the device the number is bound
	// to, NULL when it is not in use.
	`CREATE TABLE numbers(
		number    text PRIMARY KEY,
		uuid_hash bytea NOT NULL UNIQUE,
		name      text NOT NULL DEFAULT '',
		token     text,
		created   bigint NOT NULL
	)`,
	`CREATE INDEX numbers_token ON numbers(token) WHERE token IS NOT NULL`,
	`CREATE TABLE devices(
		token   text PRIMARY KEY,
		appid   text NOT NULL,
		build   text NOT NULL,
		name    text NOT NULL,
		locale  text NOT NULL,
		updated bigint NOT NULL
	)`,
	`CREATE TABLE reserved(number text PRIMARY KEY)`,

	// data: the datum of one send, which only that send's messages name,
	// by a random name of its own (never shared with another send, even
	// for the same bytes: data.go). inline holds its bytes when they are
	// kept in PostgreSQL, and is NULL when they are in the object store
	// under name. Expiry deletes a row with its last message; last_used
	// is when its send stored it.
	`CREATE TABLE data(
		name      text PRIMARY KEY,
		length    bigint NOT NULL,
		inline    bytea,
		last_used bigint NOT NULL
	)`,
	`CREATE INDEX data_last_used ON data(last_used)`,

	// messages: data is the opaque reference to the message's datum (a
	// name in data, or in the object store), NULL when it has none (a
	// missed-call notice); inline, when set, holds a small datum in the
	// row itself, so a get of texts reads no second table. Ids come from
	// a sequence: unique and never reused, but two inserts that commit at
	// once may commit in the order opposite to their ids. What needs ids
	// to grow in commit order for one callee (paging by id, delivery by
	// cursor) must make that callee's inserts queue: every insert locks
	// the callee's numbers row first, until it commits.
	`CREATE TABLE messages(
		id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		caller      text NOT NULL,
		caller_name text NOT NULL,
		callee      text NOT NULL,
		time        bigint NOT NULL,
		uri         text NOT NULL,
		length      bigint NOT NULL,
		fname       text,
		callid      text,
		state       smallint NOT NULL DEFAULT 0,
		data        text,
		inline      bytea
	)`,
	// A get took a number's oldest undelivered messages from this index
	// of only those, until step 4 delivered by cursor and dropped it.
	`CREATE INDEX messages_undelivered ON messages(callee, id) WHERE state = 0`,
	`CREATE INDEX messages_callee ON messages(callee, id)`,
	`CREATE INDEX messages_time ON messages(time)`,
	// The sweep's question: does any message still refer to this datum?
	`CREATE INDEX messages_data ON messages(data) WHERE data IS NOT NULL`,
	// sends: a send that carried a cid, with its answer. The primary key
	// is what makes a cid repeated concurrently store one send: the second
	// INSERT ... ON CONFLICT finds the first's row.
	`CREATE TABLE sends(
		caller text NOT NULL,
		cid    text NOT NULL,
		time   bigint NOT NULL,
		result text NOT NULL,
		PRIMARY KEY(caller, cid)
	)`,
	`CREATE INDEX sends_time ON sends(time)`,

	// calls: deadline is NULL once the call has ended. Ring timeouts are
	// found by deadline, and may be claimed with FOR UPDATE SKIP LOCKED.
	`CREATE TABLE calls(
		id          text PRIMARY KEY,
		caller      text NOT NULL,
		caller_name text NOT NULL,
		callee      text NOT NULL,
		ai          boolean NOT NULL DEFAULT false,
		state       smallint NOT NULL,
		reason      text NOT NULL DEFAULT '',
		created     bigint NOT NULL,
		answered    bigint NOT NULL DEFAULT 0,
		ended       bigint NOT NULL DEFAULT 0,
		deadline    bigint,
		offer       bytea NOT NULL,
		answer_data bytea
	)`,
	`CREATE INDEX calls_deadline ON calls(deadline) WHERE deadline IS NOT NULL`,
	`CREATE INDEX calls_ended ON calls(ended) WHERE state = 2`,
	`CREATE TABLE balances(number text PRIMARY KEY, seconds bigint NOT NULL)`,
	`CREATE TABLE links(number text PRIMARY KEY, data text NOT NULL)`,

	// outbox: pushes not yet delivered, written in the transaction of what
	// they announce. Ids come from a sequence, so a deleted push's id is
	// never another's. claimed_until is the lease of the node sending a
	// push (FOR UPDATE SKIP LOCKED): until then no other node takes it,
	// after it any node may, so a push is lost with no node.
	`CREATE TABLE outbox(
		id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		kind          text NOT NULL,
		token         text NOT NULL,
		appid         text NOT NULL,
		caller        text NOT NULL DEFAULT '',
		caller_name   text NOT NULL DEFAULT '',
		body          text NOT NULL DEFAULT '',
		msgid         bigint NOT NULL DEFAULT 0,
		callid        text NOT NULL DEFAULT '',
		reason        text NOT NULL DEFAULT '',
		created       bigint NOT NULL,
		expires       bigint NOT NULL DEFAULT 0,
		due           bigint NOT NULL,
		attempts      integer NOT NULL DEFAULT 0,
		claimed_until bigint NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX outbox_due ON outbox(due, id)`,
	`CREATE INDEX outbox_token ON outbox(token)`,

	// leases: work one node at a time does (the janitor, the sweep) is
	// held by a row here until expires, by PostgreSQL's clock; a node
	// renews its lease, and another takes it once it has expired. A row,
	// not an advisory lock: nothing is lost with a session.
	`CREATE TABLE leases(
		name    text PRIMARY KEY,
		holder  text NOT NULL,
		expires timestamptz NOT NULL
	)`,
}
