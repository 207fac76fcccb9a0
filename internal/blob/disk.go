package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

var _ Store = (*Disk)(nil)

// Disk stores each data in a file named by its SHA-256 under dir, fanned out
// by the hash's first two hex digits. A file is written unnamed (O_TMPFILE,
// where the system has it) or under a temporary name, fsynced, linked or
// renamed into place, and its directory fsynced: a crash leaves either the
// whole file or none, never a torn one under its final name.
type Disk struct {
	dir string
	// tmpfile says that unnamed temporary files work here (probed once by
	// NewDisk); without them Put falls back to named ones in dir/tmp.
	tmpfile bool

	mu      sync.Mutex // guards the following
	madeDir map[string]bool
}

// copyBufs holds Put's copy buffers: a 32 KiB buffer allocated per Put was
// the largest allocation of a file send. A buffer is only used inside Put.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// NewDisk opens (making if missing) a blob directory.
func NewDisk(dir string) (*Disk, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	// Temporary files left by a crash are garbage: their sends were never
	// acknowledged.
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	d := &Disk{dir: dir, madeDir: map[string]bool{}}
	d.tmpfile = d.probeTmpfile()
	return d, nil
}

// probeTmpfile reports whether an unnamed file can be made and linked
// here: the filesystem may lack O_TMPFILE, or /proc may not be mounted, and
// Put cannot change its mind after it has consumed its reader.
func (d *Disk) probeTmpfile() bool {
	tmp := filepath.Join(d.dir, "tmp")
	f, err := openTmpfile(tmp)
	if err != nil {
		return false
	}
	defer f.Close()
	name := filepath.Join(tmp, "probe")
	os.Remove(name)
	if err := linkTmpfile(f, name); err != nil {
		return false
	}
	return os.Remove(name) == nil
}

// create opens the file Put writes; name is "" for an unnamed one.
func (d *Disk) create() (f *os.File, name string, err error) {
	tmp := filepath.Join(d.dir, "tmp")
	if d.tmpfile {
		f, err := openTmpfile(tmp)
		return f, "", err
	}
	f, err = os.CreateTemp(tmp, "put-*")
	if err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

func (d *Disk) path(hash string) string {
	return filepath.Join(d.dir, hash[:2], hash)
}

func (d *Disk) Put(ctx context.Context, r io.Reader, n int64) (string, error) {
	h := sha256.New()
	var hash string
	err := d.put(io.TeeReader(r, h), n, func() string {
		hash = hex.EncodeToString(h.Sum(nil))
		return hash
	})
	return hash, err
}

// PutNamed is Put of data named by the caller rather than by its SHA-256:
// name must look like one (64 hex digits), and must be the name of these
// bytes alone, as the data under a name already stored is kept.
func (d *Disk) PutNamed(ctx context.Context, name string, r io.Reader, n int64) error {
	if !validHash(name) {
		return fmt.Errorf("blob: bad name %q", name)
	}
	return d.put(r, n, func() string { return name })
}

// put writes exactly n bytes from r durably under the name that name
// returns once they are all read.
func (d *Disk) put(r io.Reader, n int64, name func() string) error {
	f, tmp, err := d.create()
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			if tmp != "" {
				os.Remove(tmp)
			}
		}
	}()
	bp := copyBufs.Get().(*[]byte)
	// Copy exactly what the reader yields: the caller's reader enforces the
	// declared length and fails on short or long data.
	written, err := io.CopyBuffer(f, r, *bp)
	copyBufs.Put(bp)
	if err != nil {
		return err
	}
	if written != n {
		return fmt.Errorf("blob: got %d bytes, want %d", written, n)
	}
	final := d.path(name())
	sub := filepath.Dir(final)
	if _, err := os.Stat(final); err == nil {
		// Stored already: the same bytes, by their name. The put that
		// named it may not have synced its directory yet, so sync it
		// before this one's caller may answer.
		return syncDir(sub)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := d.mkdir(sub); err != nil {
		return err
	}
	if tmp == "" {
		err := linkTmpfile(f, final)
		if errors.Is(err, os.ErrExist) {
			// A concurrent put of the same bytes named it first.
			return syncDir(sub)
		}
		if err != nil {
			return err
		}
		keep = true
		if err := f.Close(); err != nil {
			return err
		}
	} else {
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
		keep = true
	}
	return syncDir(sub)
}

func (d *Disk) mkdir(sub string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.madeDir[sub] {
		return nil
	}
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return err
	}
	if err := syncDir(d.dir); err != nil {
		return err
	}
	d.madeDir[sub] = true
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func (d *Disk) Open(ctx context.Context, hash string, offset int64) (io.ReadCloser, error) {
	if !validHash(hash) {
		return nil, ErrNotFound
	}
	f, err := os.Open(d.path(hash))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func (d *Disk) Delete(ctx context.Context, hash string) error {
	if !validHash(hash) {
		return nil
	}
	err := os.Remove(d.path(hash))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

var _ Lister = (*Disk)(nil)

// List calls fn with the hash of every stored data.
func (d *Disk) List(ctx context.Context, fn func(hash string) error) error {
	return d.ListOlder(ctx, time.Time{}, fn)
}

// ListOlder calls fn with the name of every stored data last written
// before t; all of them when t is zero.
func (d *Disk) ListOlder(ctx context.Context, t time.Time, fn func(hash string) error) error {
	subs, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(d.dir, sub.Name()))
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			if validHash(e.Name()) && (t.IsZero() || writtenBefore(e, t)) {
				if err := fn(e.Name()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// writtenBefore reports whether the file of e was last written before t;
// one gone meanwhile was not.
func writtenBefore(e os.DirEntry, t time.Time) bool {
	info, err := e.Info()
	return err == nil && info.ModTime().Before(t)
}
