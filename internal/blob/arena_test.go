package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// openTestArena opens an arena in dir whose used extents are inUse.
func openTestArena(t *testing.T, dir string, opts ArenaOptions, inUse ...Extent) *Arena {
	t.Helper()
	a, err := OpenArena(dir, opts, func(use func(off, length int64) error) error {
		for _, e := range inUse {
			if err := use(e.Off, e.Len); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readExtent(t testing.TB, a *Arena, e Extent, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := a.ReadAt(b, e.Off); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkFree checks the free spans: sorted, apart, inside one chunk each,
// and adding up to nfree.
func checkFree(t *testing.T, a *Arena) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var sum int64
	for i, s := range a.free {
		if s.off >= s.end || s.off/a.chunk != (s.end-1)/a.chunk {
			t.Fatalf("free span %v is empty or crosses a chunk", s)
		}
		if i > 0 && a.free[i-1].end > s.off {
			t.Fatalf("free spans %v and %v overlap or are out of order", a.free[i-1], s)
		}
		sum += s.end - s.off
	}
	if sum != a.nfree {
		t.Fatalf("free spans hold %d bytes, nfree says %d", sum, a.nfree)
	}
}

func TestArenaPutRead(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testArenaPutRead(t) })
	t.Run("page cache", func(t *testing.T) {
		directIO = false // where O_DIRECT is missing
		defer func() { directIO = true }()
		testArenaPutRead(t)
	})
}

func testArenaPutRead(t *testing.T) {
	a := openTestArena(t, filepath.Join(t.TempDir(), "arena"), ArenaOptions{ChunkSize: 1 << 20})
	for _, n := range []int{1, 4095, 4096, 4097, 65536, 100_000, 1 << 20} {
		data := randBytes(t, n)
		e, err := a.Put(context.Background(), bytes.NewReader(data), int64(n))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if e.Off%ArenaUnit != 0 || e.Len != roundUnit(int64(n)) {
			t.Fatalf("%d bytes: extent %+v", n, e)
		}
		if got := readExtent(t, a, e, n); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back other data", n)
		}
		// A range from inside, as fetch with an offset reads it.
		if got := readExtent(t, a, Extent{Off: e.Off + int64(n/2)}, n-n/2); !bytes.Equal(got, data[n/2:]) {
			t.Fatalf("%d bytes: the second half differs", n)
		}
	}
	if _, err := a.Put(context.Background(), bytes.NewReader(nil), 1<<20+1); err == nil {
		t.Fatal("a Put larger than a chunk succeeded")
	}
	checkFree(t, a)
}

// TestArenaConcurrentPutsShareSyncs: Puts at once are all stored, in
// extents apart from each other, and share sync rounds.
func TestArenaConcurrentPutsShareSyncs(t *testing.T) {
	a := openTestArena(t, filepath.Join(t.TempDir(), "arena"), ArenaOptions{ChunkSize: 4 << 20})
	const workers, each = 32, 8
	type put struct {
		e    Extent
		data []byte
	}
	var mu sync.Mutex // guards puts
	var puts []put
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			for range each {
				data := randBytes(t, 4097+int(randBytes(t, 1)[0])*100)
				e, err := a.Put(context.Background(), bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				puts = append(puts, put{e, data})
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(puts) != workers*each {
		t.Fatalf("%d Puts stored, want %d", len(puts), workers*each)
	}
	slices.SortFunc(puts, func(x, y put) int { return cmpInt64(x.e.Off, y.e.Off) })
	for i, p := range puts {
		if i > 0 && puts[i-1].e.Off+puts[i-1].e.Len > p.e.Off {
			t.Fatalf("extents %+v and %+v overlap", puts[i-1].e, p.e)
		}
		if got := readExtent(t, a, p.e, len(p.data)); !bytes.Equal(got, p.data) {
			t.Fatalf("extent %+v holds other data", p.e)
		}
	}
	syncs := a.Syncs()
	t.Logf("%d Puts, %d sync rounds", len(puts), syncs)
	if syncs >= int64(len(puts)) {
		t.Fatalf("%d sync rounds for %d Puts: none shared", syncs, len(puts))
	}
	size, free := a.Size()
	var used int64
	for _, p := range puts {
		used += p.e.Len
	}
	if free != size-used {
		t.Fatalf("free %d of %d, want %d", free, size, size-used)
	}
	checkFree(t, a)
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A Put whose reader fails, or yields fewer or more bytes than announced,
// fails and leaves its extent free.
func TestArenaFailedPutReleases(t *testing.T) {
	a := openTestArena(t, filepath.Join(t.TempDir(), "arena"), ArenaOptions{ChunkSize: 1 << 20})
	keep := randBytes(t, 5000)
	if _, err := a.Put(context.Background(), bytes.NewReader(keep), 5000); err != nil {
		t.Fatal(err)
	}
	size, free := a.Size()
	broken := errors.New("connection reset")
	for name, r := range map[string]io.Reader{
		"fails": &failingReader{r: bytes.NewReader(randBytes(t, 70_000)), err: broken},
		"short": bytes.NewReader(randBytes(t, 99_999)),
		"long":  bytes.NewReader(randBytes(t, 100_001)),
		"empty": bytes.NewReader(nil),
	} {
		if _, err := a.Put(context.Background(), r, 100_000); err == nil {
			t.Fatalf("%s: Put succeeded", name)
		} else if name == "fails" && !errors.Is(err, broken) {
			t.Fatalf("%s: %v, want the reader's error", name, err)
		}
		if s, f := a.Size(); s != size || f != free {
			t.Fatalf("%s: free %d of %d after a failed Put, want %d of %d", name, f, s, free, size)
		}
	}
	checkFree(t, a)
}

// TestArenaRebuild: reopened, the arena keeps what its caller says is in
// use and frees everything else, and refuses extents it cannot hold.
func TestArenaRebuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "arena")
	a, err := OpenArena(dir, ArenaOptions{ChunkSize: 256 << 10}, func(func(off, length int64) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	type put struct {
		e    Extent
		data []byte
	}
	var puts []put
	for i := range 12 { // three chunks' worth
		data := randBytes(t, 60_000+i)
		e, err := a.Put(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		puts = append(puts, put{e, data})
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// A chunk being made when the process died.
	if err := os.WriteFile(filepath.Join(dir, "000009.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Every other one was committed; the rest were not.
	var kept []Extent
	for i := 0; i < len(puts); i += 2 {
		kept = append(kept, ExtentOf(puts[i].e.Off, int64(len(puts[i].data))))
	}
	a = openTestArena(t, dir, ArenaOptions{ChunkSize: 1 << 20}, kept...) // the files' chunk size wins
	if a.ChunkSize() != 256<<10 {
		t.Fatalf("chunk size %d, want the files' %d", a.ChunkSize(), 256<<10)
	}
	if _, err := os.Stat(filepath.Join(dir, "000009.tmp")); !os.IsNotExist(err) {
		t.Fatal("an unfinished chunk is still there")
	}
	size, free := a.Size()
	var used int64
	for _, e := range kept {
		used += e.Len
	}
	if free != size-used {
		t.Fatalf("free %d of %d after the rebuild, want %d", free, size, size-used)
	}
	checkFree(t, a)
	for i := 0; i < len(puts); i += 2 {
		if got := readExtent(t, a, puts[i].e, len(puts[i].data)); !bytes.Equal(got, puts[i].data) {
			t.Fatalf("kept data %d changed", i)
		}
	}
	// New Puts take only free space: the kept data stays.
	for range 6 {
		data := randBytes(t, 60_000)
		e, err := a.Put(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kept {
			if e.Off < k.Off+k.Len && k.Off < e.Off+e.Len {
				t.Fatalf("new extent %+v overlaps kept %+v", e, k)
			}
		}
	}
	for i := 0; i < len(puts); i += 2 {
		if got := readExtent(t, a, puts[i].e, len(puts[i].data)); !bytes.Equal(got, puts[i].data) {
			t.Fatalf("kept data %d overwritten", i)
		}
	}
	a.Close()

	for name, bad := range map[string][]Extent{
		"overlap":       {{Off: 0, Len: 8192}, {Off: 4096, Len: 4096}},
		"past the end":  {{Off: 100 * 256 << 10, Len: 4096}},
		"across chunks": {{Off: 256<<10 - 4096, Len: 8192}},
		"unaligned":     {{Off: 100, Len: 4096}},
	} {
		_, err := OpenArena(dir, ArenaOptions{}, func(use func(off, length int64) error) error {
			for _, e := range bad {
				if err := use(e.Off, e.Len); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// TestArenaGrowsAndCoalesces: Puts past the free space add chunks; freed
// space coalesces within each chunk and is reused first fit.
func TestArenaGrowsAndCoalesces(t *testing.T) {
	const chunk = 64 << 10
	a := openTestArena(t, filepath.Join(t.TempDir(), "arena"), ArenaOptions{ChunkSize: chunk, Spare: 1})
	var exts []Extent
	for range 40 { // 16 KiB each: 4 per chunk, 10 chunks
		e, err := a.Put(context.Background(), bytes.NewReader(randBytes(t, 16<<10)), 16<<10)
		if err != nil {
			t.Fatal(err)
		}
		exts = append(exts, e)
	}
	a.growWG.Wait() // a background growth may still be running
	size, free := a.Size()
	if size < 10*chunk || free != size-40*(16<<10) {
		t.Fatalf("size %d, free %d after 40 Puts of 16 KiB in chunks of 64 KiB", size, free)
	}
	// Free every other one, then the rest: all space is one span per chunk.
	for i := 0; i < len(exts); i += 2 {
		a.Release(exts[i])
	}
	checkFree(t, a)
	// First fit: the lowest free extent.
	e, err := a.Put(context.Background(), bytes.NewReader(randBytes(t, 4096)), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if e.Off != exts[0].Off {
		t.Fatalf("Put took %d, want the first free extent %d", e.Off, exts[0].Off)
	}
	a.Release(e)
	for i := 1; i < len(exts); i += 2 {
		a.Release(exts[i])
	}
	checkFree(t, a)
	size, free = a.Size()
	a.mu.Lock()
	spans := len(a.free)
	a.mu.Unlock()
	if free != size || int64(spans) != size/chunk {
		t.Fatalf("%d free of %d in %d spans, want all in %d", free, size, spans, size/chunk)
	}
	// Freeing twice is a bug the arena refuses to serve through.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("a double free did not panic")
			}
		}()
		a.Release(exts[3])
	}()
}

// BenchmarkArenaPutParallel: Puts of 64 KiB from many goroutines, each
// returning after its sync round (reported as syncs/op).
func BenchmarkArenaPutParallel(b *testing.B) {
	a, err := OpenArena(filepath.Join(b.TempDir(), "arena"), ArenaOptions{}, func(func(off, length int64) error) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	data := randBytes(b, 64<<10)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e, err := a.Put(context.Background(), bytes.NewReader(data), int64(len(data)))
			if err != nil {
				b.Error(err)
				return
			}
			a.Release(e)
		}
	})
	b.ReportMetric(float64(a.Syncs())/float64(b.N), "syncs/op")
}

// BenchmarkDiskPutParallel is BenchmarkArenaPutParallel for the file per
// data store, for comparison.
func BenchmarkDiskPutParallel(b *testing.B) {
	d, err := NewDisk(filepath.Join(b.TempDir(), "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 10)
	b.SetParallelism(32)
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		data := randBytes(b, 64<<10)
		for pb.Next() {
			binary.LittleEndian.PutUint64(data, uint64(seq.Add(1))) // new data: no file to find
			if _, err := d.Put(context.Background(), bytes.NewReader(data), int64(len(data))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestArenaOpenDefersRelease: an extent released while a reader has it
// open is freed when the last reader closes, not before.
func TestArenaOpenDefersRelease(t *testing.T) {
	a := openTestArena(t, filepath.Join(t.TempDir(), "arena"), ArenaOptions{ChunkSize: 1 << 20})
	data := randBytes(t, 10_000)
	e, err := a.Put(context.Background(), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	size, free := a.Size()
	r1, err := a.Open(e, 100, 5000)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := a.Open(e, 0, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(e, 0, e.Len+1); err == nil {
		t.Fatal("opened past the extent")
	}
	a.Release(e)
	if _, f := a.Size(); f != free {
		t.Fatalf("released while open: %d free, want %d", f, free)
	}
	// Nothing else may be written there while it is read.
	other, err := a.Put(context.Background(), bytes.NewReader(randBytes(t, 10_000)), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if other.Off < e.Off+e.Len && e.Off < other.Off+other.Len {
		t.Fatalf("a Put took %+v, inside the open %+v", other, e)
	}
	if got, _ := io.ReadAll(r1); !bytes.Equal(got, data[100:5100]) {
		t.Fatal("the first reader read other bytes")
	}
	r1.Close()
	r1.Close() // twice is once
	if _, f := a.Size(); f != free-other.Len {
		t.Fatalf("freed with a reader left: %d free", f)
	}
	if got, _ := io.ReadAll(r2); !bytes.Equal(got, data) {
		t.Fatal("the second reader read other bytes")
	}
	r2.Close()
	if s, f := a.Size(); s != size || f != free-other.Len+e.Len {
		t.Fatalf("after the last reader: %d free of %d, want %d", f, s, free-other.Len+e.Len)
	}
	checkFree(t, a)
}

// TestArenaFailedSyncIsSticky: after one failed fdatasync the arena answers
// every Put with an error, including the ones whose own sync would have
// worked: the kernel may have dropped the failed data and cleared the error.
func TestArenaFailedSyncIsSticky(t *testing.T) {
	a := openTestArena(t, filepath.Join(t.TempDir(), "arena"), ArenaOptions{ChunkSize: 1 << 20})
	if _, err := a.Put(context.Background(), bytes.NewReader(randBytes(t, 5000)), 5000); err != nil {
		t.Fatal(err)
	}
	_, free := a.Size()
	var faults atomic.Int32
	a.syncFault = func() error {
		if faults.Add(1) == 1 {
			return errors.New("EIO")
		}
		return nil
	}
	for i := range 3 {
		_, err := a.Put(context.Background(), bytes.NewReader(randBytes(t, 9000)), 9000)
		if !errors.Is(err, ErrArenaFailed) {
			t.Fatalf("Put %d after a failed sync: %v, want ErrArenaFailed", i, err)
		}
		if _, f := a.Size(); f != free {
			t.Fatalf("Put %d: free %d after a refused Put, want %d", i, f, free)
		}
	}
	if n := faults.Load(); n != 1 {
		t.Fatalf("%d syncs attempted after the failure, want none", n-1)
	}
}

// TestArenaRoundJoinsWrites: a sync round writes the last pieces of
// neighbouring extents in one write, each other run in one more, and a
// joined write the file refuses (a buffer O_DIRECT cannot take) is done
// again piece by piece through the page cache.
func TestArenaRoundJoinsWrites(t *testing.T) {
	a := openTestArena(t, filepath.Join(t.TempDir(), "arena"), ArenaOptions{ChunkSize: 1 << 20})
	var exts []Extent
	for range 5 {
		e, err := a.reserve(2 * ArenaUnit)
		if err != nil {
			t.Fatal(err)
		}
		exts = append(exts, e)
	}
	round := func(misaligned bool, pick ...int) {
		t.Helper()
		var batch []syncWaiter
		var want [][]byte
		for _, i := range pick {
			p := alignedBuf(int(exts[i].Len) + 1)
			if misaligned {
				p = p[1:]
			} else {
				p = p[:exts[i].Len]
			}
			copy(p, randBytes(t, len(p)))
			f, off := a.at(exts[i].Off)
			batch = append(batch, syncWaiter{f: f, p: p, off: off, goff: exts[i].Off})
			want = append(want, slices.Clone(p))
		}
		before := a.writes.Load()
		for i, err := range a.writeRound(batch, nil) {
			if err != nil {
				t.Fatalf("piece %d: %v", i, err)
			}
		}
		if got := a.writes.Load() - before; !misaligned && got != 2 {
			t.Fatalf("%d writes for extents %v, want 2 (two runs of neighbours)", got, pick)
		}
		for j, i := range pick {
			if got := readExtent(t, a, exts[i], len(want[j])); !bytes.Equal(got, want[j]) {
				t.Fatalf("extent %d holds other data", i)
			}
		}
	}
	round(false, 4, 1, 0, 3) // out of order: runs 0-1 and 3-4
	round(true, 0, 1, 2)     // refused by O_DIRECT, written through the page cache
}

// TestArenaNewChunkIsAllocatedZeros: a new chunk has its whole size, its
// blocks allocated, and reads as zeros outside what was put, whether its
// space came from fallocate or from zeros written where that is missing.
func TestArenaNewChunkIsAllocatedZeros(t *testing.T) {
	for _, falloc := range []bool{true, false} {
		useFallocate = falloc
		dir := filepath.Join(t.TempDir(), "arena")
		a := openTestArena(t, dir, ArenaOptions{ChunkSize: 1 << 20})
		data := randBytes(t, 10_000)
		e, err := a.Put(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, chunkName(int(e.Off/(1<<20))))
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 1<<20 {
			t.Fatalf("fallocate %v: chunk of %d bytes, want %d", falloc, len(b), 1<<20)
		}
		off := e.Off % (1 << 20)
		if !bytes.Equal(b[off:off+int64(len(data))], data) {
			t.Fatalf("fallocate %v: the chunk holds other data", falloc)
		}
		rest := append(slices.Clone(b[:off]), b[off+int64(len(data)):]...)
		if !bytes.Equal(rest, make([]byte, len(rest))) {
			t.Fatalf("fallocate %v: the chunk's free space does not read as zeros", falloc)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(name, &st); err != nil {
			t.Fatal(err)
		}
		if st.Blocks*512 < 1<<20 {
			t.Fatalf("fallocate %v: %d bytes allocated, want the whole chunk", falloc, st.Blocks*512)
		}
	}
	useFallocate = true
}
