-- The schema of a database made by ringd before schema versions (user_version
-- 0), as sqlite3's .schema prints it: made by Open at commit 6eebbbd. A fixed
-- snapshot for TestUpgradeFromBeforeVersions; never regenerate it.
CREATE TABLE numbers(
		number    TEXT PRIMARY KEY,
		uuid_hash BLOB NOT NULL UNIQUE,
		name      TEXT NOT NULL DEFAULT '',
		token     TEXT,
		created   INTEGER NOT NULL
	);
CREATE INDEX numbers_token ON numbers(token) WHERE token IS NOT NULL;
CREATE TABLE devices(
		token   TEXT PRIMARY KEY,
		appid   TEXT NOT NULL,
		build   TEXT NOT NULL,
		name    TEXT NOT NULL,
		locale  TEXT NOT NULL,
		updated INTEGER NOT NULL
	);
CREATE TABLE reserved(number TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE blobs(
		hash   TEXT PRIMARY KEY,
		length INTEGER NOT NULL,
		inline BLOB
	, arena_off INTEGER) WITHOUT ROWID;
CREATE TABLE messages(
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
	, data BLOB, arena_off INTEGER);
CREATE INDEX messages_callee ON messages(callee, id);
CREATE INDEX messages_time ON messages(time);
CREATE TABLE sends(
		caller TEXT NOT NULL,
		cid    TEXT NOT NULL,
		time   INTEGER NOT NULL,
		result TEXT NOT NULL,
		PRIMARY KEY(caller, cid)
	) WITHOUT ROWID;
CREATE INDEX sends_time ON sends(time);
CREATE TABLE outbox(
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
	);
CREATE INDEX outbox_due ON outbox(due);
CREATE INDEX outbox_token ON outbox(token);
CREATE TABLE calls(
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
		) WITHOUT ROWID;
CREATE INDEX calls_deadline ON calls(deadline) WHERE deadline IS NOT NULL;
CREATE INDEX calls_ended ON calls(ended) WHERE state = 2;
CREATE TABLE balances(number TEXT PRIMARY KEY, seconds INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE links(number TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE cursors(number TEXT PRIMARY KEY, upto INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX messages_uri_blobs ON messages(uri) WHERE data IS NULL AND arena_off IS NULL;
