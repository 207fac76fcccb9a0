package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/ringd/ringd/internal/notify/pgnotify"
	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/server"
	"github.com/ringd/ringd/internal/store/postgres"
)

// openNotifier gives the PostgreSQL engine's nodes one Notifier across
// them all (LISTEN/NOTIFY), so a long-poll on one node wakes for a send on
// another; SQLite keeps the server's in-process default. The returned
// function closes it, after the server.
func openNotifier(o *options, log *slog.Logger) (func(), error) {
	if !isPostgres(o.database) {
		return func() {}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := pgnotify.Open(ctx, o.database, pgnotify.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	o.cfg.Notifier = n
	return n.Close, nil
}

// leasedOutbox is an engine whose pushes are claimed for a lease
// (postgres.DB): several nodes drain it at once.
type leasedOutbox interface {
	SetPushLease(time.Duration)
}

// setPushLease makes the engine's claims on pushes outlast one attempt
// under c, if it claims them.
func setPushLease(db engine, c push.Config) {
	if l, ok := db.(leasedOutbox); ok {
		l.SetPushLease(c.Lease())
	}
}

// nodeFlags are the settings of several nodes sharing one database.
func nodeFlags(fs *flag.FlagSet, o *options) {
	fs.DurationVar(&o.cfg.NodeLease, "node-lease", server.DefaultNodeLease, "with -database, how long a node holds the janitor's lease unrenewed: another node takes over within it when the holder dies")
	fs.DurationVar(&o.orphanGrace, "orphan-grace", postgres.DefaultOrphanGrace, "with -object-store, how old an object no message names must be before the janitor's sweep deletes it; longer than any send takes from its data's arrival to its commit")
}
