// Package testsrv starts the real servers tests of the PostgreSQL engine and
// the object store run against: a fresh database on the PostgreSQL server of
// the machine, and a versitygw S3 gateway of the test's own.
//
// A server that is missing fails the test when CI=true (CI always has
// both, and a skip there would hide that nothing ran); elsewhere the test
// skips with a message saying how to provide the server.
package testsrv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgres is the server Postgres uses unless RINGD_TEST_POSTGRES
// names another: the machine's PostgreSQL, user postgres, trust auth.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// missing fails t when CI=true and skips it otherwise, saying why and what
// to do about it.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", msg)
	}
	t.Skip(msg)
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Postgres makes a fresh, empty database on the test PostgreSQL server and
// returns its URL; t's cleanup drops it, closing what still uses it.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("RINGD_TEST_POSTGRES")
	if admin == "" {
		admin = DefaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		missing(t, "no PostgreSQL at %s (%v): start it with "+
			"`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "+
			"or set RINGD_TEST_POSTGRES to a server URL whose user may create databases", redact(admin), err)
		return ""
	}
	defer conn.Close(context.Background())
	name := "ringd_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })
	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" {
		t.Fatalf("RINGD_TEST_POSTGRES must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String()
}

func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("drop test database %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	// WITH (FORCE) ends the sessions a failed test left open.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("drop test database %s: %v", name, err)
	}
}

// redact is a URL without its password, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// TerminateBackends ends the backends on url's database of the sessions
// named app (application_name) whose last statement starts with
// queryPrefix ("" for any), as an operator's pg_terminate_backend or a
// failover would, and returns how many it ended.
func TerminateBackends(t testing.TB, url, app, queryPrefix string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND starts_with(query, $2)`,
		app, queryPrefix).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
