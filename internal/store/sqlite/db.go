// Package sqlite is ringd's embedded store: one SQLite database in WAL mode.
//
// All writes go through one writer goroutine that practises group commit:
// the operations waiting when it becomes free run in one transaction, each
// inside its own savepoint so that one failing operation leaves the others
// whole, and one COMMIT takes them all. The COMMIT does not sync
// (synchronous=NORMAL): a syncer goroutine runs one fdatasync of the WAL
// for every batch committed while it was busy, and only then answers their
// operations (walsync.go), while the writer runs the next batch. Reads run
// concurrently on a pool of read-only connections, which WAL lets proceed
// beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/fsync"
	"github.com/ringd/ringd/internal/store"
)

var _ store.Store = (*DB)(nil)

// Options tune the store; the zero value is usable.
type Options struct {
	// BusyWait is how long a write may wait for the writer before the store
	// answers store.ErrBusy. Default 5s.
	BusyWait time.Duration
	// MaxBatch bounds the operations committed together. Default 512.
	MaxBatch int
	// Readers is the size of the read pool. Default 2×GOMAXPROCS, at least 4.
	Readers int
	// HeldPerNumber bounds the waiting messages held in memory per number
	// (waiting.go): a get of a number with more waiting reads them from the
	// database. Default 501: the server's default most messages in a get
	// answer (MaxGet), and one to tell there are more.
	HeldPerNumber int
	// MaxHeld bounds the bytes held in all numbers' lists (about). Default
	// 256 MiB: 300 texts of 100 bytes waiting for each of 1000 numbers is
	// about 100 MiB. Nothing is held for a number with nothing waiting, so
	// an idle server, or one whose clients keep up, holds next to nothing.
	MaxHeld int

	// DataDir is the directory of the data kept outside the database
	// (data.go): the arena (arena/) and the files of their own (blobs/).
	// Default: the database's directory.
	DataDir string
	// Arena tunes the arena.
	Arena blob.ArenaOptions
	// ArenaMax is the largest data kept in the arena; larger data is a
	// file of its own. Default DefaultArenaMax, at least MinArenaMax, at
	// most the arena's chunk size.
	ArenaMax int64
	// FileRoom, if set, is asked before data is written to a file of its
	// own: an error it returns refuses the send.
	FileRoom func(n int64) error
	// OrphanGrace is how old a file no row names must be for Expire to
	// delete it: a send writes its file before it commits its row.
	// Default 1h.
	OrphanGrace time.Duration
}

// Bounds of Options.ArenaMax.
const (
	DefaultArenaMax = 1 << 20
	MinArenaMax     = 64 << 10
)

// DB is the SQLite store.
type DB struct {
	path string
	opts Options
	read *sql.DB
	// w is the writer's connection (wconn.go), the writer goroutine's
	// alone once Open has started it.
	w      *wconn
	ops    chan *op
	done   chan struct{} // closed when the syncer has answered the last operation
	closed sync.Once

	// sq is what the writer has committed and the syncer not yet answered,
	// wal the syncer's descriptor on the WAL (walsync.go).
	sq  syncQueue
	wal *walFile
	// failed is set, for good, by a failed sync (walsync.go).
	failed atomic.Pointer[error]

	// arena and blobs hold the data kept outside the database (data.go).
	// dataMu is held shared by OpenData from reading a message's row to
	// opening its data, and exclusively by Expire while it frees data.
	arena  *blob.Arena
	blobs  *blob.Disk
	dataMu sync.RWMutex
	// lastSweep is when Expire last looked for orphan files, in Unix
	// nanoseconds.
	lastSweep atomic.Int64

	ckptStop, ckptDone chan struct{} // the checkpointer's (checkpoint.go)

	stmtMu sync.Mutex // guards the following
	rstmts map[string]*sql.Stmt

	// tx is the writer's view of its transaction (newTx).
	tx wtx

	// bind is the writer's exact copy of numbers' bindings (bindings.go).
	bind bindings
	// wait counts the undelivered messages of each number (waiting.go).
	wait waiting

	// commits counts transactions committed by the writer and syncs the
	// syncer's fdatasyncs, so tests can show that batches share them.
	commitsMu sync.Mutex // guards the following
	commits   int64
	syncs     int64

	// outboxNext is the id the next queued push gets (outbox.go,
	// queuePushes); the writer's alone.
	outboxNext int64

	// lastTime and lastTimeArg are the last message time the writer
	// stored and that time boxed as a statement argument (timeArg); the
	// writer's alone.
	lastTime    int64
	lastTimeArg any

	// pushWanted says which appids get pushes (outbox.go); nil: none.
	pushWanted atomic.Pointer[func(appid string) bool]
	// pushKick wakes the push dispatcher after a commit that queued a
	// push (outbox.go); nil: nobody to wake.
	pushKick atomic.Pointer[func()]
}

// Open opens (creating if missing) the database at path.
func Open(path string, opts Options) (_ *DB, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	src := newDataSource(abs)
	if err := create(src.plain()); err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db := newDB(abs, opts.withDefaults())
	// opened is what Open has opened so far: all of it is closed again,
	// latest first, if a later step fails.
	var opened closers
	defer func() {
		if err != nil {
			opened.close()
		}
	}()
	if err := db.openWriter(src, &opened); err != nil {
		return nil, err
	}
	if err := db.openWAL(&opened); err != nil {
		return nil, err
	}
	// Pushes get ids never used before in this process (queuePushes).
	if err := db.w.queryRow(context.Background(), `SELECT coalesce(max(id), 0) + 1 FROM outbox`).Scan(&db.outboxNext); err != nil {
		return nil, err
	}
	ckpt, err := openPool(src.dsn("FULL", ""), 1)
	if err != nil {
		return nil, err
	}
	opened.add(ckpt.Close)
	if db.read, err = openPool(src.dsn("FULL", "&_query_only=1"), db.opts.Readers); err != nil {
		return nil, err
	}
	opened.add(db.read.Close)
	if err := db.openData(&opened); err != nil {
		return nil, err
	}
	db.recount()
	go db.writer()
	go db.syncer()
	go db.checkpointer(ckpt, db.ckptStop, db.ckptDone)
	return db, nil
}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.BusyWait <= 0 {
		o.BusyWait = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.Readers <= 0 {
		o.Readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if o.HeldPerNumber <= 0 {
		o.HeldPerNumber = 501
	}
	if o.MaxHeld <= 0 {
		o.MaxHeld = 256 << 20
	}
	if o.ArenaMax <= 0 {
		o.ArenaMax = DefaultArenaMax
	}
	o.ArenaMax = max(o.ArenaMax, MinArenaMax)
	if o.OrphanGrace <= 0 {
		o.OrphanGrace = time.Hour
	}
	return o
}

// openData opens the arena, rebuilt from the rows that point into it, and
// the files of their own, deleting those no row names: no send runs yet.
func (db *DB) openData(opened *closers) error {
	dir := db.opts.DataDir
	if dir == "" {
		dir = filepath.Dir(db.path)
	}
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	db.blobs = blobs
	arena, err := blob.OpenArena(filepath.Join(dir, "arena"), db.opts.Arena,
		func(use func(off, length int64) error) error { return db.arenaRows(context.Background(), use) })
	if err != nil {
		return err
	}
	opened.add(arena.Close)
	db.arena = arena
	db.opts.ArenaMax = min(db.opts.ArenaMax, arena.ChunkSize())
	return db.sweepOrphans(context.Background(), time.Time{})
}

// newDB returns the DB of the database at path with nothing opened yet.
func newDB(path string, opts Options) *DB {
	return &DB{
		path:     path,
		opts:     opts,
		ops:      make(chan *op, 4*opts.MaxBatch),
		done:     make(chan struct{}),
		sq:       syncQueue{wake: make(chan struct{}, 1), idle: make(chan struct{}, 1)},
		ckptStop: make(chan struct{}),
		ckptDone: make(chan struct{}),
		rstmts:   map[string]*sql.Stmt{},
		bind:     bindings{senders: map[store.UUIDHash]senderRow{}, callees: map[string]calleeRow{}},
		wait:     waiting{perNumber: opts.HeldPerNumber, maxHeld: opts.MaxHeld},
	}
}

// closers are what Open has opened so far.
type closers []func() error

func (c *closers) add(close func() error) { *c = append(*c, close) }

// close closes them all, the latest first.
func (c closers) close() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// dataSource is the database's URI, to which each connection adds its
// parameters.
type dataSource string

func newDataSource(abs string) dataSource {
	return dataSource("file:" + (&url.URL{Path: abs}).EscapedPath())
}

// plain is the URI for a connection that asks for no journal mode and no
// synchronous level (create).
func (s dataSource) plain() string { return string(s) + "?_busy_timeout=5000" }

// dsn is the URI for a connection of the store, in WAL mode, with the
// synchronous level sync and the further parameters extra.
func (s dataSource) dsn(sync, extra string) string {
	return string(s) + "?_journal_mode=WAL&_synchronous=" + sync + "&_busy_timeout=5000&_foreign_keys=0&cache=private" + extra
}

// openWriter opens the writer's connection, through the WAL write joiner,
// and brings the schema up to date on it.
func (db *DB) openWriter(src dataSource, opened *closers) error {
	// The writer commits without syncing; the syncer makes its commits
	// durable before they are answered (walsync.go). Its checkpoints (the
	// backstop) still sync, as every connection's do.
	if err := registerWALJoin(); err != nil {
		return err
	}
	w, err := openWConn(src.dsn("NORMAL", "&vfs="+walJoinVFS))
	if err != nil {
		return fmt.Errorf("opening %s: %w", db.path, err)
	}
	opened.add(w.close)
	db.w = w
	ctx := context.Background()
	if err := migrate(ctx, w, steps); err != nil {
		return fmt.Errorf("opening %s: %w", db.path, err)
	}
	return w.run(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walBackstop))
}

// openWAL opens the syncer's descriptor on the WAL and syncs it: the
// schema's steps committed unsynced.
func (db *DB) openWAL(opened *closers) error {
	wal, err := openWAL(db.path)
	if err != nil {
		return err
	}
	if err := fsync.Datasync(wal.f); err != nil {
		wal.close()
		return err
	}
	db.wal = wal
	opened.add(wal.close)
	return nil
}

// openPool opens a pool of at most n connections, kept open while idle.
func openPool(dsn string, n int) (*sql.DB, error) {
	p, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	p.SetMaxOpenConns(n)
	p.SetMaxIdleConns(n)
	p.SetConnMaxIdleTime(0)
	return p, nil
}

// pageSize is the page size of a new database. Each send changes one
// leaf of messages_callee (its callee's) besides the last leaves the
// batch's sends share, so a commit writes about a page per send to the
// WAL, and the syncer's fdatasync writes them back; with pages of 1 KiB
// instead of SQLite's 4 KiB those bytes shrink to a quarter (the rows of
// a text are ~250 bytes, its index entries ~30). docs/PERFORMANCE.md,
// "Smaller choices", has what it gained.
const pageSize = 1024

// create gives a database that does not exist yet its page size: a page
// size is fixed when the first page is written, and WAL mode, which the
// connections ask for as they connect, writes it. So dsn must not ask for
// a journal mode. On a database that exists both pragmas change nothing,
// and one made with another page size keeps it.
func create(dsn string) error {
	c, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Exec(fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return err
	}
	var mode string
	if err := c.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode %q, not wal", mode)
	}
	return nil
}

// Close stops the writer once the queued operations are done and the
// syncer has synced and answered them, and closes the database.
func (db *DB) Close() error {
	db.closed.Do(func() {
		close(db.ops)
		<-db.done
		close(db.ckptStop)
		db.wal.close()
	})
	<-db.done
	<-db.ckptDone
	db.stmtMu.Lock()
	for _, s := range db.rstmts {
		s.Close()
	}
	db.stmtMu.Unlock()
	err := db.w.close()
	if err2 := db.read.Close(); err == nil {
		err = err2
	}
	if err2 := db.arena.Close(); err == nil {
		err = err2
	}
	return err
}

// Arena is the arena holding data of the store, for tools and tests that
// look at where data is placed (ringtest); the store's users reach data
// only through OpenData.
func (db *DB) Arena() *blob.Arena { return db.arena }

var _ store.Instrumented = (*DB)(nil)

// Metrics are how well writes share commits and syncs (group commit),
// the arena's sync rounds, and the space it takes.
func (db *DB) Metrics() []store.Metric {
	return []store.Metric{
		{Name: "ringd_store_commits_total", Help: "Write transactions the store committed; each holds the writes that arrived together.",
			Value: func() float64 { return float64(db.Commits()) }},
		{Name: "ringd_store_syncs_total", Help: "fdatasyncs of the store's log, each answering every write committed before it.",
			Value: func() float64 { return float64(db.Syncs()) }},
		{Name: "ringd_arena_syncs_total", Help: "Sync rounds of the data arena, each shared by the sends waiting.",
			Value: func() float64 { return float64(db.arena.Syncs()) }},
		{Name: "ringd_arena_size_bytes", Help: "Bytes of the data arena's files, allocated ahead of need.", Gauge: true,
			Value: func() float64 { size, _ := db.arena.Size(); return float64(size) }},
		{Name: "ringd_arena_free_bytes", Help: "Bytes of the data arena that no data holds.", Gauge: true,
			Value: func() float64 { _, free := db.arena.Size(); return float64(free) }},
	}
}

// Commits returns the number of write transactions committed so far.
func (db *DB) Commits() int64 {
	db.commitsMu.Lock()
	defer db.commitsMu.Unlock()
	return db.commits
}

// op is one write operation waiting for the writer.
type op struct {
	ctx context.Context
	fn  func(tx *wtx) error
	// single: fn runs at most one statement that writes, or opens a
	// savepoint first (write1).
	single bool
	done   chan error
	res    error // its result, while it waits for the syncer
}

var opPool = sync.Pool{New: func() any { return &op{done: make(chan error, 1)} }}

// write runs fn in the writer's transaction and returns once it is
// committed and the commit synced (fn's error, or the commit's or the
// sync's). store.ErrBusy if the writer does not take it within BusyWait;
// ErrFailed, at once, after a failed sync.
func (db *DB) write(ctx context.Context, fn func(tx *wtx) error) (err error) {
	return db.enqueue(ctx, fn, false)
}

// write1 is write for an fn that runs at most one statement that writes,
// or that calls tx.savepoint before its first write when it finds it will
// write more. It runs without a savepoint of its own: SQLite undoes a
// failed statement by itself, so there is nothing else of fn's to undo,
// and a savepoint and its release are two statements more for the single
// writer.
func (db *DB) write1(ctx context.Context, fn func(tx *wtx) error) error {
	return db.enqueue(ctx, fn, true)
}

func (db *DB) enqueue(ctx context.Context, fn func(tx *wtx) error, single bool) (err error) {
	if err := db.failure(); err != nil {
		return err
	}
	o := opPool.Get().(*op)
	o.ctx, o.fn, o.single = ctx, fn, single
	defer func() {
		if r := recover(); r != nil { // send on closed ops: the store is closed
			err = errors.New("store closed")
		}
	}()
	select {
	case db.ops <- o:
	default:
		t := time.NewTimer(db.opts.BusyWait)
		select {
		case db.ops <- o:
			t.Stop()
		case <-t.C:
			return store.ErrBusy
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	err = <-o.done
	o.ctx, o.fn, o.res = nil, nil, nil
	opPool.Put(o)
	return err
}

// writer runs the operations, committing together those that wait, and
// hands each batch to the syncer to be answered.
func (db *DB) writer() {
	defer db.stopSyncer()
	batch := make([]*op, 0, db.opts.MaxBatch)
	results := make([]error, 0, db.opts.MaxBatch)
	for first := range db.ops {
		batch, _ = db.drain(append(batch[:0], first), db.ops)
		if err := db.failure(); err != nil {
			for _, o := range batch {
				o.done <- err // nothing runs after a failed sync
			}
			continue
		}
		var committed, pushed bool
		batch, results, committed, pushed = db.runBatch(batch, results[:0])
		for i, o := range batch {
			o.res = results[i]
		}
		// Every batch goes through the syncer, in order, even one that
		// committed nothing: a refusal may rest on an earlier batch's
		// commit (a number taken by a register not yet synced).
		db.handOff(batch, committed, pushed)
	}
}

// drain adds to batch what waits in ops, up to MaxBatch; ops comes back
// nil once it is closed.
func (db *DB) drain(batch []*op, ops chan *op) ([]*op, chan *op) {
	for len(batch) < db.opts.MaxBatch {
		select {
		case o, ok := <-ops:
			if !ok {
				return batch, nil
			}
			batch = append(batch, o)
		default:
			return batch, ops
		}
	}
	return batch, ops
}

// more waits, while the syncer is busy with earlier batches, for more
// operations to add to batch (false: commit now). Committing while the
// syncer is busy would gain nothing, as the commit would wait for the
// sync after the running one anyway; keeping the transaction open instead
// lets one COMMIT, and its writing of the pages the operations share (the
// last leaves of messages and its indexes), serve everything that arrives
// meanwhile.
//
// When the syncer is idle, the writer yields the processor before it
// commits: requests that are running (reading their bodies, about to
// enqueue) then get to add their operations to this batch rather than
// wait for the next COMMIT and sync. It yields again after each yield that
// brought more (up to MaxBatch); a lone operation costs one yield. Under
// the text send load this makes the batches larger and COMMITs and syncs
// fewer, and each send's share of them smaller.
func (db *DB) more(batch []*op, ops chan *op) ([]*op, chan *op, bool) {
	if ops != nil && len(batch) < db.opts.MaxBatch && db.syncerIdle() {
		runtime.Gosched()
		n := len(batch)
		if batch, ops = db.drain(batch, ops); len(batch) > n {
			return batch, ops, true
		}
		return batch, ops, false
	}
	for len(batch) < db.opts.MaxBatch && !db.syncerIdle() {
		select {
		case o, ok := <-ops:
			if !ok {
				ops = nil // closing: commit once the syncer is free
				continue
			}
			batch, ops = db.drain(append(batch, o), ops)
			return batch, ops, true
		case <-db.sq.idle:
		}
	}
	return batch, ops, false
}

// runBatch runs batch in one transaction, adding to it what arrives while
// the syncer is busy (more); committed says it committed, pushed that it
// queued a push. results are batch's, in order.
func (db *DB) runBatch(batch []*op, results []error) (_ []*op, _ []error, committed, pushed bool) {
	ctx := context.Background()
	tx := db.newTx(ctx)
	defer db.endTx(tx)
	if err := db.wexec(ctx, "BEGIN IMMEDIATE"); err != nil {
		err = mapErr(err)
		for range batch {
			results = append(results, err)
		}
		return batch, results, false, false
	}
	batch, results, ok, lost := db.runOps(tx, batch, results)
	if lost {
		return batch, results, false, false
	}
	tx.ctx = ctx
	if !db.endBatch(ctx, ok > 0, results) || ok == 0 {
		return batch, results, false, false
	}
	// What waits (waiting.go) follows the commit at once, not the sync:
	// the writer's later operations must see it (a get's marking, a
	// read), and the read side only uses it to answer gets. A get that
	// finds nothing because a message is not durable yet is merely early;
	// one that takes a message marks it through the writer, in a later
	// batch, so its answer comes after a sync that covers both commits
	// (syncs cover everything written before them, and rounds are in
	// order). Likewise the bindings (bindings.go) and the commit count.
	// The push kick is the syncer's: a push is a client hearing of a
	// commit.
	db.wait.apply(tx.batchWaiting)
	db.commitsMu.Lock()
	db.commits++
	db.commitsMu.Unlock()
	return batch, results, true, tx.pushed
}

// runOps runs batch's operations in tx, and those more adds; ok counts
// those that succeeded. lost says SQLite rolled the transaction back by
// itself, and results then answer the whole batch.
func (db *DB) runOps(tx *wtx, batch []*op, results []error) (_ []*op, _ []error, ok int, lost bool) {
	ops := db.ops
	for i := 0; ; i++ {
		if i == len(batch) {
			var more bool
			if batch, ops, more = db.more(batch, ops); !more {
				return batch, results, ok, false
			}
		}
		o := batch[i]
		if err := o.ctx.Err(); err != nil {
			results = append(results, err) // given up before it ran: nothing done
			continue
		}
		// Once started, an operation runs to its end whatever becomes of
		// its request: a canceled context makes the driver interrupt the
		// connection, and SQLite's interrupt rolls back the whole shared
		// transaction, taking the batch's other operations with it (and
		// leaving the rest of the batch to run outside any transaction).
		tx.ctx = context.WithoutCancel(o.ctx)
		var err error
		if o.single {
			err = db.runSingle(tx, o.fn)
		} else {
			err = db.runOne(tx, o.fn)
		}
		if err == nil {
			ok++
		}
		tx.keepWaiting(err == nil)
		results = append(results, err)
		if err != nil && !db.inTx() {
			// Some errors (a full disk, an I/O error) make SQLite roll back
			// the whole transaction, not just the savepoint: what the batch
			// did so far is gone, and what is left must not run outside a
			// transaction. Everyone in the batch is told nothing was done.
			return batch, db.lostBatch(batch, results, err), ok, true
		}
	}
}

// endBatch commits the batch's transaction, or rolls it back when nothing
// in it succeeded (commit false). If that fails, every operation that
// succeeded is answered with the error, and endBatch reports false.
func (db *DB) endBatch(ctx context.Context, commit bool, results []error) bool {
	var err error
	if commit {
		err = db.wexec(ctx, "COMMIT")
	} else {
		err = db.wexec(ctx, "ROLLBACK")
	}
	if err == nil {
		return true
	}
	db.wexec(ctx, "ROLLBACK")
	db.bind.forget() // it may hold what this batch did
	db.recount()     // the batch may or may not have committed
	err = mapErr(err)
	for i := range results {
		if results[i] == nil {
			results[i] = err
		}
	}
	return false
}

// newTx returns the writer's wtx for a new batch. It is the same from
// batch to batch, with its buffers of events: allocating them anew for
// every batch was a large share of what ringd allocated under the send
// load.
func (db *DB) newTx(ctx context.Context) *wtx {
	tx := &db.tx
	*tx = wtx{db: db, ctx: ctx, opWaiting: tx.opWaiting[:0], batchWaiting: tx.batchWaiting[:0], touched: tx.touched}
	return tx
}

// endTx lets go of what the batch's events refer to (messages' texts and
// renderings, held by the waiting lists or by nobody).
func (db *DB) endTx(tx *wtx) {
	clear(tx.opWaiting[:cap(tx.opWaiting)])
	clear(tx.batchWaiting[:cap(tx.batchWaiting)])
	clear(tx.touched)
	tx.ctx = nil
}

// inTx reports whether the writer's connection is inside a transaction.
func (db *DB) inTx() bool { return db.w.inTx() }

// lostBatch answers a batch whose transaction SQLite rolled back after
// results[len(results)-1] failed with cause: the operations that ran are
// undone, and those that did not run are refused as busy, to be retried.
func (db *DB) lostBatch(batch []*op, results []error, cause error) []error {
	db.bind.forget() // it may hold what the lost operations did
	db.recount()     // rolled back: the counts of before stand, but be sure
	lost := fmt.Errorf("transaction rolled back: %w", cause)
	for i := range results {
		if results[i] == nil {
			results[i] = lost
		}
	}
	for len(results) < len(batch) {
		results = append(results, fmt.Errorf("%w: transaction rolled back", store.ErrBusy))
	}
	return results
}

// runOne runs fn inside a savepoint, undoing its changes if it fails.
func (db *DB) runOne(tx *wtx, fn func(*wtx) error) (err error) {
	tx.rebound = false
	if err := db.wexec(tx.ctx, "SAVEPOINT op"); err != nil {
		return mapErr(err)
	}
	tx.inSavepoint = true // tx.savepoint has nothing to do
	defer func() {
		tx.inSavepoint = false
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in store operation: %v", r)
		}
		if err != nil {
			db.wexec(context.Background(), "ROLLBACK TO op")
			if tx.rebound {
				db.bind.forget() // it may hold what was just undone
			}
		}
		db.wexec(context.Background(), "RELEASE op")
	}()
	return fn(tx)
}

// runSingle runs fn, which writes with one statement at most unless it
// opened a savepoint first (tx.savepoint).
func (db *DB) runSingle(tx *wtx, fn func(*wtx) error) (err error) {
	tx.rebound, tx.inSavepoint = false, false
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in store operation: %v", r)
		}
		if tx.inSavepoint {
			tx.inSavepoint = false
			if err != nil {
				db.wexec(context.Background(), "ROLLBACK TO op")
			}
			db.wexec(context.Background(), "RELEASE op")
		}
		if err != nil && tx.rebound {
			db.bind.forget()
		}
	}()
	return fn(tx)
}

// savepoint is for an operation of write1 that finds, before its first
// write, that it will write more than once: its writes are then undone
// together if it fails, as write's are.
func (tx *wtx) savepoint() error {
	if tx.inSavepoint {
		return nil
	}
	if err := tx.db.wexec(tx.ctx, "SAVEPOINT op"); err != nil {
		return mapErr(err)
	}
	tx.inSavepoint = true
	return nil
}

// wtx is the writer's view of the open transaction.
type wtx struct {
	db  *DB
	ctx context.Context
	// pushed is set when an operation queued a push, so that the
	// dispatcher is woken once the batch commits (outbox.go).
	pushed bool
	// rebound is set when the running operation ran a statement that may
	// change numbers or devices (bindings.go).
	rebound bool
	// inSavepoint is set while the running operation is in a savepoint:
	// write's always, write1's once it opened one (savepoint).
	inSavepoint bool
	// opWaiting are the running operation's changes to what waits,
	// batchWaiting the batch's so far (waiting.go).
	opWaiting, batchWaiting []waitEvent
	// touched are the numbers a message of which stopped waiting in this
	// batch (waiting.go, touch).
	touched map[string]bool
}

// noteBindings notes that q may change numbers or devices, if it may
// (bindings.go).
func (tx *wtx) noteBindings(q string) {
	if changesBindings(q) {
		tx.rebound = true
		tx.db.bind.forget()
	}
}

// timeArg returns t (Unix seconds) as a statement argument. Every send
// within a second stores the same time, and boxing it anew for each was
// an allocation per send. Only the writer calls it.
func (db *DB) timeArg(t int64) any {
	if db.lastTimeArg == nil || db.lastTime != t {
		db.lastTime, db.lastTimeArg = t, t
	}
	return db.lastTimeArg
}

// wexec runs q, a statement without arguments (BEGIN, COMMIT, a
// savepoint), on the writer's connection.
func (db *DB) wexec(ctx context.Context, q string) error {
	return db.w.run(ctx, q)
}

// exec runs q, which writes, with args.
func (tx *wtx) exec(q string, args ...any) (sql.Result, error) {
	tx.noteBindings(q)
	r, err := tx.db.w.exec(tx.ctx, q, args...)
	return r, mapErr(err)
}

// query runs q with args; its rows must be closed before the operation
// runs q again.
func (tx *wtx) query(q string, args ...any) (*wrows, error) {
	tx.noteBindings(q)
	r, err := tx.db.w.query(tx.ctx, q, args...)
	return r, mapErr(err)
}

// queryRow runs q with args for its first row.
func (tx *wtx) queryRow(q string, args ...any) wrow {
	tx.noteBindings(q)
	return tx.db.w.queryRow(tx.ctx, q, args...)
}

// rstmt returns a prepared statement of the read pool.
func (db *DB) rstmt(q string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if s, ok := db.rstmts[q]; ok {
		return s, nil
	}
	s, err := db.read.Prepare(q)
	if err != nil {
		return nil, err
	}
	db.rstmts[q] = s
	return s, nil
}

func (db *DB) rquery(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := db.rstmt(q)
	if err != nil {
		return nil, mapErr(err)
	}
	r, err := s.QueryContext(ctx, args...)
	return r, mapErr(err)
}

func (db *DB) rqueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	s, err := db.rstmt(q)
	if err != nil {
		return db.read.QueryRowContext(ctx, q, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// mapErr turns SQLite's busy and locked errors into store.ErrBusy, and its
// full disk into store.ErrDiskFull.
func mapErr(err error) error {
	if err == nil {
		return nil // without errors.As, whose target would be allocated
	}
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked) {
		return fmt.Errorf("%w: %v", store.ErrBusy, err)
	}
	if errors.As(err, &se) && se.Code == sqlite3.ErrFull {
		return fmt.Errorf("%w: %v", store.ErrDiskFull, err)
	}
	return err
}
