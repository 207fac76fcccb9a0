package sqlite

import "context"

// The schema is versioned (migrate.go): a database's version is the number
// of steps it has had, and Open runs the ones it lacks. A change to the
// schema is a step appended here. A step is never edited once released,
// as databases have had it; nor are the baseline's statements below.
var steps = []step{
	// 1: the schema as it stood when versions began.
	baseline,
	// 2: login counts on devices and pushes.
	loginCounts,
}

// loginCounts is step 2: every login takes the next count of login_count
// into its device's row, and every push carries its device's count when
// it was made (outbox.login), so a "token dead" answer to a push made
// before a re-login cannot unbind the device (UnbindToken). A time in
// seconds, as devices.updated is, ties when both fall in one second.
// Devices and pushes from before have count 0: any login after the
// upgrade is above them.
func loginCounts(ctx context.Context, w *wconn) error {
	// Idempotent, as the baseline is: a test may set a database's version
	// back to 0 to play one made before versions.
	for _, col := range []struct{ table, name, decl string }{
		{"devices", "login", "INTEGER NOT NULL DEFAULT 0"},
		{"outbox", "login", "INTEGER NOT NULL DEFAULT 0"},
	} {
		if err := addColumn(ctx, w, col.table, col.name, col.decl); err != nil {
			return err
		}
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS login_count(n INTEGER NOT NULL)`,
		`INSERT INTO login_count(n) SELECT coalesce(max(login), 0) FROM devices
			WHERE NOT EXISTS (SELECT 1 FROM login_count)`,
	} {
		if err := w.run(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// addColumn adds a column to table unless it has one of that name: ALTER
// TABLE ADD COLUMN has no IF NOT EXISTS.
func addColumn(ctx context.Context, w *wconn, table, name, decl string) error {
	var n int
	err := w.queryRow(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, name).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	return w.run(ctx, `ALTER TABLE `+table+` ADD COLUMN `+name+` `+decl)
}

// baseline is step 1. Its statements are idempotent, as before versions
// they ran on every start: so the one step makes a new database, and
// brings one made before versions (of version 0, whatever older shape it
// has) to the same schema. It creates the tables (baselineSchema), adds
// the columns that a database made before them lacks (baselineColumns),
// then runs baselineMigrations.
func baseline(ctx context.Context, w *wconn) error {
	for _, q := range baselineSchema {
		if err := w.run(ctx, q); err != nil {
			return err
		}
	}
	for _, col := range baselineColumns {
		var n int
		err := w.queryRow(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, col.table, col.name).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			if err := w.run(ctx, `ALTER TABLE `+col.table+` ADD COLUMN `+col.name+` `+col.decl); err != nil {
				return err
			}
		}
	}
	for _, q := range baselineMigrations {
		if err := w.run(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// baselineSchema creates the tables; each statement was appended, never
// edited, as the schema grew before versions.
var baselineSchema = []string{
	`CREATE TABLE IF NOT EXISTS numbers(
		number    TEXT PRIMARY KEY,
		uuid_hash BLOB NOT NULL UNIQUE,
		name      TEXT NOT NULL DEFAULT '',
		token     TEXT,
		created   INTEGER NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS numbers_token ON numbers(token) WHERE token IS NOT NULL`,
	`CREATE TABLE IF NOT EXISTS devices(
		token   TEXT PRIMARY KEY,
		appid   TEXT NOT NULL,
		build   TEXT NOT NULL,
		name    TEXT NOT NULL,
		locale  TEXT NOT NULL,
		updated INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS reserved(number TEXT PRIMARY KEY) WITHOUT ROWID`,
	// blobs: one row per distinct data; inline holds data of at most
	// store.TextMax bytes, larger data lives in the blob store.
	`CREATE TABLE IF NOT EXISTS blobs(
		hash   TEXT PRIMARY KEY,
		length INTEGER NOT NULL,
		inline BLOB
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS messages(
		id          INTEGER PRIMARY KEY,
		caller      TEXT NOT NULL,
		caller_name TEXT NOT NULL,
		callee      TEXT NOT NULL,
		time        INTEGER NOT NULL,
		uri         TEXT NOT NULL,
		length      INTEGER NOT NULL,
		fname       TEXT,
		callid      TEXT,
		state       INTEGER NOT NULL DEFAULT 0
	)`,
	// messages_undelivered, a partial index of the messages with state 0,
	// stood here; delivery is now by cursor (the cursors table, below), and
	// the migrations drop it once they have used it.
	`CREATE INDEX IF NOT EXISTS messages_callee ON messages(callee, id)`,
	`CREATE INDEX IF NOT EXISTS messages_time ON messages(time)`,
	// messages_uri, a full index on uri, stood here; it became
	// messages_uri_shared and then messages_uri_blobs (migrations, below),
	// and creating it here would
	// rebuild it on every start only for the migration to drop it again.
	// sends remembers each send that carried a cid, with its answer, so a
	// retry gets the first answer again.
	`CREATE TABLE IF NOT EXISTS sends(
		caller TEXT NOT NULL,
		cid    TEXT NOT NULL,
		time   INTEGER NOT NULL,
		result TEXT NOT NULL,
		PRIMARY KEY(caller, cid)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS sends_time ON sends(time)`,
	// outbox holds the pushes not yet delivered, written in the same
	// transaction as what they announce. Times are Unix milliseconds;
	// expires 0 means the dispatcher's default age.
	`CREATE TABLE IF NOT EXISTS outbox(
		id          INTEGER PRIMARY KEY,
		kind        TEXT NOT NULL,
		token       TEXT NOT NULL,
		appid       TEXT NOT NULL,
		caller      TEXT NOT NULL DEFAULT '',
		caller_name TEXT NOT NULL DEFAULT '',
		body        TEXT NOT NULL DEFAULT '',
		msgid       INTEGER NOT NULL DEFAULT 0,
		callid      TEXT NOT NULL DEFAULT '',
		reason      TEXT NOT NULL DEFAULT '',
		created     INTEGER NOT NULL,
		expires     INTEGER NOT NULL DEFAULT 0,
		due         INTEGER NOT NULL,
		attempts    INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX IF NOT EXISTS outbox_due ON outbox(due)`,
	`CREATE INDEX IF NOT EXISTS outbox_token ON outbox(token)`,
}

// Calls, balances and link data, appended as the rule above says.
func init() {
	baselineSchema = append(baselineSchema,
		// calls: times are Unix milliseconds, so a short ring timeout keeps
		// its precision; deadline is NULL once the call has ended.
		`CREATE TABLE IF NOT EXISTS calls(
			id           TEXT PRIMARY KEY,
			caller       TEXT NOT NULL,
			caller_name  TEXT NOT NULL,
			callee       TEXT NOT NULL,
			ai           INTEGER NOT NULL DEFAULT 0,
			state        INTEGER NOT NULL,
			reason       TEXT NOT NULL DEFAULT '',
			created      INTEGER NOT NULL,
			answered     INTEGER NOT NULL DEFAULT 0,
			ended        INTEGER NOT NULL DEFAULT 0,
			deadline     INTEGER,
			offer        BLOB,
			answer_data  BLOB
		) WITHOUT ROWID`,
		`CREATE INDEX IF NOT EXISTS calls_deadline ON calls(deadline) WHERE deadline IS NOT NULL`,
		`CREATE INDEX IF NOT EXISTS calls_ended ON calls(ended) WHERE state = 2`,
		`CREATE TABLE IF NOT EXISTS balances(number TEXT PRIMARY KEY, seconds INTEGER NOT NULL) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS links(number TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID`,
	)
	// cursors: every message to number with state 0 and id <= upto has
	// been delivered (its effective state is 1): a get of a number's
	// oldest waiting messages marks them all by moving upto, one row
	// however many it takes, where marking each row dirtied a page per
	// message. messages.go, effectiveState.
	baselineSchema = append(baselineSchema,
		`CREATE TABLE IF NOT EXISTS cursors(number TEXT PRIMARY KEY, upto INTEGER NOT NULL) WITHOUT ROWID`,
	)
}

// baselineColumns are added to existing tables when missing: ALTER TABLE
// ADD COLUMN has no IF NOT EXISTS.
var baselineColumns = []struct{ table, name, decl string }{
	// data holds the text of a send to one number (at most
	// store.TextMax bytes) in its message row, instead of a blobs row
	// keyed by the text's SHA-256: a random key dirties a random leaf of
	// blobs and of an index on uri at every send, while a message row only
	// appends. uri stays the SHA-256 of the data.
	{"messages", "data", "BLOB"},
	// arena_off is where the data is in the blob arena (internal/blob,
	// Arena), NULL for data inline or in the blob store: the arena keeps
	// no index of its own, so an extent is in use exactly when a row here
	// points at it (a file of its own costs three journal commits: its
	// data and size, its name, its directory).
	{"blobs", "arena_off", "INTEGER"},
	// arena_off on a message is where its own data is in the arena: a
	// file (or long text) to one number keeps its extent in its row, as a
	// text keeps its bytes in data, with no blobs row keyed by its random
	// SHA-256 and no entry in the uri index (two random pages written to
	// the WAL and again to the database per file send). A
	// sends to several shares one blobs row, as before.
	{"messages", "arena_off", "INTEGER"},
}

// baselineMigrations run after baselineColumns; each is idempotent.
var baselineMigrations = []string{
	// Only messages whose data lives in blobs (or the blob store) need
	// finding by uri: the janitor's check that nobody else refers to it.
	// Neither a text in its row (data) nor a file with its own extent
	// (arena_off) does. messages_uri_shared (WHERE data IS NULL) stood
	// here before messages had arena_off; it gives way to
	// messages_uri_blobs, which leaves out the rows holding their extent.
	`DROP INDEX IF EXISTS messages_uri`,
	`DROP INDEX IF EXISTS messages_uri_shared`,
	`CREATE INDEX IF NOT EXISTS messages_uri_blobs ON messages(uri) WHERE data IS NULL AND arena_off IS NULL`,
	// Delivery by cursor. A database from before has no cursors: each
	// number's starts just below its oldest undelivered message (or at its
	// newest message), so what a get scans (messages_callee from the
	// cursor on) does not include the delivered history. Only while
	// messages_undelivered exists, that is once; then it goes, since it
	// would hold every message delivered by cursor until it expires.
	`INSERT OR IGNORE INTO cursors(number, upto)
		SELECT m.callee, coalesce((SELECT min(u.id) FROM messages u
			WHERE u.callee = m.callee AND u.state = 0) - 1, max(m.id))
		FROM messages m
		WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'messages_undelivered')
		GROUP BY m.callee`,
	`DROP INDEX IF EXISTS messages_undelivered`,
}
