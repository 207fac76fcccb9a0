package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// Data up to cfg.ArenaMax lives in the blob arena: a send writes
// it into a free extent, waits for the arena's shared sync round, then
// commits the row pointing there (its message's own row for a send to one
// number, otherwise a blobs row the messages share), so a crash leaves
// either a committed row pointing at synced data or no row (and the extent
// free at the next start, when the arena is rebuilt from the rows). An
// extent is freed only when no row refers to it and no fetch is reading
// it:
//
//   - a send's own extent, when its row was not written (the send failed,
//     was a retry, or the same data was stored already), after its commit;
//   - a deleted row's extent (an expired message's own, or a dropped
//     blobs row's), by the janitor under blobMu held exclusively, after
//     the delete has committed; a fetch holds blobMu shared from looking
//     the extent up (again, for a message's own) to opening it, and the
//     arena frees an open extent only when its readers close.
//
// A send needs no blobMu: its extent is its own until its row commits,
// and the janitor only frees extents of rows it deleted.

// storeInArena stores data into the arena and the messages that refer to
// it. precheck, unless nil, is the sender check store1 skipped: it runs if
// the data turns out bad, so that its answer comes first, as it would have.
// An error satisfying errors.Is(err, blob.ErrNoSpace) says that the arena
// had no room, and that nothing of data was read.
func (s *Server) storeInArena(ctx context.Context, m store.NewMessages, data io.Reader, length int64, head *prefixReader, precheck func() error) (store.SendResult, error) {
	var none store.SendResult
	if err := s.disk.roomForRows(); err != nil {
		return none, err
	}
	m.Blob = store.Blob{Length: length, InArena: true}
	// Data kept with its one message is named for that message alone;
	// data several messages share (a blobs row, keyed by the name) is
	// named by its content, so the same bytes sent again are stored once.
	// SHA-256 of 64 KiB was a third of ringd's CPU under the file send load
	//, and naming by content buys nothing for data never shared.
	var sum hash.Hash
	if !m.InRow() {
		sum = sha256.New()
		data = io.TeeReader(data, sum)
	}
	ext, err := s.arena.Put(ctx, data, length)
	if errors.Is(err, blob.ErrNoSpace) {
		return none, err
	}
	if err != nil {
		if precheck != nil {
			if perr := precheck(); perr != nil {
				return none, perr
			}
		}
		return none, dataErr(err)
	}
	m.Blob.ArenaOff = ext.Off
	if sum != nil {
		m.Blob.Hash = hex.EncodeToString(sum.Sum(nil))
	} else {
		m.Blob.Hash = uniqueName()
	}
	if head != nil {
		m.Preview = head.preview()
	}
	m.Rendered = s.renderSend(ctx, m.SenderHash, &m)
	res, err := s.storeMessages(ctx, m)
	switch {
	case err != nil:
		s.releaseIfUnused(m, ext)
	case res.Replayed || res.BlobExisted:
		s.arena.Release(ext)
	}
	return res, err
}

// releaseIfUnused frees a failed send's extent unless its row (blobs or
// message) is there after all (a commit that failed late but took
// effect). If that cannot be known, the extent stays taken until the next
// start.
func (s *Server) releaseIfUnused(m store.NewMessages, ext blob.Extent) {
	used, err := s.store.ArenaInUse(context.Background(), m.Blob.Hash, m.Blob.ArenaOff, m.Now)
	switch {
	case err != nil:
		s.log.Warn("arena: keeping the extent of a failed send", "err", err)
		return
	case used:
		return // committed: the row is the janitor's to free
	}
	s.arena.Release(ext)
}

// blobData returns the blob record of hash and, for data in the arena, a
// reader of its n bytes from offset. It looks the record up and opens the
// extent holding blobMu shared; the janitor frees extents only holding it
// exclusively, after their rows are gone, and an extent freed while open
// is reused only once its readers close: the bytes read are the ones the
// row pointed at, never another send's.
func (s *Server) blobData(ctx context.Context, hash string, offset, n int64) (store.Blob, io.ReadCloser, error) {
	s.blobMu.RLock()
	defer s.blobMu.RUnlock()
	b, err := s.store.Blob(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		// Dropped since the message was read: the message expired.
		return b, nil, wire.Wrap(wire.MsgIDError, err, "data gone")
	}
	if err != nil || !b.InArena {
		return b, nil, err
	}
	rc, err := s.openArena(b.ArenaOff, b.Length, offset, n)
	return b, rc, err
}

// ownArenaData returns a reader of n bytes from offset of the data message
// m holds in its own arena extent (m.InArena). m was read without blobMu,
// so holding it shared this reads the message again: if it is gone (it
// expired, and the janitor may have freed its extent) the data is gone too,
// and a message that took its id since holds the same extent only if it
// holds the same data (its uri is unique to it). As in blobData, the janitor
// frees the extent only after this has opened it.
func (s *Server) ownArenaData(ctx context.Context, m store.Message, offset, n int64) (io.ReadCloser, error) {
	s.blobMu.RLock()
	defer s.blobMu.RUnlock()
	now, err := s.store.Message(ctx, m.ID)
	if errors.Is(err, store.ErrBadMsgID) || (err == nil && (!now.InArena || now.ArenaOff != m.ArenaOff ||
		now.Length != m.Length || now.URI != m.URI)) {
		return nil, wire.Wrap(wire.MsgIDError, store.ErrBadMsgID, "data gone")
	}
	if err != nil {
		return nil, err
	}
	return s.openArena(m.ArenaOff, m.Length, offset, n)
}

// uniqueName returns 64 random hex digits, the uri of data kept with one
// message: the same shape as a SHA-256, and never another data's name.
func uniqueName() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// openArena opens n bytes from offset of the extent at off holding length
// bytes; the caller holds blobMu shared.
func (s *Server) openArena(off, length, offset, n int64) (io.ReadCloser, error) {
	if s.arena == nil {
		return nil, errors.New("arena: data in an arena this server has not opened")
	}
	if hook := s.fetchHook.Load(); hook != nil {
		(*hook)("open")
	}
	return s.arena.Open(blob.ExtentOf(off, length), offset, n)
}
