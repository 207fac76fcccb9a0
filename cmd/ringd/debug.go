package main

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// withDebug serves net/http/pprof under /debug/pprof/ beside h when debug
// is set, so a running ringd can be profiled on its own port (ringbench
// drives the load, go tool pprof reads the profile). Without debug the
// profiles are never reachable: they reveal timings and stacks.
func withDebug(h http.Handler, debug bool) http.Handler {
	if !debug {
		return h
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/debug/pprof/") {
			mux.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
