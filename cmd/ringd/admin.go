package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ringd/ringd/internal/server"
)

// The operator's endpoints (/metrics, /healthz and, under -debug, the
// profiles) are served on -admin-listen, an http.Server of their own, so
// that the address phones reach never shows them. It has no
// authentication: bind it to loopback or a network only operators reach.

// adminHandler is what -admin-listen serves: the server's AdminHandler and,
// when debug is set, net/http/pprof under /debug/pprof/.
func adminHandler(srv *server.Server, debug bool) http.Handler {
	if !debug {
		return srv.AdminHandler()
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.AdminHandler())
	mux.Handle("/debug/pprof/", pprofHandler())
	return mux
}

// startAdmin serves the admin endpoints on o.adminListen (nothing when it
// is empty) until the returned stop is called. A bad address stops ringd
// at start; a failure later is logged while the protocol goes on.
func startAdmin(o *options, srv *server.Server, log *slog.Logger) (stop func(), err error) {
	if o.adminListen == "" {
		if o.debug {
			log.Info("profiles not served: -debug serves them on -admin-listen, which is not set")
		}
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", o.adminListen)
	if err != nil {
		return nil, fmt.Errorf("-admin-listen: %w", err)
	}
	hs := &http.Server{
		Handler:           adminHandler(srv, o.debug),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	log.Info("admin serving", "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}
