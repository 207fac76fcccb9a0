package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// openWithNumbers opens a store at path with numbers registered at now,
// under the uuid hashes {1}, {2}, ... in order, which it returns; unless
// token is "", all are bound to one device of that token. The caller
// closes the store.
func openWithNumbers(t *testing.T, path string, numbers []string, token string, now time.Time) (*DB, []store.UUIDHash) {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hashes := make([]store.UUIDHash, len(numbers))
	for i, n := range numbers {
		hashes[i] = store.UUIDHash{byte(i + 1)}
		if err := db.Register(ctx, n, hashes[i], now); err != nil {
			db.Close()
			t.Fatal(err)
		}
	}
	if token == "" {
		return db, hashes
	}
	if _, err := db.Login(ctx, store.Device{Token: token, AppID: "a", Build: "1", Name: "N", Locale: "en"}, hashes, now); err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, hashes
}
