package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ceilingEnv marks the ceiling child, so a test binary standing in for
// ringbench (os.Executable in a test) knows to run it.
const ceilingEnv = "RINGBENCH_CEILING_CHILD"

// smallAnswer is the ceiling's answer when no size is asked for: the size
// of ringd's answer to a send.
const smallAnswer = `{"answer":10000,"msgid":"1000001","time":1764201234}`

// ceilingBody is what the ceiling answers: smallAnswer, or a JSON object
// padded to exactly size bytes.
func ceilingBody(size int) []byte {
	if size <= len(smallAnswer) {
		return []byte(smallAnswer)
	}
	const pre, post = `{"answer":10000,"pad":"`, `"}`
	b := make([]byte, 0, size)
	b = append(b, pre...)
	b = append(b, bytes.Repeat([]byte{'x'}, size-len(pre)-len(post))...)
	return append(b, post...)
}

// ceiling is the bare net/http handler ringd is measured against: it reads
// the whole body and answers a prebuilt JSON. Nothing a server could do for
// the same request is cheaper.
func ceiling(size int) http.Handler {
	body := ceilingBody(size)
	clen := []string{strconv.Itoa(len(body))}
	ctype := []string{"application/json"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Write([]byte("ok\n")) // health check
			return
		}
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = ctype
		h["Content-Length"] = clen
		w.Write(body)
	})
}

// ceilingMain serves the ceiling until ctx ends.
func ceilingMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ringbench ceiling", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve on")
	size := fs.Int("size", 0, "bytes of each answer (0: a small JSON)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: ceiling(*size), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("ceiling shutdown: %w", err)
	}
	return nil
}
