package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/ringd/ringd/internal/notify/pgnotify"
	"github.com/ringd/ringd/internal/push"
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
