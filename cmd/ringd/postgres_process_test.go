package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/testsrv"
)

// ringdFails runs ringd with args, which must stop it at start, and
// returns what it printed.
func ringdFails(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(ringdBinary(t), append([]string{"-listen", "127.0.0.1:0", "-data", t.TempDir()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("ringd %v started; want it to stop:\n%s", args, out)
	}
	return string(out)
}

// A database that cannot be reached, a schema newer than the binary, and
// a bucket that cannot be used each stop ringd at start with a message
// saying which; a password in the database URL is never printed.
func TestPostgresStartFailures(t *testing.T) {
	ringdBinary(t)
	database := testsrv.Postgres(t)
	unreachable := "postgres://ringd:s3cret-pw@127.0.0.1:1/ringd?sslmode=disable&connect_timeout=2"
	if out := ringdFails(t, "-database", unreachable); !strings.Contains(out, "cannot reach database") || strings.Contains(out, "s3cret-pw") {
		t.Errorf("unreachable database: %s", out)
	}

	p := startRingd(t, t.TempDir(), "-database", database)
	p.mu.Lock()
	log := p.log.String()
	p.mu.Unlock()
	if !strings.Contains(log, "store=postgres") {
		t.Errorf("log of a start on PostgreSQL: %s", log)
	}
	p.kill(t)
	conn, err := pgx.Connect(t.Context(), database)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if out := ringdFails(t, "-database", database); !strings.Contains(out, "is newer than this ringd's") {
		t.Errorf("newer schema: %s", out)
	}

	objects := testsrv.StartS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", objects.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-"+objects.SecretKey)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	out := ringdFails(t, "-database", testsrv.Postgres(t), "-object-store", objects.URL())
	if !strings.Contains(out, "object store") || strings.Contains(out, objects.SecretKey) {
		t.Errorf("bucket refusing the keys: %s", out)
	}
	missing := strings.Replace(objects.URL(), objects.Bucket, "no-such-bucket", 1)
	t.Setenv("AWS_SECRET_ACCESS_KEY", objects.SecretKey)
	if out := ringdFails(t, "-database", testsrv.Postgres(t), "-object-store", missing); !strings.Contains(out, `bucket \"no-such-bucket\" does not exist`) {
		t.Errorf("missing bucket: %s", out)
	}
}
