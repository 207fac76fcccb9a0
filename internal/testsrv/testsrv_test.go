package testsrv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ringd/ringd/internal/testsrv"
)

// Postgres gives each call a database of its own, empty and writable.
func TestPostgres(t *testing.T) {
	ctx := t.Context()
	a, b := testsrv.Postgres(t), testsrv.Postgres(t)
	if a == b {
		t.Fatalf("two calls gave the same database %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("fresh database has %d tables (%v)", tables, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t(x int)`); err != nil {
		t.Fatal(err)
	}
}

// S3 answers with a bucket that takes and gives back an object, reachable
// only with its keys.
func TestS3(t *testing.T) {
	ctx := t.Context()
	endpoint, bucket, access, secret := testsrv.S3(t)
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("endpoint %s, want one on 127.0.0.1", endpoint)
	}
	client, err := minio.New(strings.TrimPrefix(endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(access, secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, bucket, "x", strings.NewReader("hello"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := client.StatObject(ctx, bucket, "x", minio.StatObjectOptions{})
	if err != nil || info.Size != 5 {
		t.Fatalf("stat: %+v %v", info, err)
	}
	wrong, _ := minio.New(strings.TrimPrefix(endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(access, "not-the-secret", ""), Region: "us-east-1"})
	if _, err := wrong.StatObject(ctx, bucket, "x", minio.StatObjectOptions{}); err == nil {
		t.Fatal("the gateway answered a request signed with the wrong secret")
	}
}
