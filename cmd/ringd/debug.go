package main

import (
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
)

// pprofHandler serves net/http/pprof under /debug/pprof/, so a running
// ringd can be profiled (ringbench drives the load, go tool pprof reads the
// profile). Only -debug serves it, and only on -admin-listen: profiles
// reveal timings and stacks.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", redactedCmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// redactedCmdline answers as pprof.Cmdline does (the arguments, NUL
// separated) with the value of every secret flag replaced, since a
// profile's reader need not be trusted with the tokens and keys.
func redactedCmdline(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(strings.Join(redactArgs(os.Args), "\x00")))
}
