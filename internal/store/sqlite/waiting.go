package sqlite

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/ringd/ringd/internal/store"
)

// waiting is the exact count of undelivered messages (state 0) per number,
// as committed, and for most numbers the messages themselves. A get whose
// numbers count none answers at once, touching no SQL; one whose numbers'
// messages are all held here reads none, and only marks what it takes
// (issue 5: a get that finds nothing cost two reads on the read pool, a
// get of one three, the last re-reading pages after every commit).
//
// It is exact because the writer is the only writer: each operation notes
// what it changed (a message stored; one marked delivered or read, or
// expired, while undelivered) in its own tally, which joins the batch's
// when the operation succeeds and is dropped when it is undone; the batch's
// tally is applied after its COMMIT, before anyone in the batch is
// answered, so a get that starts after a send was answered sees its
// message. When a batch may or may not have committed, the counts are
// rebuilt from the database, as at Open, without the messages. Missing
// counts are never wrong the other way: until they are known (nil) every
// get reads.
type waiting struct {
	mu   sync.RWMutex         // guards the following
	n    map[string]*waitList // number → what waits; nil: unknown
	held int                  // bytes held in all lists (msgSize)
}

// waitList is what waits for one number.
type waitList struct {
	count int
	// msgs are all count messages, by id, when complete. A list is
	// complete from its first message on, until a message comes that is
	// not held (waitable says which) or a bound is reached; it stays
	// incomplete until count drops to zero.
	msgs     []store.Message
	complete bool
}

// Bounds of the messages held: per number (a get answers at most MaxGet,
// 500 by default; more than that waiting is rare), and the bytes in all.
const (
	maxHeldPerNumber = 64
	maxHeld          = 32 << 20
)

// msgSize is about what holding m costs.
func msgSize(m *store.Message) int {
	n := 160 + len(m.Caller) + len(m.CallerName) + len(m.Callee) + len(m.URI) + len(m.Fname) + len(m.CallID)
	if m.Text != nil {
		n += len(*m.Text)
	}
	return n
}

// drop empties l's messages, which makes it incomplete.
func (w *waiting) drop(l *waitList) {
	for i := range l.msgs {
		w.held -= msgSize(&l.msgs[i])
	}
	l.msgs, l.complete = nil, false
}

// waitEvent is one change to what waits, noted by the writer.
type waitEvent struct {
	add  bool
	held bool          // add: m is complete enough to answer a get with
	m    store.Message // add: the message; remove: Callee and ID
}

// any reports whether one of numbers may have an undelivered message.
func (w *waiting) any(numbers []string) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.n == nil {
		return true
	}
	for _, c := range numbers {
		if w.n[c] != nil {
			return true
		}
	}
	return false
}

// take returns what waits for q when every number of q has its messages
// held (ok), in id order, at most q.Limit+1 of them.
func (w *waiting) take(q store.GetQuery) (msgs []store.Message, ok bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.n == nil {
		return nil, false
	}
	for _, c := range q.Callees {
		l := w.n[c]
		if l == nil {
			continue
		}
		if !l.complete {
			return nil, false
		}
		for _, m := range l.msgs {
			if m.Time > q.After && m.ID > q.AfterID {
				msgs = append(msgs, m)
			}
		}
	}
	if len(q.Callees) > 1 {
		slices.SortFunc(msgs, func(a, b store.Message) int { return cmp.Compare(a.ID, b.ID) })
	}
	if len(msgs) > q.Limit+1 {
		msgs = msgs[:q.Limit+1]
	}
	return msgs, true
}

// apply applies a committed batch's events, in order.
func (w *waiting) apply(events []waitEvent) {
	if len(events) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == nil {
		return
	}
	for i := range events {
		e := &events[i]
		c := e.m.Callee
		l := w.n[c]
		if e.add {
			if l == nil {
				l = &waitList{complete: true}
				w.n[c] = l
			}
			l.count++
			if l.complete && e.held && len(l.msgs) < maxHeldPerNumber && w.held < maxHeld {
				l.msgs = append(l.msgs, e.m) // ids grow: the list stays in order
				w.held += msgSize(&e.m)
			} else {
				w.drop(l)
			}
			continue
		}
		if l == nil {
			continue // cannot happen while the counts are exact
		}
		if l.count--; l.count <= 0 {
			w.drop(l)
			delete(w.n, c)
			continue
		}
		if l.complete {
			if j := slices.IndexFunc(l.msgs, func(m store.Message) bool { return m.ID == e.m.ID }); j >= 0 {
				w.held -= msgSize(&l.msgs[j])
				l.msgs = slices.Delete(l.msgs, j, j+1)
			}
		}
	}
}

// recount rebuilds the counts from the database, on the writer's
// connection outside any transaction (at Open, or after a batch whose fate
// is uncertain); no messages are held until a number's count drops to
// zero. If it fails the counts are unknown and gets read.
func (db *DB) recount() {
	n, err := db.countWaiting()
	db.wait.mu.Lock()
	defer db.wait.mu.Unlock()
	db.wait.held = 0
	if err != nil {
		db.wait.n = nil
		return
	}
	db.wait.n = make(map[string]*waitList, len(n))
	for c, k := range n {
		db.wait.n[c] = &waitList{count: k}
	}
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

// stored notes that the running operation stored m, undelivered; held says
// m is as a get would read it from the database (all but its State).
func (tx *wtx) stored(m store.Message, held bool) {
	tx.opWaiting = append(tx.opWaiting, waitEvent{add: true, held: held, m: m})
}

// taken notes that the running operation took message id of callee out of
// the undelivered state (delivered, read, or deleted).
func (tx *wtx) taken(callee string, id int64) {
	tx.opWaiting = append(tx.opWaiting, waitEvent{m: store.Message{Callee: callee, ID: id}})
}

// keepWaiting joins the operation's events to the batch's (it succeeded)
// or drops them (it was undone).
func (tx *wtx) keepWaiting(ok bool) {
	if ok {
		tx.batchWaiting = append(tx.batchWaiting, tx.opWaiting...)
	}
	tx.opWaiting = tx.opWaiting[:0]
}
