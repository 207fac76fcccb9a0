package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/server"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/postgres"
	"github.com/ringd/ringd/internal/store/sqlite"
)

// engine is the store ringd serves from, with what the push dispatcher
// drains.
type engine interface {
	store.Store
	push.Outbox
}

// isPostgres reports whether -database selects the PostgreSQL engine: a
// postgres:// (or postgresql://) URL, or a libpq key=value string.
func isPostgres(database string) bool {
	return database != ""
}

// checkDatabaseFlags refuses settings that cannot go together, before
// anything is opened.
func checkDatabaseFlags(o *options) error {
	d := o.database
	if d != "" && !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") && !strings.Contains(d, "=") {
		return errors.New("-database: want a postgres:// URL or a libpq key=value string (empty: SQLite under -data)")
	}
	if o.objectStore != "" && d == "" {
		return errors.New("-object-store needs -database: the SQLite engine keeps its data under -data")
	}
	if o.objectThreshold < 1 {
		return fmt.Errorf("-object-threshold %d: at least 1", o.objectThreshold)
	}
	if o.orphanGrace < time.Second {
		return fmt.Errorf("-orphan-grace %v: at least 1s", o.orphanGrace)
	}
	return nil
}

// openPostgres opens the PostgreSQL engine of o.database, and the object
// store of o.objectStore if set. Either one not reachable, or a schema
// newer than this ringd's, fails here; what Open warns of is logged.
func openPostgres(o *options, log *slog.Logger) (*postgres.DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := postgres.Options{ObjectThreshold: o.objectThreshold, OrphanGrace: o.orphanGrace}
	if o.objectStore != "" {
		objects, err := s3.Open(ctx, o.objectStore)
		if err != nil {
			return nil, err
		}
		opts.Objects = objects
		log.Info("object store", "store", objects.String(), "threshold", o.objectThreshold)
	}
	db, err := postgres.Open(ctx, o.database, opts)
	if err != nil {
		return nil, err
	}
	for _, w := range db.Warnings() {
		log.Warn(w)
	}
	return db, nil
}

// openSQLiteEngine opens the embedded engine under o.data; roomForFile is asked
// before data is written into a file of its own.
func openSQLiteEngine(o *options, roomForFile func(int64) error) (*sqlite.DB, error) {
	maxGet := o.cfg.MaxGet
	if maxGet <= 0 {
		maxGet = server.DefaultMaxGet
	}
	return sqlite.Open(filepath.Join(o.data, "ringd.db"), sqlite.Options{
		HeldPerNumber: maxGet + 1, // what a get answers, and one to tell there are more
		Arena:         blob.ArenaOptions{Reserve: o.cfg.DiskReserve},
		ArenaMax:      o.arenaMax,
		FileRoom:      roomForFile,
	})
}

// openEngine opens the store o selects. The returned cleanup removes a
// data directory this start made, unless ringd served from it.
func openEngine(o *options, log *slog.Logger, srv **server.Server) (engine, *madeDir, error) {
	if isPostgres(o.database) {
		db, err := openPostgres(o, log)
		return db, nil, err
	}
	dataDir, err := makeDataDir(o.data)
	if err != nil {
		return nil, nil, err
	}
	// Asked by sends only, which come once srv serves.
	db, err := openSQLiteEngine(o, func(n int64) error { return (*srv).RoomForFile(n) })
	if err != nil {
		dataDir.removeUnlessServed(log)
		return nil, nil, err
	}
	o.cfg.DataDir = o.data
	return db, dataDir, nil
}

// storeName says where ringd keeps its data, for the log: never the
// database URL, which may carry a password.
func storeName(o *options) string {
	if !isPostgres(o.database) {
		return "sqlite " + o.data
	}
	if o.objectStore != "" {
		return "postgres, object store"
	}
	return "postgres"
}
