package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringd/ringd/internal/fsync"
)

// disk measures what the filesystem under -dir can make durable, with no
// server in the way: C writers each write records of -size bytes and wait
// until a write is durable, in one of three patterns.
//
//	append     one file that grows; one fdatasync per round, shared by every
//	           writer waiting (the pattern of a log, or of SQLite's WAL before
//	           it wraps)
//	overwrite  the same, into a file whose blocks were written (with zeros)
//	           beforehand: fdatasync then has no size or extent to journal
//	files      a file per record: create, write, fsync, rename into place,
//	           fsync the directory (ringd's data files, by one route or another)
//
// It is the bound under ringd's file sends: a durable send of S bytes can
// go no faster than the pattern ringd's storage uses allows.
type diskConfig struct {
	dir   string
	mode  string
	size  int
	conns int
	dur   time.Duration
	span  int64
}

func diskMain(ctx context.Context, args []string, out io.Writer) error {
	c := diskConfig{}
	fs := flag.NewFlagSet("ringbench disk", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.dir, "dir", os.TempDir(), "directory on the filesystem to measure (a scratch subdirectory is made and removed)")
	fs.StringVar(&c.mode, "mode", "append", "append, overwrite or files")
	fs.IntVar(&c.size, "size", 64<<10, "bytes per record")
	fs.IntVar(&c.conns, "c", 64, "concurrent writers")
	fs.DurationVar(&c.dur, "d", 5*time.Second, "duration")
	fs.Int64Var(&c.span, "span", 256<<20, "overwrite: bytes written with zeros beforehand, then written over and over")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.size < 1 || c.conns < 1 || c.dur <= 0 || c.span < int64(c.size) {
		return errors.New("-size, -c and -d must be positive, -span at least -size")
	}
	dir, err := os.MkdirTemp(c.dir, "ringbench-disk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var n, syncs int64
	switch c.mode {
	case "append", "overwrite":
		n, syncs, err = diskLog(ctx, c, dir)
	case "files":
		n, err = diskFiles(ctx, c, dir)
		syncs = 2 * n
	default:
		return fmt.Errorf("unknown -mode %q", c.mode)
	}
	if err != nil {
		return err
	}
	secs := c.dur.Seconds()
	fmt.Fprintf(out, "disk %s size=%d c=%d: %.0f records/s, %.0f MB/s, %d syncs (%.1f records per sync)\n",
		c.mode, c.size, c.conns, float64(n)/secs, float64(n)*float64(c.size)/secs/1e6, syncs, float64(n)/max(1, float64(syncs)))
	return nil
}

// diskLog writes records at increasing offsets of one file; a syncer runs
// one fdatasync per round for every writer that finished writing.
func diskLog(ctx context.Context, c diskConfig, dir string) (records, syncs int64, err error) {
	f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	size := int64(c.size)
	// overwrite: -span bytes written once with zeros, then written over.
	span := int64(0)
	if c.mode == "overwrite" {
		span = c.span / size * size
		zero := make([]byte, 1<<20)
		for off := int64(0); off < span; off += int64(len(zero)) {
			if _, err := f.WriteAt(zero[:min(int64(len(zero)), span-off)], off); err != nil {
				return 0, 0, err
			}
		}
		if err := f.Sync(); err != nil {
			return 0, 0, err
		}
	}

	var (
		mu      sync.Mutex // guards the following
		cond    = sync.NewCond(&mu)
		written int64 // rounds of writes begun
		synced  int64 // rounds made durable
		failed  error
		stop    bool
	)
	go func() {
		for {
			mu.Lock()
			for written == synced && !stop {
				cond.Wait()
			}
			if stop {
				mu.Unlock()
				return
			}
			w := written
			mu.Unlock()
			err := fsync.Datasync(f)
			mu.Lock()
			syncs++
			synced = w
			if err != nil {
				failed = err
			}
			cond.Broadcast()
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		stop = true
		cond.Broadcast()
		mu.Unlock()
	}()

	var next, n atomic.Int64
	deadline := time.Now().Add(c.dur)
	var wg sync.WaitGroup
	var werr atomic.Pointer[error]
	for range c.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, c.size)
			for i := range buf {
				buf[i] = byte(i)
			}
			for ctx.Err() == nil && time.Now().Before(deadline) {
				off := next.Add(size) - size
				if span > 0 {
					off %= span
				}
				if _, err := f.WriteAt(buf, off); err != nil {
					werr.Store(&err)
					return
				}
				mu.Lock()
				written++
				mine := written
				cond.Broadcast()
				for synced < mine && failed == nil {
					cond.Wait()
				}
				err := failed
				mu.Unlock()
				if err != nil {
					werr.Store(&err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e := werr.Load(); e != nil {
		return 0, 0, *e
	}
	mu.Lock()
	defer mu.Unlock()
	return n.Load(), syncs, ctx.Err()
}

// diskFiles writes each record as a file of its own, the classic durable
// way: temp file, fsync, rename, fsync of the directory.
func diskFiles(ctx context.Context, c diskConfig, dir string) (int64, error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	var n, seq atomic.Int64
	var werr atomic.Pointer[error]
	deadline := time.Now().Add(c.dur)
	var wg sync.WaitGroup
	for range c.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, c.size)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				name := filepath.Join(dir, strconv.FormatInt(seq.Add(1), 10))
				err := writeFileDurably(name, buf, d)
				if err != nil {
					werr.Store(&err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e := werr.Load(); e != nil {
		return 0, *e
	}
	return n.Load(), ctx.Err()
}

func writeFileDurably(name string, data []byte, dir *os.File) error {
	f, err := os.OpenFile(name+".tmp", os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name+".tmp", name)
	}
	if err == nil {
		err = dir.Sync()
	}
	return err
}
