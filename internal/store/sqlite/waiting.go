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
// (without them a get that finds nothing costs two reads on the read pool
// and a get of one three, the last re-reading pages after every commit).
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
//
// Each list also says when one of its messages last stopped waiting (gen):
// a get that read a number's list marks by cursor only if that has not
// changed by the time the writer runs it (messages.go, TakeUndelivered).
type waiting struct {
	mu   sync.RWMutex         // guards the following
	n    map[string]*waitList // number → what waits; nil: unknown
	held int                  // bytes held in all lists (msgSize)
	seq  uint64               // the last gen given

	// Bounds of the messages held (Options): per number, and the bytes
	// in all lists. Set at Open.
	perNumber, maxHeld int
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
	// gen changes whenever a message stops waiting (taken, read,
	// expired, delivered by cursor), never when one comes: a gen is
	// never given twice, so a list made anew does not repeat an old one's.
	gen uint64
}

// msgSize is about what holding m costs. The text of a send to several
// is shared by its messages but counted in each.
func msgSize(m *store.Message) int {
	n := 200 + len(m.Caller) + len(m.CallerName) + len(m.Callee) + len(m.URI) + len(m.Fname) + len(m.CallID)
	if m.Text != nil {
		n += len(*m.Text)
	}
	return n
}

// nextGen returns a gen never given before; w.mu must be held.
func (w *waiting) nextGen() uint64 {
	w.seq++
	return w.seq
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
	kind waitKind
	held bool          // added: m is complete enough to answer a get with
	m    store.Message // added: the message; taken: Callee and ID; advanced: Callee
	upto int64         // advanced: the cursor moved to upto,
	n    int           // over n waiting messages
}

type waitKind int8

const (
	waitTaken    waitKind = iota // one message stopped waiting
	waitAdded                    // one message came
	waitAdvanced                 // a number's cursor moved over its oldest
)

// cut is what a get takes of one number when that is all that waits for
// it up to an id: marking it is moving the number's cursor to upto.
type cut struct {
	callee string
	upto   int64  // the last id taken
	n      int    // how many
	gen    uint64 // the list's gen when it was read
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
// held (ok), in id order, at most q.Limit of them, and whether more are
// left. cuts are set when what is taken of each number is all that waits
// for it up to its last (no message skipped for its time), so that
// marking them may be moving cursors.
func (w *waiting) take(q store.GetQuery, dst []store.Message) (msgs []store.Message, more bool, cuts []cut, ok bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.n == nil {
		return nil, false, nil, false
	}
	for _, c := range q.Callees {
		l := w.n[c]
		if l == nil {
			continue
		}
		if !l.complete {
			return nil, false, nil, false
		}
		if msgs == nil {
			if n := min(len(l.msgs), q.Limit+1); cap(dst) >= n {
				msgs = dst[:0]
			} else {
				msgs = make([]store.Message, 0, n)
			}
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
	if more = len(msgs) > q.Limit; more {
		msgs = truncate(msgs, q.Limit)
	}
	for _, c := range q.Callees {
		l := w.n[c]
		if l == nil {
			continue
		}
		k, upto := 0, int64(0)
		for i := range msgs {
			if msgs[i].Callee == c {
				k, upto = k+1, msgs[i].ID
			}
		}
		if k == 0 {
			continue
		}
		// The k taken are among l.msgs, in order; they are its first k
		// exactly when the last of them is its k-th.
		if l.msgs[k-1].ID != upto {
			return msgs, more, nil, true
		}
		cuts = append(cuts, cut{callee: c, upto: upto, n: k, gen: l.gen})
	}
	return msgs, more, cuts, true
}

// unchanged reports whether no message of c has stopped waiting, as
// committed, since a get read its list at gen.
func (w *waiting) unchanged(c string, gen uint64) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	l := w.n[c]
	return l != nil && l.gen == gen
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
		if e.kind == waitAdded {
			if l == nil {
				l = &waitList{complete: true, gen: w.nextGen()}
				w.n[c] = l
			}
			l.count++
			if l.complete && e.held && len(l.msgs) < w.perNumber && w.held < w.maxHeld {
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
		l.gen = w.nextGen()
		if e.kind == waitAdvanced {
			if l.count -= e.n; l.count <= 0 {
				w.drop(l)
				delete(w.n, c)
				continue
			}
			if l.complete {
				j := 0
				for j < len(l.msgs) && l.msgs[j].ID <= e.upto {
					w.held -= msgSize(&l.msgs[j])
					j++
				}
				l.msgs = slices.Delete(l.msgs, 0, j)
			}
			continue
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
		db.wait.n[c] = &waitList{count: k, gen: db.wait.nextGen()}
	}
}

func (db *DB) countWaiting() (map[string]int, error) {
	// Each number's messages from its cursor on (messages.go, getQuery):
	// every message has its callee among numbers, which are never deleted.
	rows, err := db.w.query(context.Background(),
		`SELECT n.number, count(*) FROM numbers n LEFT JOIN cursors k ON k.number = n.number
			JOIN messages m INDEXED BY messages_callee ON m.callee = n.number AND m.id > coalesce(k.upto, 0)
			WHERE m.state = 0 GROUP BY n.number`)
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
	tx.opWaiting = append(tx.opWaiting, waitEvent{kind: waitAdded, held: held, m: m})
}

// taken notes that the running operation took message id of callee out of
// the undelivered state (delivered, read, or deleted).
func (tx *wtx) taken(callee string, id int64) {
	tx.opWaiting = append(tx.opWaiting, waitEvent{kind: waitTaken, m: store.Message{Callee: callee, ID: id}})
	tx.touch(callee)
}

// advanced notes that the running operation moved callee's cursor to upto
// over n waiting messages.
func (tx *wtx) advanced(callee string, upto int64, n int) {
	tx.opWaiting = append(tx.opWaiting, waitEvent{kind: waitAdvanced, m: store.Message{Callee: callee}, upto: upto, n: n})
	tx.touch(callee)
}

// touch notes that a message of callee stopped waiting in this batch, not
// yet committed (so not yet in any gen): no get of callee may mark by cursor
// in the rest of the batch. Kept even if the operation is undone; that
// only costs a mark by row.
func (tx *wtx) touch(callee string) {
	if tx.touched == nil {
		tx.touched = map[string]bool{}
	}
	tx.touched[callee] = true
}

// keepWaiting joins the operation's events to the batch's (it succeeded)
// or drops them (it was undone).
func (tx *wtx) keepWaiting(ok bool) {
	if ok {
		tx.batchWaiting = append(tx.batchWaiting, tx.opWaiting...)
	}
	tx.opWaiting = tx.opWaiting[:0]
}
