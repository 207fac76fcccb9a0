package postgres_test

import (
	"testing"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
	"github.com/ringd/ringd/internal/store/storetest"
	"github.com/ringd/ringd/internal/testsrv"
)

// openDB opens a fresh database of its own, closed and dropped at t's
// cleanup.
func openDB(t *testing.T) (*postgres.DB, string) {
	t.Helper()
	url := testsrv.Postgres(t)
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, url
}

// messagesNotYet stands in for the message methods of store.Store, which
// the engine does not have yet (they wait for the data seam). Its
// interface is nil: the cases run below call none of them, and one that
// did would panic rather than pass.
type messagesNotYet struct{ store.Store }

// partialStore is the engine as a store.Store: its own methods, which are
// promoted from a shallower depth and so win, and messagesNotYet's for
// the rest.
type partialStore struct {
	*postgres.DB
	messagesNotYet
}

// The parts of the storage contract that need no message methods. The
// cases left out are those that send, take or read messages: Calls/
// EndReasons, MissedCallMessage, RacingEnds and Stats, and the outbox's
// cases that queue pushes by sending (concurrency_test.go and
// outbox_test.go test the same ends through calls meanwhile).
func TestStoreContract(t *testing.T) {
	storetest.RunGroups(t, func(t *testing.T) store.Store {
		db, _ := openDB(t)
		return partialStore{DB: db}
	},
		"Identities",
		"Concurrency/LoginsMovingNumbers",
		"Calls/CreateErrorsStoreNothing", "Calls/Create", "Calls/Answer", "Calls/EndErrors",
		"Calls/RacingAnswers", "Calls/Deadlines", "Calls/AIBalance", "Calls/AITimeout", "Calls/Link",
		"PushOutbox/CallPushes",
	)
}
