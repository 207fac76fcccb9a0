// Command ringd is the server: it reads its configuration from flags (each
// also settable as RINGD_<NAME>), opens the embedded store under the data
// directory, and serves the protocol until SIGTERM or SIGINT.
//
// ringd is licensed under the Apache License, Version 2.0 (the LICENSE file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/server"
	"github.com/ringd/ringd/internal/store/postgres"
	"github.com/ringd/ringd/internal/store/sqlite"
	"github.com/ringd/ringd/internal/version"
)

type options struct {
	listen   string
	data     string
	cfg      server.Config
	debug    bool
	arenaMax int64 // -arena-max: the store's ArenaMax
	// -database, -object-store, -object-threshold: the PostgreSQL engine
	// (engine.go); "" database: SQLite under data.
	database, objectStore string
	objectThreshold       int64
	orphanGrace           time.Duration // -orphan-grace: the engine's OrphanGrace
	version               bool          // -version: print the version and exit
	config                string        // -config: the configuration file
	push                  *push.Config  // its push section; nil: no pushes

	adminListen string // -admin-listen: the operator's endpoints (admin.go); "": none

	tlsCert, tlsKey string // -tls-cert, -tls-key: serve HTTPS (tls.go); "": plain HTTP

	web         bool     // -web: serve the web client and the console
	corsOrigins []string // -cors-origins: origins whose pages may call the protocol
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("ringd", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "certificate file (PEM, with its chain) to serve HTTPS and HTTP/2 on -listen; reread on SIGHUP; needs -tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "private key file (PEM) of -tls-cert")
	fs.StringVar(&o.adminListen, "admin-listen", "", "address of /metrics, /healthz and, with -debug, /debug/pprof/; unauthenticated (none: not served)")
	addSecretFileFlags(fs)
	fs.StringVar(&o.data, "data", "./data", "directory of the database and message data (made if missing)")
	fs.StringVar(&o.database, "database", "", "PostgreSQL database: a postgres:// URL or a libpq key=value string (none: the embedded SQLite engine under -data)")
	fs.StringVar(&o.objectStore, "object-store", "", "with -database, an S3-compatible bucket for large message data: s3://BUCKET?endpoint=http://HOST:PORT&region=R; keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS credentials file (none: all data in PostgreSQL)")
	fs.Int64Var(&o.objectThreshold, "object-threshold", postgres.DefaultObjectThreshold, "with -object-store, data longer than this many bytes goes to the object store; shorter data stays in PostgreSQL")
	fs.Int64Var(&o.cfg.MaxLength, "max-length", server.DefaultMaxLength, "largest data of one request, in bytes")
	fs.IntVar(&o.cfg.MaxCallees, "max-callees", server.DefaultMaxCallees, "most callees of one sends")
	fs.IntVar(&o.cfg.MaxGet, "max-get", server.DefaultMaxGet, "most messages in one get answer")
	fs.DurationVar(&o.cfg.Retention, "retention", server.DefaultRetention, "how long messages are kept (at least 24h)")
	fs.StringVar(&o.cfg.RegisterKey, "register-key", "", "when set, register requests must carry it as auth")
	fs.StringVar(&o.cfg.AdminToken, "admin-token", "", "token of operator requests (none: they are refused)")
	fs.DurationVar(&o.cfg.RingTimeout, "ring-timeout", server.DefaultRingTimeout, "how long a call rings before it is missed")
	rateFlags(fs, &o.cfg.RateConfig)
	nodeFlags(fs, o)
	fs.Int64Var(&o.arenaMax, "arena-max", sqlite.DefaultArenaMax, "largest data kept in the preallocated arena (data/arena), in bytes, at least 64 KiB; larger data is a file of its own under data/blobs")
	fs.Int64Var(&o.cfg.DiskReserve, "disk-reserve", server.DefaultDiskReserve, "free space, in bytes, that sends leave on the data directory's filesystem for the database and the janitor: data to write is refused (10001) when it would leave less, texts when less than half is left")
	fs.IntVar(&o.cfg.MaxInFlight, "max-inflight", server.DefaultMaxInFlight, "requests worked on at once (not those waiting for their client, nor waiting long-polls); past it the server answers 10009")
	fs.DurationVar(&o.cfg.ReadTimeout, "read-timeout", server.DefaultReadTimeout, "a request's headers and the start of its body must arrive within this of its first byte")
	fs.Int64Var(&o.cfg.MinBodyRate, "min-body-rate", server.DefaultMinBodyRate, "bytes a second a request body must keep up on average past -read-timeout, or it is cut off")
	fs.IntVar(&o.cfg.MaxLongPolls, "max-longpolls", server.DefaultMaxLongPolls, "get, callinfo and incoming long-polls waiting at once per number (each kind); a newer one answers the oldest at once")
	fs.BoolVar(&o.debug, "debug", false, "debug mode: debug requests answered, debug logs")
	fs.BoolVar(&o.version, "version", false, "print the version, commit and Go release, and exit (command line only)")
	fs.StringVar(&o.config, "config", "", "configuration file, YAML or TOML (.toml): any flag by name, and the push section; flags and environment override it")
	fs.DurationVar(&o.cfg.MaxCallLength, "max-call-length", server.DefaultMaxCallLength, "an answered call never hung up ends after this")
	fs.StringVar(&o.cfg.AIURL, "ai-url", "", "endpoint of the AI call service (none: aicall answers 10031)")
	fs.StringVar(&o.cfg.AIKey, "ai-key", "", "bearer key sent to the AI call service")
	fs.DurationVar(&o.cfg.AITimeout, "ai-timeout", server.DefaultAITimeout, "longest wait for the AI call service")
	webFlags(fs, o)
	fs.Func("reserved", "numbers never registrable, comma-separated: digits, patterns with ? and * (\"110*\"), or \"repeated\" (one digit repeated); may repeat", func(v string) error {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.cfg.Reserved = append(o.cfg.Reserved, p)
			}
		}
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ringd [flags]\n       ringd backup [-data DIR] DEST   (a consistent copy of a running ringd's data: ringd backup -h)\n\nEvery flag but -version can also be set as an environment variable RINGD_<NAME>,\ne.g. RINGD_MAX_LENGTH=1048576. Flags given on the command line win.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, printedError{err} // flag has printed it, with the usage
	}
	if o.version {
		return o, nil
	}
	if err := envFlags(fs); err != nil {
		return nil, err
	}
	if o.config != "" {
		pc, err := applyConfig(fs, o.config)
		if err != nil {
			return nil, err
		}
		o.push = pc
	}
	if err := readSecretFiles(fs); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	o.cfg.Debug = o.debug
	return o, nil
}

// checkOptions refuses settings that cannot work together or are out of
// their range, before anything is opened.
func checkOptions(o *options) error {
	if err := tlsFlagsError(o.tlsCert, o.tlsKey); err != nil {
		return err
	}
	if o.cfg.Retention < server.DefaultRetention {
		return fmt.Errorf("-retention %v: no shorter than %v", o.cfg.Retention, server.DefaultRetention)
	}
	if o.arenaMax < sqlite.MinArenaMax || o.arenaMax > blob.DefaultArenaChunk {
		return fmt.Errorf("-arena-max %d: from %d to %d", o.arenaMax, sqlite.MinArenaMax, blob.DefaultArenaChunk)
	}
	if err := checkDatabaseFlags(o); err != nil {
		return err
	}
	if o.cfg.DiskReserve < 1<<20 {
		return fmt.Errorf("-disk-reserve %d: at least %d", o.cfg.DiskReserve, 1<<20)
	}
	return nil
}

// envFlags sets each flag not given on the command line from RINGD_<NAME>.
func envFlags(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil || !fromEnvOrFile(f.Name) {
			return
		}
		name := "RINGD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	return err
}

// printedError is an error the flag package has already shown, above the
// usage: main must not print it a second time.
type printedError struct{ err error }

func (e printedError) Error() string { return e.err.Error() }
func (e printedError) Unwrap() error { return e.err }

// fromEnvOrFile reports whether a flag may also be set by its environment
// variable and the config file. -version may not: a RINGD_VERSION left in
// an environment for other ends would stop ringd from serving.
func fromEnvOrFile(name string) bool { return name != "version" }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "backup" { // a command of its own, with its own flags (backup.go)
		os.Exit(runBackup(os.Args[2:], os.Stdout, os.Stderr))
	}
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if errors.As(err, new(printedError)) {
		os.Exit(2)
	}
	if err == nil && o.version {
		fmt.Println(version.String("ringd"))
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ringd:", err)
		os.Exit(2)
	}
	slack, err := timerSlack()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ringd:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	log.Debug("timer slack", "slack", slack) // 0: the one ringd was started with
	if err := run(o, log); err != nil {
		log.Error("ringd stopped", "err", err)
		os.Exit(1)
	}
}

func run(o *options, log *slog.Logger) error {
	cert, err := loadTLS(o, log) // before anything is made: a bad pair leaves no trace
	if err != nil {
		return err
	}
	var srv *server.Server // made below, once the store is open
	db, dataDir, err := openEngine(o, log, &srv)
	if err != nil {
		return err
	}
	if dataDir != nil {
		defer dataDir.removeUnlessServed(log) // runs last: after the store and the arena close
	}
	defer db.Close() // after the server
	closeNotifier, err := openNotifier(o, log)
	if err != nil {
		return err
	}
	defer closeNotifier() // after the server, before the store
	o.cfg.Logger = log
	if o.push != nil {
		// Reads the APNs keys and FCM credentials now: a bad file stops
		// ringd here rather than at the first push.
		d, err := push.New(*o.push, db, push.Options{Logger: log})
		if err != nil {
			return err
		}
		o.cfg.Pusher = d
		setPushLease(db, *o.push)
		d.Start()
		defer d.Close() // before the store closes
		log.Info("push configured", "apps", len(o.push.Apps))
	}
	srv = server.New(o.cfg, db)
	srv.Start()
	defer srv.Close()
	stopAdmin, err := startAdmin(o, srv, log)
	if err != nil {
		return err
	}
	defer stopAdmin()

	ln, err := listen(o.listen, cert)
	if err != nil {
		return err
	}
	defer reloadOnHangup(cert, log)()
	hs, err := newHTTPServer(o, srv, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	if dataDir != nil {
		dataDir.served = true // from here on, answers may have acknowledged data
	}
	go func() { errc <- hs.Serve(ln) }()
	log.Info("ringd serving", "addr", ln.Addr().String(), "tls", cert != nil, "store", storeName(o), "version", server.Version)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	srv.Close() // ends long-polls so Shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
