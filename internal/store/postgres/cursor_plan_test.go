package postgres

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/testsrv"
)

// Every take runs on its statement's generic plan, from the first get on
// (left to itself PostgreSQL plans the first five anew), and the setting
// ends with the take's transaction. One connection, so that its prepared
// statements are the ones the takes used.
func TestTakeRunsGenericPlan(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, testsrv.Postgres(t), Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Unix(1_800_000_000, 0)
	var uuids [2]store.UUIDHash
	numbers := []string{"50000000", "50000001"}
	for i, number := range numbers {
		uuids[i] = sha256.Sum256([]byte(number))
		if err := db.Register(ctx, number, uuids[i], now); err != nil {
			t.Fatal(err)
		}
		dev := store.Device{Token: "token-" + number, AppID: "com.example.chat", Build: "1", Name: number, Locale: "en"}
		if _, err := db.Login(ctx, dev, uuids[i:i+1], now); err != nil {
			t.Fatal(err)
		}
	}
	const takes = 7
	for i := range takes {
		_, err := db.Send(ctx, store.NewMessages{SenderHash: uuids[0], Callees: numbers[1:],
			Data: strings.NewReader("hello"), Length: 5, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		msgs, _, err := db.TakeUndelivered(ctx, store.GetQuery{Callees: numbers[1:], Limit: 10}, nil)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("take %d: %d messages (%v), want 1", i, len(msgs), err)
		}
	}
	var generic, custom int
	err = db.pool.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`,
		takeInOrder).Scan(&generic, &custom)
	if err != nil || generic != takes || custom != 0 {
		t.Fatalf("take statement ran on %d generic and %d custom plans (%v), want %d generic", generic, custom, err, takes)
	}
	var mode string
	if err := db.pool.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil || mode != "auto" {
		t.Fatalf("plan_cache_mode after the takes: %q (%v), want auto", mode, err)
	}
}
