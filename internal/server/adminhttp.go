package server

import (
	"net/http"

	"github.com/ringd/ringd/internal/wire"
)

// AdminHandler serves the operator's HTTP endpoints: GET /metrics
// (Prometheus' text format) and GET /healthz. It is meant for a listener
// of its own that phones do not reach (ringd's -admin-listen): the
// protocol's handler, ServeHTTP, serves /healthz for load balancers but
// never the metrics. Any other path is 404 in JSON (wire.WriteNotFound).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { wire.WriteNotFound(w) })
	return mux
}
