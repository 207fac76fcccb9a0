package postgres_test

import (
	"context"
	neturl "net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/store/postgres"
	"github.com/ringd/ringd/internal/testsrv"
)

// sql runs statements on the database at url, as an operator would.
func sql(t *testing.T, url string, qs ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range qs {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// queryInt answers a query of one number on the database at url.
func queryInt(t *testing.T, url, q string, args ...any) int64 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// A database that cannot be reached fails Open with a message that says
// so, names the database, and carries no password.
func TestOpenUnreachable(t *testing.T) {
	for _, url := range []string{
		"postgres://ringd:s3cret-pw@127.0.0.1:1/ringd?sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=ringd password=s3cret-pw dbname=ringd sslmode=disable connect_timeout=2",
	} {
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err == nil {
			db.Close()
			t.Fatalf("opened %s", url)
		}
		msg := err.Error()
		t.Log(msg)
		if !strings.Contains(msg, "cannot reach database") || !strings.Contains(msg, `"ringd"`) || strings.Contains(msg, "s3cret-pw") {
			t.Fatalf("error %q: want it to say it cannot reach database \"ringd\", without the password", msg)
		}
	}
	for _, bad := range []string{"mysql://x", "postgres://ringd:s3cret-pw@127.0.0.1:notaport/ringd"} {
		_, err := postgres.Open(t.Context(), bad, postgres.Options{})
		if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
			t.Fatalf("open of %q: %v", bad, err)
		}
	}
}

// Opening again finds the schema current and changes nothing; a schema
// newer than this ringd's refuses to open, naming both versions.
func TestSchemaVersions(t *testing.T) {
	url := testsrv.Postgres(t)
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	version := queryInt(t, url, `SELECT version FROM schema_version`)
	if version < 1 {
		t.Fatalf("schema version %d after Open", version)
	}
	tables := queryInt(t, url, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`)
	db, err = postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	db.Close()
	if v := queryInt(t, url, `SELECT version FROM schema_version`); v != version {
		t.Fatalf("version %d after a second open, want %d", v, version)
	}
	if n := queryInt(t, url, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); n != tables {
		t.Fatalf("%d tables after a second open, want %d", n, tables)
	}
	sql(t, url, `UPDATE schema_version SET version = version + 1`)
	_, err = postgres.Open(t.Context(), url, postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this ringd") {
		t.Fatalf("open of a newer schema: %v", err)
	}
	t.Log(err)
}

// Processes starting at once on a new database migrate it once: every
// Open succeeds and the schema is whole.
func TestConcurrentMigrations(t *testing.T) {
	url := testsrv.Postgres(t)
	const opens = 8
	errs := make([]error, opens)
	var wg sync.WaitGroup
	for i := range opens {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 2})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d of %d at once: %v", i+1, opens, err)
		}
	}
	if n := queryInt(t, url, `SELECT count(*) FROM schema_version`); n != 1 {
		t.Fatalf("%d schema_version rows", n)
	}
	for _, table := range []string{"numbers", "devices", "reserved", "data", "messages", "sends", "calls",
		"balances", "links", "outbox", "leases"} {
		if n := queryInt(t, url, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = $1`, table); n != 1 {
			t.Fatalf("table %s: %d", table, n)
		}
	}
}

// With synchronous_commit off, Open warns; with it on, it does not.
func TestSynchronousCommitWarning(t *testing.T) {
	db, url := openDB(t)
	if w := db.Warnings(); len(w) != 0 {
		t.Fatalf("warnings with synchronous_commit on: %q", w)
	}
	db.Close()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	sql(t, url, `ALTER DATABASE `+strings.TrimPrefix(u.Path, "/")+` SET synchronous_commit = off`)
	db, err = postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if w := db.Warnings(); len(w) != 1 || !strings.Contains(w[0], "synchronous_commit") {
		t.Fatalf("warnings with synchronous_commit off: %q", w)
	}
}
