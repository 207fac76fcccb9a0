package postgres_test

import (
	"testing"

	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
	"github.com/ringd/ringd/internal/store/storetest"
	"github.com/ringd/ringd/internal/testsrv"
)

// openDB opens a fresh database of its own, closed and dropped at t's
// cleanup.
func openDB(t *testing.T) (*postgres.DB, string) {
	t.Helper()
	return openWith(t, postgres.Options{})
}

// openWith is openDB with opts.
func openWith(t *testing.T, opts postgres.Options) (*postgres.DB, string) {
	t.Helper()
	url := testsrv.Postgres(t)
	db, err := postgres.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, url
}

// openObjects starts a versitygw gateway of t's, gives its keys to the
// environment as an operator would, and opens its bucket.
func openObjects(t *testing.T) (*s3.Store, testsrv.S3Server) {
	t.Helper()
	srv := testsrv.StartS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	objects, err := s3.Open(t.Context(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return objects, srv
}

// The whole storage contract, every datum in PostgreSQL.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := openDB(t)
		return db
	})
}

// The whole storage contract with an object store taking every datum
// longer than a byte that is not held in its message's row: the suite's
// files and its texts to several numbers go to versitygw. Each case has
// its own database; they share the bucket, where every object has a
// random name.
func TestStoreContractWithObjectStore(t *testing.T) {
	objects, _ := openObjects(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := openWith(t, postgres.Options{Objects: objects, ObjectThreshold: 1})
		return db
	})
}
