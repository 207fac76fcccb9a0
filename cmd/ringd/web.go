package main

import (
	"flag"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/server"
	"github.com/ringd/ringd/internal/web"
)

// webFlags defines -web and -cors-origins.
func webFlags(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.web, "web", true, "serve the web client at /app/ and the operator console at /console/")
	fs.Func("cors-origins", "origins (scheme://host[:port]) whose web pages may call the protocol, comma-separated; may repeat (none: no CORS)", func(v string) error {
		for _, origin := range strings.Split(v, ",") {
			if origin = strings.TrimSpace(origin); origin != "" {
				if _, err := web.NormalizeOrigin(origin); err != nil {
					return err
				}
				o.corsOrigins = append(o.corsOrigins, origin)
			}
		}
		return nil
	})
}

// newHTTPServer is the server of -listen: the protocol, behind the pages
// and CORS (internal/web), which pass it every request not theirs.
func newHTTPServer(o *options, srv *server.Server, log *slog.Logger) (*http.Server, error) {
	handler, err := web.Handler(srv, web.Options{Pages: o.web, APIPath: o.cfg.Path, CORSOrigins: o.corsOrigins})
	if err != nil {
		return nil, err
	}
	return &http.Server{
		Handler:           handler,
		ConnContext:       server.ConnContext,
		ReadHeaderTimeout: srv.ReadTimeout(),
		ReadTimeout:       srv.ReadTimeout(), // the pace of request bodies (server/pace.go)
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}, nil
}
