package server

import (
	"context"
	"time"

	"github.com/ringd/ringd/internal/blob"
)

// janitorEvery is how often expired messages are deleted.
const janitorEvery = time.Minute

func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	if err := s.DropStrays(context.Background()); err != nil {
		s.log.Warn("janitor: looking for stray data", "err", err)
	}
	for {
		if err := s.Sweep(context.Background()); err != nil {
			s.log.Warn("janitor", "err", err)
		}
		s.disk.isFull() // ends refusals for lack of space once it is back
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Sweep deletes messages older than the retention window, then the data
// that no live message refers to any more.
func (s *Server) Sweep(ctx context.Context) error {
	before := s.clock.Now().Add(-s.cfg.Retention)
	if err := s.store.ExpireCalls(ctx, before); err != nil { // calls live as long as messages
		return err
	}
	// On an error, gone still holds what the committed part deleted.
	gone, err := s.store.ExpireMessages(ctx, before)
	if len(gone.URIs) == 0 && len(gone.Arena) == 0 {
		return err
	}
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	// The messages' deletes have committed, and no fetch is between
	// looking an extent up and opening it (blobMu): the extents the
	// messages held themselves may be reused from here on (arena.go).
	for _, b := range gone.Arena {
		if s.arena != nil {
			s.arena.Release(blob.ExtentOf(b.ArenaOff, b.Length))
		}
	}
	// On an error, external still holds what the committed part dropped.
	external, derr := s.store.DropBlobs(ctx, gone.URIs)
	if err == nil {
		err = derr
	}
	// The deletes have committed, and no fetch is reading (blobMu): the
	// arena's extents may be reused from here on (arena.go).
	files := 0
	for _, b := range external {
		if b.InArena {
			if s.arena != nil {
				s.arena.Release(blob.ExtentOf(b.ArenaOff, b.Length))
			}
			continue
		}
		if derr := s.blobs.Delete(ctx, b.Hash); derr != nil && err == nil {
			err = derr
		}
		files++
	}
	s.log.Info("expired", "data_checked", len(gone.URIs), "files_deleted", files,
		"arena_freed", len(external)-files+len(gone.Arena))
	return err
}

// DropStrays deletes stored data that has no record in the store: what a
// crash left between storing a send's data and committing its message (that
// send was never acknowledged). It runs once at start. The arena needs no
// such cleanup: its space is free unless a row points at it, and it
// is rebuilt from the rows at every start (blob.OpenArena).
func (s *Server) DropStrays(ctx context.Context) error {
	lister, ok := s.blobs.(blob.Lister)
	if !ok {
		return nil
	}
	var stray []string
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	err := lister.List(ctx, func(hash string) error {
		known, err := s.store.HasBlob(ctx, hash)
		if err == nil && !known {
			stray = append(stray, hash)
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, h := range stray {
		if err := s.blobs.Delete(ctx, h); err != nil {
			return err
		}
	}
	if len(stray) > 0 {
		s.log.Info("deleted stray data", "files", len(stray))
	}
	return nil
}
