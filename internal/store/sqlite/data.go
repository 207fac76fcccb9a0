package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/store"
)

// Where a send's data lives is this engine's choice (placeData):
//
//   - data of at most store.TextMax bytes is kept in the database: in the
//     message's own row (data) for a text to one number, otherwise in a
//     blobs row the messages share;
//   - larger data up to Options.ArenaMax goes into the blob arena, its
//     extent in the message's own row (arena_off) when it goes to one
//     number, otherwise in a blobs row;
//   - larger data, or data the arena has no room for, is a file of its own
//     under blobs/, named by the data's uri, with a blobs row.
//
// A send writes its data (and waits for it to be durable) before it
// commits the rows that point at it, so a crash leaves either committed
// rows pointing at durable data or no rows (and the data an orphan). Only
// a text of at most store.TextMax bytes is shared by later sends (by its
// SHA-256), and it lives in the database, whose writer serializes every
// send's reuse of its blobs row with expiry's delete of it. Data outside
// the database has a random name and belongs to the rows of its one send:
//
//   - when that send fails, or turns out to be a retry, settle frees it at
//     once, unless its commit took effect after all;
//   - when its rows are deleted (Expire), Expire frees it after the delete
//     has committed, holding dataMu exclusively: OpenData holds dataMu
//     shared from reading the rows to opening the data, and the arena
//     reuses an extent freed while open only once its readers close;
//   - a file no blobs row names (a send that crashed, or one whose cleanup
//     failed) is an orphan: Expire deletes those older than
//     Options.OrphanGrace, and Open all of them (no send runs then).
//
// The arena keeps no index of its own: at Open it is rebuilt from the rows
// (arenaRows), so the extent of a send that never committed is free again.

// placed is where placeData put a send's data.
type placed struct {
	uri     string
	length  int64
	inline  []byte      // kept in the database; nil otherwise
	inArena bool        // in the arena, at ext
	ext     blob.Extent // the arena's extent
	file    bool        // a file of its own, named uri
	preview string      // a text past TextMax: what its first bytes show
}

// arenaOff is the row value of where p is in the arena; nil when it is not.
func (p *placed) arenaOff() any {
	if !p.inArena {
		return nil
	}
	return p.ext.Off
}

// inRow reports whether a send of p to callees keeps the data (or its
// extent) in its one message's row rather than in a blobs row.
func (p *placed) inRow(m *store.NewMessages) bool {
	return len(m.Callees) == 1 && (p.inArena || (m.Fname == "" && p.inline != nil))
}

// placeData reads m's data and stores it where it belongs (above). Errors
// from m.Data are returned wrapped.
func (db *DB) placeData(ctx context.Context, m *store.NewMessages) (placed, error) {
	p := placed{length: m.Length}
	if m.Length <= store.TextMax {
		p.inline = make([]byte, m.Length)
		if _, err := io.ReadFull(m.Data, p.inline); err != nil {
			return p, fmt.Errorf("reading data: %w", err)
		}
		if m.Fname == "" {
			sum := sha256.Sum256(p.inline)
			p.uri = hex.EncodeToString(sum[:])
		} else {
			p.uri = uniqueName()
		}
		return p, nil
	}
	p.uri = uniqueName()
	data := m.Data
	var head *store.PreviewReader
	if m.Fname == "" {
		head = &store.PreviewReader{R: data} // the push's preview
		data = head
	}
	err := db.placeLarge(ctx, &p, data)
	if head != nil {
		p.preview = head.Preview()
	}
	return p, err
}

// placeLarge stores data past TextMax: into the arena when it takes it,
// else into a file of its own.
func (db *DB) placeLarge(ctx context.Context, p *placed, data io.Reader) error {
	if p.length <= db.opts.ArenaMax {
		ext, err := db.arena.Put(ctx, data, p.length)
		if err == nil {
			p.inArena, p.ext = true, ext
			return nil
		}
		if !errors.Is(err, blob.ErrNoSpace) {
			return fmt.Errorf("storing data: %w", err)
		}
		// The arena has no room and cannot grow: nothing of data was
		// read, and it becomes a file of its own.
	}
	if room := db.opts.FileRoom; room != nil {
		if err := room(p.length); err != nil {
			return err
		}
	}
	if err := db.blobs.PutNamed(ctx, p.uri, data, p.length); err != nil {
		return fmt.Errorf("storing data: %w", err)
	}
	p.file = true
	return nil
}

// settle frees the data of a send whose rows do not refer to it: the send
// failed (unless its commit took effect after all), or was a retry. If
// that cannot be known, the data stays until the orphan sweep (a file) or
// the next Open (an extent).
func (db *DB) settle(p placed, m *store.NewMessages, res store.SendResult, err error) {
	if err == nil && !res.Replayed || !(p.inArena || p.file) {
		return
	}
	if err != nil {
		used, uerr := db.dataInUse(p, m.Now)
		if uerr != nil || used {
			return
		}
	}
	if p.inArena {
		db.arena.Release(p.ext)
		return
	}
	db.blobs.Delete(context.Background(), p.uri)
}

// dataInUse reports whether a committed row holds p: its blobs row, or a
// message stored at sent that holds its own extent.
func (db *DB) dataInUse(p placed, sent time.Time) (bool, error) {
	// By time: a message holding its extent is in no uri index, and
	// messages_time narrows it to the second it was stored in.
	var used bool
	err := db.rqueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = ?)
		OR EXISTS (SELECT 1 FROM messages WHERE time = ? AND uri = ? AND arena_off IS NOT NULL)`,
		p.uri, sent.Unix(), p.uri).Scan(&used)
	return used, mapErr(err)
}

// uniqueName returns 64 random hex digits: the uri of data other than a
// short text, the same shape as a SHA-256, and never another data's name.
func uniqueName() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// OpenData reads the message's row again, holding dataMu shared until its
// data is open: if the message is gone (it expired, and Expire may have
// freed its data) so is the data, and a message that took its id since
// has another uri. The row says where the data is, so this engine gives
// messages no DataRef.
func (db *DB) OpenData(ctx context.Context, m store.Message, offset, n int64) (io.ReadCloser, error) {
	if offset < 0 || n < 0 || offset+n > m.Length {
		return nil, fmt.Errorf("reading %d bytes at %d of %d", n, offset, m.Length)
	}
	db.dataMu.RLock()
	defer db.dataMu.RUnlock()
	var uri string
	var length int64
	var inline []byte
	var off, blobOff sql.NullInt64
	var shared bool
	err := db.rqueryRow(ctx, `SELECT m.uri, m.length, coalesce(m.data, b.inline), m.arena_off, b.arena_off, b.hash IS NOT NULL
		FROM messages m LEFT JOIN blobs b ON m.data IS NULL AND m.arena_off IS NULL AND b.hash = m.uri WHERE m.id = ?`, m.ID).
		Scan(&uri, &length, &inline, &off, &blobOff, &shared)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && (uri != m.URI || length != m.Length)):
		return nil, store.ErrBadMsgID
	case err != nil:
		return nil, mapErr(err)
	case inline != nil:
		return io.NopCloser(bytes.NewReader(inline[offset : offset+n])), nil
	case off.Valid || blobOff.Valid:
		at := off
		if !at.Valid {
			at = blobOff
		}
		if h := hooksOf(db); h != nil && h.openData != nil {
			h.openData()
		}
		return db.arena.Open(blob.ExtentOf(at.Int64, length), offset, n)
	case !shared:
		return nil, store.ErrBadMsgID // a missed-call notice has no data
	}
	rc, err := db.blobs.Open(ctx, uri, offset)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, store.ErrBadMsgID
	}
	if err != nil {
		return nil, err
	}
	return readCloser{io.LimitReader(rc, n), rc}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Expire deletes what is older than before, then frees the data that the
// deleted rows alone referred to, and sweeps orphan files.
func (db *DB) Expire(ctx context.Context, before time.Time) error {
	// On an error, gone still holds what the committed part deleted.
	gone, err := db.expireMessages(ctx, before)
	if ferr := db.freeData(ctx, gone); err == nil {
		err = ferr
	}
	// Orphans are rare (a crash, a failed cleanup), and looking for them
	// lists every file: at most a few times a grace.
	now := time.Now()
	if last := db.lastSweep.Load(); now.UnixNano()-last >= int64(db.opts.OrphanGrace/4) && db.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		if serr := db.sweepOrphans(ctx, now.Add(-db.opts.OrphanGrace)); err == nil {
			err = serr
		}
	}
	return err
}

// freeData frees the extents deleted messages held themselves, and drops
// the blobs rows among gone.uris that no message refers to any more,
// freeing their data. The deletes of the messages have committed.
func (db *DB) freeData(ctx context.Context, gone expired) error {
	if len(gone.uris) == 0 && len(gone.arena) == 0 {
		return nil
	}
	db.dataMu.Lock()
	defer db.dataMu.Unlock()
	for _, e := range gone.arena {
		db.arena.Release(e)
	}
	// On an error, external still holds what the committed part dropped.
	external, err := db.dropBlobs(ctx, gone.uris)
	for _, d := range external {
		if d.inArena {
			db.arena.Release(d.ext)
			continue
		}
		if derr := db.blobs.Delete(ctx, d.uri); derr != nil && err == nil {
			err = derr
		}
	}
	return err
}

// sweepOrphans deletes the files written before t that no blobs row names.
func (db *DB) sweepOrphans(ctx context.Context, t time.Time) error {
	var orphans []string
	err := db.blobs.ListOlder(ctx, t, func(name string) error {
		var one int
		err := db.rqueryRow(ctx, `SELECT 1 FROM blobs WHERE hash = ?`, name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			orphans = append(orphans, name)
			return nil
		}
		return mapErr(err)
	})
	if err != nil {
		return err
	}
	for _, name := range orphans {
		if err := db.blobs.Delete(ctx, name); err != nil {
			return err
		}
	}
	return nil
}
