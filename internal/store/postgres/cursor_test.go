package postgres_test

import (
	"slices"
	"testing"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
)

// A database of schema version 3 marked each delivered message in its row
// and kept the index of the waiting. Step 4 starts each number's cursor
// below its oldest waiting message: nothing waiting becomes delivered,
// nothing delivered waits again, and the index goes.
func TestCursorStepFromVersion3(t *testing.T) {
	db, url := openDB(t)
	numbers := online(t, db, 3) // 0 sends to 1 and 2
	var ids []int64
	for i := range 6 {
		to := numbers[1+i%2 : 2+i%2]
		res, err := db.Send(t.Context(), text(0, to, "m", ""))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MsgIDs[to[0]])
	}
	// To 1: ids 0, 2, 4; to 2: ids 1, 3, 5. 1 takes one of its three, 2
	// all of its, and 2's last is read.
	take := func(number string, limit int) []int64 {
		t.Helper()
		msgs, _, err := db.TakeUndelivered(t.Context(), store.GetQuery{Callees: []string{number}, Limit: limit}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int64, len(msgs))
		for i, m := range msgs {
			out[i] = m.ID
		}
		return out
	}
	take(numbers[1], 1)
	take(numbers[2], 10)
	if err := db.MarkRead(t.Context(), numbers[2:], ids[5:]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Back to version 3's shape: delivery in the rows, no cursors.
	sql(t, url,
		`UPDATE messages m SET state = 1 FROM cursors k WHERE k.number = m.callee AND m.state = 0 AND m.id <= k.upto`,
		`DROP TABLE cursors`,
		`CREATE INDEX messages_undelivered ON messages(callee, id) WHERE state = 0`,
		`UPDATE schema_version SET version = 3`)
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if n := queryInt(t, url, `SELECT count(*) FROM pg_indexes WHERE indexname = 'messages_undelivered'`); n != 0 {
		t.Fatal("messages_undelivered still there after step 4")
	}
	wantUpto := map[string]int64{numbers[1]: ids[2] - 1, numbers[2]: ids[5]}
	for number, want := range wantUpto {
		if got := queryInt(t, url, `SELECT upto FROM cursors WHERE number = $1`, number); got != want {
			t.Fatalf("cursor of %s at %d, want %d", number, got, want)
		}
	}
	want := []store.State{store.Delivered, store.Delivered, store.Sent, store.Delivered, store.Sent, store.Read}
	states, err := db.States(t.Context(), numbers[0], ids)
	if err != nil || !slices.Equal(states, want) {
		t.Fatalf("states after step 4 %v %v, want %v", states, err, want)
	}
	if got := take(numbers[1], 10); !slices.Equal(got, []int64{ids[2], ids[4]}) {
		t.Fatalf("1's take after step 4: %v, want %v", got, []int64{ids[2], ids[4]})
	}
	if got := take(numbers[2], 10); len(got) != 0 {
		t.Fatalf("2's take after step 4: %v, want none", got)
	}
}
