package ringtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
	"github.com/ringd/ringd/internal/store/sqlite"
	"github.com/ringd/ringd/internal/testsrv"
)

// EngineEnv names the environment variable that picks the engine test
// servers run on: "" or "sqlite" for the embedded engine, "postgres" for
// PostgreSQL (a fresh database per data directory, on the server
// testsrv.Postgres uses).
const EngineEnv = "RINGD_TEST_ENGINE"

// Engine is a store as a test server uses it: the server's, the push
// dispatcher's, and what tests queue pushes with.
type Engine interface {
	store.Store
	push.Outbox
	QueuePush(ctx context.Context, number string, p store.Push) (bool, error)
	SetPushFilter(wanted func(appid string) bool)
}

// EngineName is the engine test servers run on now.
func EngineName() string {
	if os.Getenv(EngineEnv) == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// databases maps a data directory to the PostgreSQL database made for it,
// so that a server started again on the directory (NewAt) finds what the
// one before it stored.
var databases sync.Map // dir → URL

// DatabaseURL is the PostgreSQL database of the servers started on dir,
// made now if it is not yet: what runs beside them on it (another node's
// Notifier) connects there.
func DatabaseURL(t testing.TB, dir string) string {
	url, ok := databases.Load(dir)
	if !ok {
		url, _ = databases.LoadOrStore(dir, testsrv.Postgres(t))
	}
	return url.(string)
}

// openEngine opens the engine of EngineName for dir; db is the SQLite
// engine's, nil for another.
func openEngine(t testing.TB, dir string, maxGet int, fileRoom func(int64) error) (Engine, *sqlite.DB, error) {
	if EngineName() == "postgres" {
		pg, err := postgres.Open(context.Background(), DatabaseURL(t, dir), postgres.Options{})
		return pg, nil, err
	}
	// Chunks of 4 MiB, made on the first send of a file: a test server
	// does not write ringd's 64 MiB of zeros.
	db, err := sqlite.Open(filepath.Join(dir, "ringd.db"), sqlite.Options{
		HeldPerNumber: maxGet + 1,
		Arena:         blob.ArenaOptions{ChunkSize: TestArenaChunk},
		FileRoom:      fileRoom,
	})
	return db, db, err
}

// NeedSQLite skips a test that looks inside the SQLite engine (its files,
// its tables, its arena) when the test servers run on another engine:
// what it checks is that engine's own.
func NeedSQLite(t testing.TB) {
	t.Helper()
	if EngineName() != "sqlite" {
		t.Skipf("inspects the SQLite engine's own files; test servers run on %s", EngineName())
	}
}

// RunOnEngines runs a package's tests (m) on SQLite, then, unless -short,
// an engine was picked by EngineEnv already, or they failed, once more
// with test servers on PostgreSQL: the same test functions, through the
// same HTTP, on the second engine. A package whose tests start servers
// through ringtest calls it from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(ringtest.RunOnEngines(m)) }
func RunOnEngines(m *testing.M) int {
	code := m.Run()
	if code != 0 || os.Getenv(EngineEnv) != "" || testing.Short() {
		return code
	}
	os.Setenv(EngineEnv, "postgres")
	defer os.Unsetenv(EngineEnv)
	fmt.Printf("=== the same tests with servers on PostgreSQL (%s=postgres)\n", EngineEnv)
	return m.Run()
}
