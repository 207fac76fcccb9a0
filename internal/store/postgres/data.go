package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/store"
)

// Where a send's data lives is this engine's choice (placeData):
//
//   - data of at most store.TextMax bytes sent to one number is kept in
//     its message's row (messages.inline);
//   - other data is one row of the data table, which the messages of its
//     send name (messages.data): its bytes in the row (data.inline, bytea)
//     up to Options.ObjectThreshold, or when there is no object store, or
//     when it is a text get answers with its message (store.TextMax);
//     otherwise in the object store, under the row's name.
//
// A data row is named by a random name of its own send and only that
// send's messages name it: no later send ever reuses a data row, even for
// the same bytes (a text's uri is its SHA-256, but that is the protocol's
// name, not the row's). So a data row with no message naming it is dead
// for good, and expiry deletes it in the transaction that deletes its last
// message (expireBatch): no send can be reusing it meanwhile.
//
// An object is written whole before the transaction naming it begins, so
// a committed row always names a whole object. An object no data row
// names is an orphan: a send that failed or crashed between its put and
// its commit, or an expiry that crashed between its commit and the
// object's delete. A failed send deletes its object at once when it can
// tell its commit did not happen (settle); every other orphan is found by
// the sweep (sweepObjects), which lists the bucket and deletes objects
// older than Options.OrphanGrace that no row names: a younger object may
// be a send's whose commit is still to come.

// ObjectStore is what the engine needs of an object store: *s3.Store.
type ObjectStore interface {
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	Open(ctx context.Context, name string, offset, n int64) (io.ReadCloser, error)
	Delete(ctx context.Context, name string) error
	ListOlder(ctx context.Context, before time.Time) iter.Seq2[s3.Object, error]
}

// Defaults of Options.
const (
	DefaultObjectThreshold = 256 << 10
	DefaultOrphanGrace     = time.Hour
	// sweepEvery spaces the object sweeps: each lists the whole bucket.
	sweepEvery = time.Hour
)

// placed is where placeData put a send's data.
type placed struct {
	uri    string
	name   string // the data row's name; "" when the message rows hold it
	length int64
	bytes  []byte // the data, unless it went to the object store
	object bool   // in the object store, under name
	// preview is what a push shows of a text too long to hold in bytes.
	preview string
}

// inRow reports whether the messages' rows hold the data themselves.
func (p *placed) inRow() bool { return p.name == "" }

// text is the text a get answers with the message: the data of a text
// (no fname) of at most store.TextMax bytes.
func (p *placed) text(m *store.NewMessages) *string {
	if m.Fname != "" || m.Length > store.TextMax {
		return nil
	}
	t := string(p.bytes)
	return &t
}

// placeData reads m's data and names it (docs/API.md, uri): a text of at
// most store.TextMax bytes by its SHA-256, any other data by a random
// name. Data the database will not hold goes to the object store now,
// before any row names it. Errors reading m.Data are returned wrapped.
func (db *DB) placeData(ctx context.Context, m *store.NewMessages, callees int) (placed, error) {
	p := placed{length: m.Length}
	if m.Length < 0 {
		return p, fmt.Errorf("negative data length %d", m.Length)
	}
	hashed := m.Length <= store.TextMax && m.Fname == ""
	if hashed {
		if err := db.readAll(m, &p); err != nil {
			return p, err
		}
		sum := sha256.Sum256(p.bytes)
		p.uri = hex.EncodeToString(sum[:])
	} else {
		p.uri = uniqueName()
	}
	if m.Length <= store.TextMax && callees == 1 {
		return p, db.readAll(m, &p)
	}
	// A random uri names the row too; a hashed one is not the row's name,
	// which is never shared with another send.
	p.name = p.uri
	if hashed {
		p.name = uniqueName()
	}
	// A text get answers with its message stays in the database.
	if db.objects == nil || m.Length <= db.threshold || hashed {
		return p, db.readAll(m, &p)
	}
	var head *store.PreviewReader
	data := m.Data
	if m.Fname == "" {
		head = &store.PreviewReader{R: data}
		data = head
	}
	if err := db.objects.Put(ctx, p.name, data, m.Length); err != nil {
		return p, fmt.Errorf("storing data: %w", err)
	}
	p.object = true
	if head != nil {
		p.preview = head.Preview()
	}
	return p, nil
}

// readAll reads m's data into p.bytes, unless placeData has read it.
func (db *DB) readAll(m *store.NewMessages, p *placed) error {
	if p.bytes != nil {
		return nil
	}
	p.bytes = make([]byte, m.Length)
	if _, err := io.ReadFull(m.Data, p.bytes); err != nil {
		return fmt.Errorf("reading data: %w", err)
	}
	return nil
}

// settle deletes the object of a send whose rows do not name it: the send
// was a retry, or failed and its commit did not take effect. If that
// cannot be told, the object stays for the sweep.
func (db *DB) settle(p placed, res store.SendResult, err error) {
	if !p.object || (err == nil && !res.Replayed) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err != nil {
		var named bool
		qerr := db.pool.QueryRow(ctx, `SELECT EXISTS(SELECT 1 FROM data WHERE name = $1)`, p.name).Scan(&named)
		if qerr != nil || named {
			return
		}
	}
	db.objects.Delete(ctx, p.name)
}

// uniqueName returns 64 random hex digits: the uri of data other than a
// short text, the same shape as a SHA-256, and never another data's name.
func uniqueName() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// OpenData reads the message's row again: if the message is gone (it
// expired, and its data may be freed) so is the data, and the row says
// where the data is now. Data in PostgreSQL is read as the range asked
// for (substring), not whole.
func (db *DB) OpenData(ctx context.Context, m store.Message, offset, n int64) (io.ReadCloser, error) {
	if offset < 0 || n < 0 || offset+n > m.Length {
		return nil, fmt.Errorf("reading %d bytes at %d of %d", n, offset, m.Length)
	}
	var uri string
	var length int64
	var name *string
	var inDB bool
	var held []byte
	err := db.pool.QueryRow(ctx, `SELECT m.uri, m.length, m.data,
			m.inline IS NOT NULL OR d.inline IS NOT NULL, substring(coalesce(m.inline, d.inline) from $2 for $3)
		FROM messages m LEFT JOIN data d ON d.name = m.data WHERE m.id = $1`, m.ID, offset+1, n).
		Scan(&uri, &length, &name, &inDB, &held)
	switch {
	case notFound(err) || (err == nil && (uri != m.URI || length != m.Length)):
		return nil, store.ErrBadMsgID
	case err != nil:
		return nil, mapErr(err)
	case inDB:
		return io.NopCloser(bytes.NewReader(held)), nil
	case name == nil || db.objects == nil:
		return nil, store.ErrBadMsgID // a missed-call notice has no data
	}
	rc, err := db.objects.Open(ctx, *name, offset, n)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, store.ErrBadMsgID
	}
	return rc, err
}

// sweepObjects deletes the objects written before before that no data
// row names and that are not doomed (doomed_objects) for less than
// orphanGrace, and returns how many it deleted. An object's age is when
// it was written, not when expiry freed it: only doomed_objects tells the
// sweep that a reader may still hold an old object.
func (db *DB) sweepObjects(ctx context.Context, before time.Time) (int, error) {
	const chunk = 500
	var names []string
	deleted := 0
	flush := func() error {
		rows, err := db.pool.Query(ctx, `SELECT n FROM unnest($1::text[]) n
			WHERE NOT EXISTS (SELECT 1 FROM data WHERE name = n)
				AND NOT EXISTS (SELECT 1 FROM doomed_objects WHERE name = n AND since > `+nowMillis+` - $2)`,
			names, db.orphanGrace.Milliseconds())
		if err != nil {
			return mapErr(err)
		}
		var orphan string
		var orphans []string
		if err := forEach(rows, []any{&orphan}, func() { orphans = append(orphans, orphan) }); err != nil {
			return mapErr(err)
		}
		for _, o := range orphans {
			if err := db.deleteObject(ctx, o); err != nil {
				return err
			}
			deleted++
		}
		names = names[:0]
		return nil
	}
	for obj, err := range db.objects.ListOlder(ctx, before) {
		if err != nil {
			return deleted, err
		}
		if names = append(names, obj.Name); len(names) == chunk {
			if err := flush(); err != nil {
				return deleted, err
			}
		}
	}
	if len(names) == 0 {
		return deleted, nil
	}
	return deleted, flush()
}

// messagePreview is the push body of a new message.
func messagePreview(m *store.NewMessages, p *placed) string {
	switch {
	case m.Fname != "":
		return m.Fname
	case p.preview != "":
		return p.preview
	}
	return store.Preview(strings.ToValidUTF8(string(p.bytes[:min(len(p.bytes), store.PreviewMax)]), ""))
}
