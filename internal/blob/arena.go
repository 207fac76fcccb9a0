package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/ringd/ringd/internal/fsync"
	"golang.org/x/sys/unix"
)

// Arena keeps data of moderate size (a few KiB up to a limit of the
// caller's, 1 MiB by default in ringd) in files whose space was allocated
// and synced before any data goes there. Writing into allocated space is
// a disk's fast case: fdatasync then flushes the data, and at most the
// first write's extent conversion (fillChunk), with no journal commit for
// a new file, its size or its name, where a file per data costs three
// (data and size, name, directory). Every Put waits for a
// shared sync round: one fdatasync per chunk file written since the last
// round, for everyone waiting.
//
// The arena is made of chunk files under one directory, named by their
// index ("000000", "000001", ...), each ChunkSize bytes; an extent's offset
// is global (chunk index × ChunkSize + offset in the chunk) and an extent
// never crosses chunks. One file grown in place would be simpler, but while
// it grows every data sync must also commit its new blocks and size to the
// journal; a new chunk is a file no data sync touches until it is complete.
//
// The arena does not know what its extents hold: its caller (the database's
// blobs table) keeps the index. OpenArena learns from the caller which
// extents are in use; all other space is free. So space written by a Put
// whose message never committed is free again after a restart, with nothing
// to clean.
//
// The arena grows only while its filesystem keeps, after the new chunk,
// another chunk's worth of free space and the reserve (ArenaOptions): space
// reserved ahead of need then never leaves the rest of ringd (data too
// large for the arena, the database) without room. When it cannot grow, a
// Put that finds no free extent fails with ErrNoSpace before it reads
// anything, and its caller stores the data elsewhere. Nothing of a refused
// growth stays behind: the next Put that needs room tries again.
type Arena struct {
	dir   string
	chunk int64 // bytes per chunk file
	spare int64 // free space below which a chunk is added in the background
	// keepFree is the free space of the filesystem that growth leaves for
	// others, besides a chunk.
	keepFree int64

	mu      sync.Mutex    // guards the following
	files   []chunkFile   // chunk i holds offsets [i*chunk, (i+1)*chunk)
	free    []span        // free space, by offset, coalesced within a chunk
	nfree   int64         // bytes in free
	growing chan struct{} // non-nil while a chunk is added; closed when done
	growErr error         // the outcome of the last growth
	closed  bool
	// pins counts the readers of an extent (Open), by its offset; an
	// extent released while read is freed when its last reader closes.
	pins     map[int64]int
	deferred map[int64]Extent

	growWG sync.WaitGroup // background growth, waited for by Close

	syncMu  sync.Mutex // guards the following
	pending []syncWaiter

	kick  chan struct{} // a Put is waiting for a sync round
	quit  chan struct{} // closed by Close: the syncer ends
	done  chan struct{} // closed by the syncer as it ends
	syncs atomic.Int64  // sync rounds run
	// writes counts the joined writes of the sync rounds (writeRound).
	writes atomic.Int64
	// failed is the first failed fdatasync: after it, the kernel may have
	// dropped data it could not write and cleared the error, so a later
	// sync could succeed without that data on disk. The arena then refuses
	// every Put until ringd restarts (as the SQLite store does).
	failed atomic.Pointer[error]
	// syncFault, when set (by tests), is called before each fdatasync and
	// its error taken as the sync's.
	syncFault func() error
}

// ArenaUnit is the unit of allocation: every extent is a multiple of it.
const ArenaUnit = 4096

// DefaultArenaChunk is the size of a chunk file of a new arena.
const DefaultArenaChunk = 64 << 20

// ArenaOptions configure a new arena; an existing one keeps the chunk size
// its files have.
type ArenaOptions struct {
	ChunkSize int64 // default DefaultArenaChunk; a multiple of ArenaUnit
	// Spare is the free space below which a chunk is added ahead of need,
	// in the background; default half a chunk.
	Spare int64
	// Reserve is the free space of the filesystem that the arena's growth
	// leaves for others, beside another chunk's worth; default none.
	Reserve int64
}

// Extent is a place in the arena.
type Extent struct {
	Off int64 // global offset, a multiple of ArenaUnit
	Len int64 // bytes reserved, a multiple of ArenaUnit
}

// ExtentOf returns the extent that data of length bytes at off occupies.
func ExtentOf(off, length int64) Extent {
	return Extent{Off: off, Len: roundUnit(length)}
}

func roundUnit(n int64) int64 { return (n + ArenaUnit - 1) / ArenaUnit * ArenaUnit }

type span struct{ off, end int64 }

// chunkFile is a chunk opened twice: w writes past the page cache
// (O_DIRECT) where the filesystem allows, r reads through it.
type chunkFile struct {
	r, w *os.File
}

// openChunk opens the chunk file name. Writing data through the page
// cache into pages it does not hold costs far more CPU than writing it
// directly, which the file send load showed in ringd's profile; and a
// chunk's pages are never dirty, so a sync round only flushes the disk's
// cache.
func openChunk(name string) (chunkFile, error) {
	r, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return chunkFile{}, err
	}
	w, err := openDirect(name, false)
	if err != nil || !directIO {
		if w != nil {
			w.Close()
		}
		w = r
	}
	return chunkFile{r: r, w: w}, nil
}

func (c chunkFile) close() error {
	err := c.r.Close()
	if c.w != c.r {
		if werr := c.w.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// syncWaiter is a Put waiting for a sync round of f, which first writes
// p at off in f (at global offset goff).
type syncWaiter struct {
	f    chunkFile
	p    []byte
	off  int64
	goff int64
	done chan error
}

// OpenArena opens (making if missing) the arena in dir. used must call its
// argument with the offset and length of every data in use (the database's
// blobs rows that point into the arena); everything else is free.
func OpenArena(dir string, opts ArenaOptions, used func(use func(off, length int64) error) error) (*Arena, error) {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultArenaChunk
	}
	if opts.ChunkSize%ArenaUnit != 0 {
		return nil, fmt.Errorf("arena: chunk size %d is not a multiple of %d", opts.ChunkSize, ArenaUnit)
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	a := &Arena{dir: dir, chunk: opts.ChunkSize, kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}),
		pins: map[int64]int{}, deferred: map[int64]Extent{}}
	if err := a.openChunks(); err != nil {
		a.closeFiles()
		return nil, err
	}
	a.spare = opts.Spare
	if a.spare <= 0 {
		a.spare = a.chunk / 2
	}
	a.keepFree = max(opts.Reserve, 0)
	var inUse []span
	err := used(func(off, length int64) error {
		e := ExtentOf(off, length)
		if off < 0 || off%ArenaUnit != 0 || length <= 0 || e.Len > a.chunk ||
			off/a.chunk != (off+e.Len-1)/a.chunk || off/a.chunk >= int64(len(a.files)) {
			return fmt.Errorf("arena: data at %d, %d bytes, is outside the arena (%d chunks of %d)", off, length, len(a.files), a.chunk)
		}
		inUse = append(inUse, span{off, off + e.Len})
		return nil
	})
	if err == nil {
		err = a.rebuild(inUse)
	}
	if err != nil {
		a.closeFiles()
		return nil, err
	}
	go a.syncer()
	return a, nil
}

// openChunks opens the chunk files and deletes a chunk a crash left
// unfinished (a chunk is named only once it is complete and synced).
func (a *Arena) openChunks() error {
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return err
	}
	var idx []int
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(a.dir, name))
			continue
		}
		i, err := strconv.Atoi(name)
		if err != nil || len(name) != 6 || i < 0 {
			continue
		}
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for n, i := range idx {
		if i != n {
			return fmt.Errorf("arena: chunk %06d is missing", n)
		}
		c, err := openChunk(filepath.Join(a.dir, chunkName(i)))
		if err != nil {
			return err
		}
		a.files = append(a.files, c)
		fi, err := c.r.Stat()
		if err != nil {
			return err
		}
		if n == 0 {
			a.chunk = fi.Size() // the arena's own, whatever the options say
			if a.chunk <= 0 || a.chunk%ArenaUnit != 0 {
				return fmt.Errorf("arena: chunk 000000 has %d bytes", a.chunk)
			}
		} else if fi.Size() != a.chunk {
			return fmt.Errorf("arena: chunk %06d has %d bytes, not %d", i, fi.Size(), a.chunk)
		}
	}
	return nil
}

// rebuild makes everything but inUse free.
func (a *Arena) rebuild(inUse []span) error {
	slices.SortFunc(inUse, func(x, y span) int { return cmpInt64(x.off, y.off) })
	for i := 1; i < len(inUse); i++ {
		if inUse[i].off < inUse[i-1].end {
			return fmt.Errorf("arena: data at %d and at %d overlap", inUse[i-1].off, inUse[i].off)
		}
	}
	a.free, a.nfree = nil, 0
	j := 0
	for c := range int64(len(a.files)) {
		pos, end := c*a.chunk, (c+1)*a.chunk
		for ; j < len(inUse) && inUse[j].off < end; j++ {
			if inUse[j].off > pos {
				a.addFree(pos, inUse[j].off-pos)
			}
			pos = inUse[j].end
		}
		if pos < end {
			a.addFree(pos, end-pos)
		}
	}
	return nil
}

func cmpInt64(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func chunkName(i int) string { return fmt.Sprintf("%06d", i) }

// Put streams exactly n bytes from r into a free extent and returns once
// they are on disk (a sync round after the write). If r fails or yields
// other than n bytes, the extent is free again. The extent is the caller's
// until it calls Release. The arena does not name data: a caller that
// names it by its content hashes what r yields (io.TeeReader).
//
// Every piece but the last is written as it arrives; the last (for data of
// up to 64 KiB, the only one) is handed to the sync round, which writes the
// last pieces of everyone waiting with as few pwritev calls as their
// extents allow (concurrent Puts get neighbouring extents) and then syncs.
// Each O_DIRECT write is a request to the disk, and on a virtual machine
// a write costs per request far more than per byte: one write of many
// Puts' pieces costs little more than one of a single piece.
//
// When no free extent holds n bytes and the arena cannot grow for lack of
// space, Put fails with an error satisfying errors.Is(err, ErrNoSpace)
// before it reads anything from r.
func (a *Arena) Put(ctx context.Context, r io.Reader, n int64) (Extent, error) {
	if n <= 0 || roundUnit(n) > a.chunk {
		return Extent{}, fmt.Errorf("arena: %d bytes do not fit in a chunk of %d", n, a.chunk)
	}
	if err := a.failure(); err != nil {
		return Extent{}, err
	}
	e, err := a.reserve(roundUnit(n))
	if err != nil {
		return Extent{}, err
	}
	kept := false
	defer func() {
		if !kept {
			a.Release(e)
		}
	}()
	f, base := a.at(e.Off)
	bp := alignedBufs.Get().(*[]byte)
	defer alignedBufs.Put(bp) // after the sync round, which may write from it
	buf := *bp
	var done int64
	for {
		// Whole buffers: one write per 64 KiB, however the body arrives.
		k, rerr := io.ReadFull(r, buf[:min(int64(len(buf)), n-done)])
		if k > 0 {
			done += int64(k)
		}
		if rerr != nil {
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				return Extent{}, fmt.Errorf("blob: got %d bytes, want %d", done, n)
			}
			return Extent{}, rerr
		}
		if done == n {
			break
		}
		if err := f.writeAt(buf, base+done-int64(k)); err != nil {
			return Extent{}, err
		}
	}
	// Nothing may follow the n bytes.
	var one [1]byte
	if k, rerr := io.ReadFull(r, one[:]); k > 0 {
		return Extent{}, fmt.Errorf("blob: got more than %d bytes", n)
	} else if rerr != io.EOF {
		return Extent{}, rerr
	}
	// The last piece is padded with zeros to whole units (the extent's own
	// space): O_DIRECT writes whole blocks.
	k := n - (n-1)/int64(len(buf))*int64(len(buf))
	w := roundUnit(k)
	clear(buf[k:w])
	if err := a.waitSync(f, buf[:w], base+n-k, e.Off+n-k); err != nil {
		return Extent{}, err
	}
	kept = true
	return e, nil
}

// writeAt writes p at off, past the page cache where it can.
func (c chunkFile) writeAt(p []byte, off int64) error {
	_, err := c.w.WriteAt(p, off)
	if err != nil && errors.Is(err, syscall.EINVAL) && c.w != c.r {
		// A filesystem that opened O_DIRECT but wants other alignment:
		// the same file through the page cache (the sync round flushes
		// it either way).
		_, err = c.r.WriteAt(p, off)
	}
	return err
}

// at returns the chunk file of a global offset and the offset in it.
func (a *Arena) at(off int64) (chunkFile, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.files[off/a.chunk], off % a.chunk
}

// ReadAt reads len(p) bytes of the arena at global offset off, which must
// lie inside one extent.
func (a *Arena) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if off < 0 || (off+int64(len(p))-1)/a.chunk != off/a.chunk {
		return 0, fmt.Errorf("arena: read of %d bytes at %d crosses a chunk", len(p), off)
	}
	a.mu.Lock()
	if off/a.chunk >= int64(len(a.files)) {
		a.mu.Unlock()
		return 0, fmt.Errorf("arena: read at %d is past the end", off)
	}
	f := a.files[off/a.chunk].r
	a.mu.Unlock()
	return f.ReadAt(p, off%a.chunk)
}

// Release makes e free, or, while readers opened it, frees it when the
// last of them closes. The caller must know that nothing refers to it any
// more, durably (the delete of its record committed), and that no reader
// is between looking it up and opening it.
func (a *Arena) Release(e Extent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pins[e.Off] > 0 {
		if _, twice := a.deferred[e.Off]; twice {
			panic(fmt.Sprintf("arena: extent at %d released twice", e.Off))
		}
		a.deferred[e.Off] = e
		return
	}
	a.addFree(e.Off, e.Len)
}

// Open returns a reader of n bytes of e from offset on. Until it is
// closed, e is not freed (Release waits for it), so the reader never sees
// another data written there.
func (a *Arena) Open(e Extent, offset, n int64) (io.ReadCloser, error) {
	if offset < 0 || n < 0 || offset+n > e.Len {
		return nil, fmt.Errorf("arena: %d bytes at %d are outside an extent of %d", n, offset, e.Len)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.Off < 0 || e.Off/a.chunk >= int64(len(a.files)) {
		return nil, fmt.Errorf("arena: extent at %d is past the end", e.Off)
	}
	a.pins[e.Off]++
	f := a.files[e.Off/a.chunk].r
	return &extentReader{SectionReader: io.NewSectionReader(f, e.Off%a.chunk+offset, n), a: a, off: e.Off}, nil
}

// unpin ends a reader of the extent at off, freeing it if it was
// released meanwhile.
func (a *Arena) unpin(off int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pins[off]--; a.pins[off] > 0 {
		return
	}
	delete(a.pins, off)
	if e, ok := a.deferred[off]; ok {
		delete(a.deferred, off)
		a.addFree(e.Off, e.Len)
	}
}

type extentReader struct {
	*io.SectionReader
	a      *Arena
	off    int64
	closed sync.Once
}

func (r *extentReader) Close() error {
	r.closed.Do(func() { r.a.unpin(r.off) })
	return nil
}

// reserve takes n bytes of free space (first fit), adding a chunk if none
// is free, and starts adding one in the background when space runs low.
func (a *Arena) reserve(n int64) (Extent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if a.closed {
			return Extent{}, errors.New("arena: closed")
		}
		if e, ok := a.take(n); ok {
			if a.nfree < a.spare && a.growing == nil {
				a.startGrow()
			}
			return e, nil
		}
		if a.growing == nil {
			a.startGrow()
		}
		ch := a.growing
		a.mu.Unlock()
		<-ch
		a.mu.Lock()
		if err := a.growErr; err != nil {
			return Extent{}, err
		}
	}
}

// take removes n bytes from the first free span that holds them.
func (a *Arena) take(n int64) (Extent, bool) {
	for i := range a.free {
		s := &a.free[i]
		if s.end-s.off < n {
			continue
		}
		e := Extent{Off: s.off, Len: n}
		s.off += n
		if s.off == s.end {
			a.free = slices.Delete(a.free, i, i+1)
		}
		a.nfree -= n
		return e, true
	}
	return Extent{}, false
}

// addFree returns [off, off+n) to the free spans, merging it with its
// neighbours in the same chunk. Space freed twice is a bug that would hand
// one extent to two data: it panics rather than serve wrong bytes.
func (a *Arena) addFree(off, n int64) {
	if n <= 0 || off < 0 || off%ArenaUnit != 0 || n%ArenaUnit != 0 || off/a.chunk != (off+n-1)/a.chunk {
		panic(fmt.Sprintf("arena: freeing %d bytes at %d, not an extent", n, off))
	}
	end := off + n
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].off >= off })
	if (i < len(a.free) && a.free[i].off < end) || (i > 0 && a.free[i-1].end > off) {
		panic(fmt.Sprintf("arena: space at %d, %d bytes, freed twice", off, n))
	}
	prev := i > 0 && a.free[i-1].end == off && off%a.chunk != 0
	next := i < len(a.free) && a.free[i].off == end && end%a.chunk != 0
	switch {
	case prev && next:
		a.free[i-1].end = a.free[i].end
		a.free = slices.Delete(a.free, i, i+1)
	case prev:
		a.free[i-1].end = end
	case next:
		a.free[i].off = off
	default:
		a.free = slices.Insert(a.free, i, span{off, end})
	}
	a.nfree += n
}

// startGrow adds a chunk in the background; a.mu is held.
func (a *Arena) startGrow() {
	a.growing = make(chan struct{})
	a.growWG.Add(1)
	go a.grow(len(a.files))
}

func (a *Arena) grow(i int) {
	defer a.growWG.Done()
	f, err := a.growChunk(i)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		a.files = append(a.files, f)
		a.addFree(int64(i)*a.chunk, a.chunk)
	}
	a.growErr = err
	close(a.growing)
	a.growing = nil
}

// growChunk makes chunk i if the filesystem can spare it and still keep
// another chunk and the reserve free. Where free space cannot be read,
// fallocate decides.
func (a *Arena) growChunk(i int) (chunkFile, error) {
	if free, err := FreeSpace(a.dir); err == nil && free < 2*a.chunk+a.keepFree {
		return chunkFile{}, fmt.Errorf("%w: arena: a chunk of %d bytes needs %d free, %d are",
			ErrNoSpace, a.chunk, 2*a.chunk+a.keepFree, free)
	}
	f, err := a.makeChunk(i)
	if errors.Is(err, syscall.ENOSPC) {
		err = fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	return f, err
}

// directIO is false only in tests of the page cache fallback.
var directIO = true

// alignedBufs holds Put's copy buffers, aligned for O_DIRECT.
var alignedBufs = sync.Pool{New: func() any { b := alignedBuf(64 << 10); return &b }}

// alignedBuf returns n bytes starting at a multiple of ArenaUnit in memory.
func alignedBuf(n int) []byte {
	b := make([]byte, n+ArenaUnit)
	skip := int((ArenaUnit - uintptr(unsafe.Pointer(&b[0]))%ArenaUnit) % ArenaUnit)
	return b[skip : skip+n]
}

// makeChunk makes chunk i under a temporary name, its space allocated and
// reading as zeros (fillChunk), syncs it, names it and syncs the
// directory: a named chunk is always whole.
func (a *Arena) makeChunk(i int) (chunkFile, error) {
	name := filepath.Join(a.dir, chunkName(i))
	tmp := name + ".tmp"
	f, err := openDirect(tmp, true)
	if err == nil && !directIO {
		err = errors.New("arena: O_DIRECT turned off")
	}
	if err == nil {
		err = fillChunk(f, a.chunk)
	}
	if err != nil {
		// No O_DIRECT here (or not with this alignment): through the
		// page cache.
		if f != nil {
			f.Close()
		}
		f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err == nil {
			err = fillChunk(f, a.chunk)
		}
	}
	fail := func(err error) (chunkFile, error) {
		if f != nil {
			f.Close()
		}
		os.Remove(tmp)
		return chunkFile{}, err
	}
	if err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return chunkFile{}, err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return chunkFile{}, err
	}
	if err := syncDir(a.dir); err != nil {
		// Named but perhaps not durably: unusable until a restart finds it.
		return chunkFile{}, err
	}
	return openChunk(name)
}

// fillChunk gives f size bytes of allocated space that reads as zeros:
// fallocate where the filesystem has it, else zeros written.
//
// Blocks from fallocate are unwritten extents: the first write into one
// converts it, a change to the file's metadata that the sync round's
// fdatasync must then commit to the journal (data written where blocks
// were written before needs none). Writing the zeros ahead spared the
// sync rounds that commit, but cost as many bytes again as the data:
// under the file send load on a fresh arena, taking them away gave more
// sends for less CPU per send, and in an arena that has filled once,
// freed space is written space anyway. That was measured
// on an ext4 without a journal (its fsync path is ext4_fsync_nojournal),
// where the conversion is one more metadata block in the round's sync; on
// a journaled filesystem each round of a fresh arena also commits the
// journal, the cost the zeros avoided, until the arena has filled once.
func fillChunk(f *os.File, size int64) error {
	if useFallocate {
		allocated, err := preallocate(f, size)
		if err != nil || allocated {
			return err
		}
	}
	return writeZeros(f, size)
}

// useFallocate is false only in tests of the zeros written where
// fallocate is missing.
var useFallocate = true

func writeZeros(f *os.File, size int64) error {
	zeros := alignedBuf(1 << 20) // aligned for O_DIRECT
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			return err
		}
	}
	return nil
}

// waitSync waits for a sync round of f that starts after this call and
// writes p at off (goff in the arena) first.
func (a *Arena) waitSync(f chunkFile, p []byte, off, goff int64) error {
	w := syncWaiter{f: f, p: p, off: off, goff: goff, done: make(chan error, 1)}
	a.syncMu.Lock()
	a.pending = append(a.pending, w)
	a.syncMu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default: // a round is already due
	}
	return <-w.done
}

// syncer runs the sync rounds: each takes every Put that has finished
// reading, writes their last pieces (writeRound), syncs each chunk file
// they wrote once, and wakes them. Puts that finish during a round wait for
// the next, so a round is shared by as many as the disk's latency lets
// gather.
func (a *Arena) syncer() {
	defer close(a.done)
	var batch []syncWaiter
	var werrs []error
	for {
		select {
		case <-a.kick:
		case <-a.quit:
			return
		}
		a.syncMu.Lock()
		batch, a.pending = a.pending, batch[:0]
		a.syncMu.Unlock()
		if len(batch) == 0 {
			continue
		}
		werrs = a.writeRound(batch, werrs)
		var synced []*os.File
		var errs []error
		for _, w := range batch {
			if !slices.Contains(synced, w.f.w) {
				synced = append(synced, w.f.w)
				err := a.failure()
				if err == nil && a.syncFault != nil {
					err = a.syncFault()
				}
				if err == nil {
					err = fsync.Datasync(w.f.w)
				}
				if err != nil && a.failed.Load() == nil {
					err = fmt.Errorf("%w: %v", ErrArenaFailed, err)
					a.failed.CompareAndSwap(nil, &err)
				}
				errs = append(errs, err)
			}
		}
		a.syncs.Add(1)
		for i, w := range batch {
			err := werrs[i]
			if err == nil {
				err = errs[slices.Index(synced, w.f.w)]
			}
			w.done <- err
		}
		clear(batch)
	}
}

// Bounds of one pwritev of a round: the kernel takes at most 1024 vectors.
const (
	maxVecs  = 1024
	maxWrite = 8 << 20
)

// writeRound writes the pieces of batch, sorted by place and joined where
// they are neighbours in one file, and returns each one's write error, in
// batch's order. A joined write that fails or falls short is done again
// piece by piece, so each Put gets its own piece's outcome.
func (a *Arena) writeRound(batch []syncWaiter, errs []error) []error {
	errs = slices.Grow(errs[:0], len(batch))[:len(batch)]
	clear(errs)
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return cmpInt64(batch[i].goff, batch[j].goff) })
	vecs := make([][]byte, 0, min(len(batch), maxVecs))
	for start := 0; start < len(order); {
		first := batch[order[start]]
		end, size := start+1, int64(len(first.p))
		for end < len(order) && end-start < maxVecs && size < maxWrite {
			next := batch[order[end]]
			if next.f.w != first.f.w || next.off != first.off+size {
				break
			}
			size += int64(len(next.p))
			end++
		}
		vecs = vecs[:0]
		for _, i := range order[start:end] {
			vecs = append(vecs, batch[i].p)
		}
		a.writes.Add(1)
		if k, err := pwritev(first.f.w, vecs, first.off); err != nil || int64(k) != size {
			for _, i := range order[start:end] {
				errs[i] = batch[i].f.writeAt(batch[i].p, batch[i].off)
			}
		}
		start = end
	}
	return errs
}

// pwritev writes vecs at off in f with one system call.
func pwritev(f *os.File, vecs [][]byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var k int
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		k, werr = unix.Pwritev(int(fd), vecs, off)
		return true
	}); err != nil {
		return 0, err
	}
	return k, werr
}

// ErrArenaFailed is the error of every Put after a failed sync.
var ErrArenaFailed = errors.New("arena failed")

// failure returns the sticky failure, if a sync has failed.
func (a *Arena) failure() error {
	if p := a.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Syncs returns how many sync rounds have run.
func (a *Arena) Syncs() int64 { return a.syncs.Load() }

// Size returns the arena's size and its free bytes.
func (a *Arena) Size() (size, free int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int64(len(a.files)) * a.chunk, a.nfree
}

// ChunkSize returns the size of the arena's chunks: no data is larger.
func (a *Arena) ChunkSize() int64 { return a.chunk }

// Close stops the syncer and closes the files. No Put may be running.
func (a *Arena) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.growWG.Wait()
	close(a.quit)
	<-a.done
	return a.closeFiles()
}

func (a *Arena) closeFiles() error {
	var first error
	for _, c := range a.files {
		if err := c.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
