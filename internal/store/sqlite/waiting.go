package sqlite

import (
	"context"
	"sync"
)

// waiting is the exact count of undelivered messages (state 0) per number,
// as committed. A get whose numbers count none answers at once, touching no
// SQL; one that counts some skips the existence check and reads them
// (issue 5: a get that finds nothing cost two reads on the read pool).
//
// It is exact because the writer is the only writer: each operation notes
// what it changed (a message stored: +1; one marked delivered or read, or
// expired, while undelivered: -1) in its own tally, which joins the batch's
// when the operation succeeds and is dropped when it is undone; the batch's
// tally is applied after its COMMIT, before anyone in the batch is
// answered, so a get that starts after a send was answered counts its
// message. When a batch may or may not have committed, the count is rebuilt
// from the database. Missing counts are never wrong the other way: until
// they are known (nil) every get reads.
type waiting struct {
	mu sync.RWMutex   // guards the following
	n  map[string]int // number → undelivered messages; nil: unknown
}

// any reports whether one of numbers may have an undelivered message.
func (w *waiting) any(numbers []string) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.n == nil {
		return true
	}
	for _, c := range numbers {
		if w.n[c] > 0 {
			return true
		}
	}
	return false
}

// apply adds a committed batch's tally.
func (w *waiting) apply(d map[string]int) {
	if len(d) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == nil {
		return
	}
	for c, k := range d {
		if k == 0 {
			continue
		}
		if v := w.n[c] + k; v > 0 {
			w.n[c] = v
		} else {
			delete(w.n, c)
		}
	}
}

// recount rebuilds the counts from the database, on the writer's
// connection outside any transaction (at Open, or after a batch whose fate
// is uncertain). If it fails the counts are unknown and gets read.
func (db *DB) recount() {
	n, err := db.countWaiting()
	db.wait.mu.Lock()
	defer db.wait.mu.Unlock()
	if err != nil {
		db.wait.n = nil
		return
	}
	db.wait.n = n
}

func (db *DB) countWaiting() (map[string]int, error) {
	rows, err := db.wconn.QueryContext(context.Background(),
		`SELECT callee, count(*) FROM messages INDEXED BY messages_undelivered WHERE state = 0 GROUP BY callee`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := map[string]int{}
	for rows.Next() {
		var c string
		var k int
		if err := rows.Scan(&c, &k); err != nil {
			return nil, err
		}
		n[c] = k
	}
	return n, rows.Err()
}

// noteWaiting records, in the running operation's tally, that number has k
// more (or, negative, fewer) undelivered messages.
func (tx *wtx) noteWaiting(number string, k int) {
	if tx.opWaiting == nil {
		tx.opWaiting = map[string]int{}
	}
	tx.opWaiting[number] += k
}

// keepWaiting joins the operation's tally to the batch's (it succeeded) or
// drops it (it was undone).
func (tx *wtx) keepWaiting(ok bool) {
	if len(tx.opWaiting) == 0 {
		return
	}
	if ok {
		if tx.batchWaiting == nil {
			tx.batchWaiting = map[string]int{}
		}
		for c, k := range tx.opWaiting {
			tx.batchWaiting[c] += k
		}
	}
	clear(tx.opWaiting)
}
