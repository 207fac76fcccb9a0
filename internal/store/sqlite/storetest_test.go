package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/sqlite"
	"github.com/ringd/ringd/internal/store/storetest"
)

// The SQLite engine keeps the storage contract every engine keeps.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(filepath.Join(t.TempDir(), "ringd.db"), sqlite.Options{Arena: blob.ArenaOptions{ChunkSize: 4 << 20}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return db
	})
}
