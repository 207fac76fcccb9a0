// Package blob keeps the data of messages that is too large to keep in the
// database, for the SQLite engine (internal/store/sqlite): written
// durably, read by range. Arena holds data up to a chunk's size in
// preallocated files; Disk keeps a file per data, named by its SHA-256
// (Put) or by a name the caller gives (PutNamed).
package blob

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned for a hash that is not stored.
var ErrNotFound = errors.New("blob not found")

// ErrNoSpace is the error of a Put that found no room for its data on the
// filesystem (or in the arena, which cannot grow without leaving too
// little of it).
var ErrNoSpace = errors.New("no space left for data")

// Store keeps data by its SHA-256.
type Store interface {
	// Put streams exactly n bytes from r into the store, hashing on the way,
	// and returns the hex SHA-256. It returns only once the data is durable.
	// If r fails, nothing is kept. Data already stored is kept once.
	Put(ctx context.Context, r io.Reader, n int64) (hash string, err error)
	// Open returns the data of hash from offset on.
	Open(ctx context.Context, hash string, offset int64) (io.ReadCloser, error)
	// Delete removes the data of hash; deleting what is missing is no error.
	Delete(ctx context.Context, hash string) error
}

// Lister is a Store that can list what it holds, so that data left behind by
// a crash (stored, but its message never committed) can be found.
type Lister interface {
	List(ctx context.Context, fn func(hash string) error) error
}
