package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// modes opens a Disk in each way Put can write: unnamed files where the
// system has them, and named temporary files.
func modes(t *testing.T) map[string]*Disk {
	t.Helper()
	out := map[string]*Disk{}
	for _, name := range []string{"tmpfile", "named"} {
		d, err := NewDisk(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		if name == "tmpfile" && !d.tmpfile {
			t.Logf("unnamed temporary files unsupported here")
			continue
		}
		d.tmpfile = name == "tmpfile"
		out[name] = d
	}
	return out
}

func listAll(t *testing.T, d *Disk) []string {
	t.Helper()
	var got []string
	if err := d.List(context.Background(), func(h string) error { got = append(got, h); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func tmpEmpty(t *testing.T, d *Disk) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(d.dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("tmp holds %d entries after Puts, want none", len(ents))
	}
}

// TestConcurrentPuts: many Puts at once, some of the same bytes, are all
// stored under their hash, read back whole, and leave no temporary file.
func TestConcurrentPuts(t *testing.T) {
	for name, d := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const distinct, dup = 24, 8
			datas := make([][]byte, distinct)
			for i := range datas {
				datas[i] = make([]byte, 1000+i*4099)
				rand.Read(datas[i])
			}
			var wg sync.WaitGroup
			errs := make(chan error, distinct*2+dup)
			put := func(b []byte) {
				defer wg.Done()
				h, err := d.Put(ctx, bytes.NewReader(b), int64(len(b)))
				if err != nil {
					errs <- err
					return
				}
				if sum := sha256.Sum256(b); h != hex.EncodeToString(sum[:]) {
					errs <- errors.New("wrong hash " + h)
				}
			}
			for _, b := range datas {
				wg.Add(2)
				go put(b)
				go put(b) // the same bytes at once: stored once, both succeed
			}
			for range dup {
				wg.Add(1)
				go put(datas[0])
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := listAll(t, d); len(got) != distinct {
				t.Errorf("List: %d hashes, want %d", len(got), distinct)
			}
			for _, b := range datas {
				sum := sha256.Sum256(b)
				rc, err := d.Open(ctx, hex.EncodeToString(sum[:]), 0)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, b) {
					t.Errorf("read back %d bytes (err %v), want the %d put", len(got), err, len(b))
				}
			}
			tmpEmpty(t, d)
		})
	}
}

type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection lost")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestFailedPutLeavesNothing: a reader that fails, or yields other than the
// declared length, leaves no file, named or temporary.
func TestFailedPutLeavesNothing(t *testing.T) {
	for name, d := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b := make([]byte, 200_000)
			rand.Read(b)
			if _, err := d.Put(ctx, &failAfter{r: bytes.NewReader(b), n: 100_000}, int64(len(b))); err == nil {
				t.Error("Put of a failing reader succeeded")
			}
			if _, err := d.Put(ctx, bytes.NewReader(b[:10]), int64(len(b))); err == nil {
				t.Error("Put of short data succeeded")
			}
			if got := listAll(t, d); len(got) != 0 {
				t.Errorf("List after failed Puts: %v", got)
			}
			tmpEmpty(t, d)
			// The same bytes whole are stored afterwards.
			if _, err := d.Put(ctx, bytes.NewReader(b), int64(len(b))); err != nil {
				t.Fatal(err)
			}
			if got := listAll(t, d); len(got) != 1 {
				t.Errorf("List: %d hashes, want 1", len(got))
			}
		})
	}
}
