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
)

var _ Store = (*Disk)(nil)

// Disk stores each data in a file named by its SHA-256 under dir, fanned out
// by the hash's first two hex digits. A file is written to a temporary name,
// fsynced, renamed into place, and its directory fsynced: a crash leaves
// either the whole file or none, never a torn one under its final name.
type Disk struct {
	dir string

	mu      sync.Mutex // guards the following
	madeDir map[string]bool
}

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
	return &Disk{dir: dir, madeDir: map[string]bool{}}, nil
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
	f, err := os.CreateTemp(filepath.Join(d.dir, "tmp"), "put-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	// Copy exactly what the reader yields: the caller's reader enforces the
	// declared length and fails on short or long data.
	written, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return "", err
	}
	if written != n {
		return "", fmt.Errorf("blob: got %d bytes, want %d", written, n)
	}
	hash := hex.EncodeToString(h.Sum(nil))
	final := d.path(hash)
	if _, err := os.Stat(final); err == nil {
		// Stored already: the same bytes, by their hash.
		return hash, nil
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	sub := filepath.Dir(final)
	if err := d.mkdir(sub); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	keep = true
	if err := syncDir(sub); err != nil {
		return "", err
	}
	return hash, nil
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
			if validHash(e.Name()) {
				if err := fn(e.Name()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
