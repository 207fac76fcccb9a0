package client_test

import (
	"os"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// The package's tests run on SQLite, then again with the test servers on
// PostgreSQL.
func TestMain(m *testing.M) { os.Exit(ringtest.RunOnEngines(m)) }
