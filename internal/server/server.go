// Package server owns ringd's protocol: it reads each POST, dispatches it by
// its "req" to a handler, and writes the answer. One file per group of
// requests; storage is reached only through the interfaces of
// internal/store, and no storage engine is known here.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/notify"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// Clock tells the time; tests inject a fake one to drive expiry.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config is the server's configuration. Zero fields take the defaults below.
type Config struct {
	Path         string        // where requests are POSTed; default "/"
	MaxLength    int64         // largest data of one request; default 64 MiB
	MaxCallees   int           // most callees of one sends; default 1000
	MaxGet       int           // most messages in one get answer; default 500
	Retention    time.Duration // how long messages live; default (and minimum) 24h
	RegisterKey  string        // when set, register needs "auth" equal to it
	AdminToken   string        // operator requests' "auth"; none: always 10061
	RingTimeout  time.Duration // how long a call rings; default 60s
	Debug        bool          // answer debug requests
	MaxInFlight  int           // requests worked on at once; past it 10009; default 4096
	ReadTimeout  time.Duration // headers and the start of a body arrive within it (pace.go); default 10s
	MinBodyRate  int64         // bytes a second a body keeps up past ReadTimeout; default 1024
	MaxLongPolls int           // long-polls of each kind waiting at once per number; default 4
	NumberDigits int           // digits of numbers the server allocates; default 8
	CallConfig                 // calls, AI calls, reserved numbers (calls.go)
	RateConfig                 // per-client-address rate limits (ratelimit.go)
	Clock        Clock
	Logger       *slog.Logger
	// Pusher, when set, delivers the pushes the store queues (push.go).
	Pusher Pusher
	// Notifier carries the wake-ups of long-polls and the call timer
	// after commits; default an in-process one (notify.Local). Servers
	// sharing one store share a Notifier that crosses processes.
	Notifier notify.Notifier
	// DataDir, when set, is the directory of the database and the data:
	// sends are refused (10001) when its filesystem runs out of room, and
	// its free space is a metric (disk.go).
	DataDir string
	// NodeName names this node in the leases of a store that several
	// nodes share; default host/pid/random. NodeLease is how long a lease
	// holds unrenewed; default DefaultNodeLease (lease.go).
	NodeName  string
	NodeLease time.Duration
	// DiskReserve is the free space of DataDir's filesystem that sends
	// leave for the database and the janitor; default 8 MiB.
	DiskReserve int64
}

// Defaults of Config.
const (
	DefaultMaxLength    = 64 << 20
	DefaultMaxCallees   = 1000
	DefaultMaxGet       = 500
	DefaultRetention    = 24 * time.Hour
	DefaultRingTimeout  = 60 * time.Second
	DefaultMaxInFlight  = 4096
	DefaultReadTimeout  = 10 * time.Second
	DefaultMinBodyRate  = 1024
	DefaultMaxLongPolls = 4
	DefaultNumberDigits = 8
	DefaultDiskReserve  = 8 << 20
	// getWindow is how far back get and history look, whatever after says
	// (seed: "the earliest allowed is 1 day ago").
	getWindow = 24 * time.Hour
)

func (c *Config) setDefaults() {
	if c.Path == "" {
		c.Path = "/"
	}
	if c.MaxLength <= 0 {
		c.MaxLength = DefaultMaxLength
	}
	if c.MaxCallees <= 0 {
		c.MaxCallees = DefaultMaxCallees
	}
	if c.MaxGet <= 0 {
		c.MaxGet = DefaultMaxGet
	}
	if c.Retention < DefaultRetention {
		c.Retention = DefaultRetention
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = DefaultRingTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.MinBodyRate <= 0 {
		c.MinBodyRate = DefaultMinBodyRate
	}
	if c.MaxLongPolls <= 0 {
		c.MaxLongPolls = DefaultMaxLongPolls
	}
	if c.NumberDigits < 3 || c.NumberDigits > 15 {
		c.NumberDigits = DefaultNumberDigits
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.DiskReserve <= 0 {
		c.DiskReserve = DefaultDiskReserve
	}
	c.CallConfig.setDefaults()
	c.RateConfig.setDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Notifier == nil {
		c.Notifier = notify.NewLocal()
	}
}

// handler answers one request. It returns the answer to encode (or a
// *wire.DataAnswer), or an error whose wire code the client gets.
type handler func(ctx context.Context, r *wire.Request) (any, error)

// Server is the protocol's HTTP handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	clock    Clock
	handlers map[string]handler
	slots    slots     // requests worked on, against MaxInFlight (inflight.go)
	polls    longPolls // long-polls waiting (longpoll.go)

	// The store, by what the handlers need of it (store.Store).
	ids       store.Identities
	msgs      store.Messages
	data      store.Data
	retention store.Retention
	callStore store.Calls
	st        store.Store // all of it: the push outbox, the engine's metrics

	notifier notify.Notifier
	// deadlines wakes the call timer (callTimer) when a call stores a new
	// deadline; cancelDeadlines ends that subscription at Close.
	deadlines       <-chan struct{}
	cancelDeadlines func()

	stopOnce sync.Once
	stop     chan struct{} // closed by Close: ends the janitor and long-polls
	wg       sync.WaitGroup

	calls calls // call signaling, long-poll wake-ups, the AI service (calls.go)

	metrics *metrics // what AdminHandler's /metrics shows (metrics.go)

	limits *rateLimits // per-client-address rate limits (ratelimit.go)

	disk *diskSpace // room left for sends on the data filesystem (disk.go)

	numbers numberCache // get's uuid hash → number (numcache.go)
	renders renderCache // get's renderings of sends (getcache.go)
	empties *emptyGets  // numbers a get found nothing waiting for (emptygets.go)

	janitorLease *lease        // nil unless the store keeps leases (lease.go)
	janitorWake  chan struct{} // runs the janitor now
}

// New makes a server over st. Call Start to run its background work and
// Close to stop it.
func New(cfg Config, st store.Store) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		ids:       st,
		msgs:      st,
		data:      st,
		retention: st,
		callStore: st,
		st:        st,
		notifier:  cfg.Notifier,
		stop:      make(chan struct{}),
		disk:      newDiskSpace(cfg.DataDir, cfg.DiskReserve, cfg.Logger),
	}
	// Subscribed before any request can store a deadline.
	s.deadlines, s.cancelDeadlines = s.notifier.Subscribe(notify.Deadlines)
	s.slots.max = int64(cfg.MaxInFlight)
	s.polls.max = cfg.MaxLongPolls
	s.handlers = map[string]handler{
		"register": s.register,
		"login":    s.login,
		"send":     s.send,
		"sends":    s.sends,
		"get":      s.get,
		"history":  s.history,
		"fetch":    s.fetch,
		"read":     s.read,
		"status":   s.status,
	}
	s.initCalls()
	s.metrics = newMetrics()
	s.limits = newRateLimits(cfg.RateConfig, cfg.Clock, s.metrics.reg, cfg.Notifier)
	s.empties = newEmptyGets(cfg.Notifier, cfg.Clock, s.metrics.reg)
	if c, ok := cfg.Notifier.(prometheus.Collector); ok { // its own figures (pgnotify's)
		s.metrics.reg.MustRegister(c)
	}
	// Read at each scrape, not kept per request.
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ringd_requests_in_flight",
		Help: "Requests being worked on now, not those waiting for their client or as long-polls; past -max-inflight the server answers 10009.",
	}, func() float64 { return float64(s.slots.inUse()) }))
	s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ringd_long_polls_waiting",
		Help: "Long-polls (get and callinfo with wait) waiting now; at most -max-longpolls of each kind per number.",
	}, func() float64 { return float64(s.polls.count()) }))
	s.registerStoreMetrics()
	s.registerSpaceMetrics()
	s.initPush()
	s.janitorWake = make(chan struct{}, 1)
	s.initLeases()
	return s
}

// registerStoreMetrics shows the engine's own figures, if it keeps any.
func (s *Server) registerStoreMetrics() {
	in, ok := s.st.(store.Instrumented)
	if !ok {
		return
	}
	for _, m := range in.Metrics() {
		if m.Gauge {
			s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.Name, Help: m.Help}, m.Value))
		} else {
			s.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.Name, Help: m.Help}, m.Value))
		}
	}
}

// Start runs the server's background work (the janitor).
func (s *Server) Start() {
	s.wg.Add(3)
	go s.janitor()
	go s.callTimer()
	go s.metrics.history.run(&s.wg, s.stop, s.clock)
	if s.janitorLease != nil {
		s.wg.Add(1)
		go s.keepLease(s.janitorLease)
	}
	s.limits.run(&s.wg, s.stop)
}

// Close stops the background work and ends waiting long-polls. It does not
// close the store.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	s.cancelDeadlines()
	s.empties.close()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
		return
	}
	if r.URL.Path != s.cfg.Path {
		wire.WriteNotFound(w)
		return
	}
	if !s.limits.allowRequest(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		wire.WriteErrorDetail(w, http.StatusMethodNotAllowed, wire.FormatError, "method: requests are POSTed")
		return
	}
	start := time.Now()
	req, ans, err := s.serve(w, r, start)
	if err != nil {
		code := s.codeOf(err)
		s.logError(req, code, err)
		setRetryAfter(w, err)
		wire.WriteErrorDetail(w, http.StatusOK, code, publicDetail(err, code))
		s.observe(req, code, start)
		return
	}
	switch a := ans.(type) {
	case *wire.DataAnswer:
		err = wire.WriteData(w, a)
	case *encodedAnswer:
		err = wire.WriteRaw(w, a.b)
		putAnswerBuf(a) // written: net/http keeps no reference to it
	default:
		err = wire.WriteJSON(w, a)
	}
	if err != nil {
		s.log.Debug("writing answer", "req", req, "err", err)
	}
	s.observe(req, wire.OK, start)
}

// serve reads and dispatches one request; req is its name, for logs. The
// request takes its in-flight slot once its head has arrived, and holds it
// until its answer is ready (inflight.go).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, start time.Time) (req string, ans any, err error) {
	body := &clientBody{body: r.Body, w: w, start: start, base: s.cfg.ReadTimeout, rate: s.cfg.MinBodyRate}
	rq, err := wire.ReadRequestSize(body, r.ContentLength)
	if err != nil {
		return "", nil, err
	}
	h, ok := s.handlers[rq.Req]
	if !ok {
		return "unknown", nil, wire.Invalid("req", "not a request this server knows")
	}
	if rq.Req == "register" {
		if err := s.limits.allowRegister(r); err != nil {
			return rq.Req, nil, err
		}
	}
	if !s.slots.take() {
		return rq.Req, nil, wire.Errorf(wire.ServerBusy, "-max-inflight reached")
	}
	defer s.slots.give()
	body.slots = &s.slots
	ans, err = h(r.Context(), rq)
	return rq.Req, ans, err
}

// codeOf maps an error to its wire code: a *wire.Error's own, the store's
// sentinel errors to theirs, anything else 10001.
func (s *Server) codeOf(err error) wire.Code {
	var we *wire.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The client's body fell behind the minimum pace (pace.go): it
		// may try again, on a better link.
		return wire.ServerBusy
	case errors.As(err, &we):
		return we.Code
	case errors.Is(err, store.ErrBusy):
		return wire.ServerBusy
	case errors.Is(err, store.ErrUnknownUUID):
		return wire.UUIDError
	case errors.Is(err, store.ErrTaken), errors.Is(err, store.ErrReserved):
		return wire.NumberNotAvailable
	case errors.Is(err, store.ErrCallerNotInUse):
		return wire.CallerNotInUse
	case errors.Is(err, store.ErrCalleeNotInUse):
		return wire.CalleeNotInUse
	case errors.Is(err, store.ErrBadMsgID):
		return wire.MsgIDError
	case errors.Is(err, store.ErrBadCallID), errors.Is(err, store.ErrCallState):
		return wire.CallIDError
	case errors.Is(err, store.ErrLinkExists):
		return wire.LinkDataExisted
	case errors.Is(err, store.ErrNoBalance):
		return wire.BalanceNotEnough
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return wire.ServerBusy
	}
	return wire.ServerError
}

func (s *Server) logError(req string, code wire.Code, err error) {
	// Error details never hold secrets: handlers build them without uuids,
	// tokens or keys, and the request body is never logged.
	// A full disk is logged as it starts and ends (disk.go), not per request.
	if code == wire.ServerError && !(noSpace(err) && s.disk.failed()) {
		s.log.Error("request failed", "req", req, "answer", int(code), "err", err)
		return
	}
	s.log.Debug("request refused", "req", req, "answer", int(code), "err", err)
}

// publicDetail is the detail an error answer of code tells the client:
// the one the error carries (wire.Error.Public), else the meaning of the
// store's refusal. It never holds the request's values, so no secret.
func publicDetail(err error, code wire.Code) string {
	if d := wire.PublicDetail(err, code); d != "" {
		return d
	}
	for _, r := range refusalDetails {
		if errors.Is(err, r.err) && code == r.code {
			return r.detail
		}
	}
	return ""
}

// refusalDetails say what the store's refusals mean to the client.
var refusalDetails = []struct {
	err    error
	code   wire.Code
	detail string
}{
	{store.ErrUnknownUUID, wire.UUIDError, "uuid: no number has this uuid"},
	{store.ErrCallerNotInUse, wire.CallerNotInUse, "uuid: your number is not logged in on a device"},
	{store.ErrCalleeNotInUse, wire.CalleeNotInUse, "callee: not registered, or not logged in on a device"},
	{store.ErrBadMsgID, wire.MsgIDError, "msgid: not a message to or from you, or expired"},
	{store.ErrBadCallID, wire.CallIDError, "callid: no such call, or not one you may do this on"},
	{store.ErrCallState, wire.CallIDError, "callid: the call's state does not allow this"},
	{store.ErrTaken, wire.NumberNotAvailable, "number: taken"},
	{store.ErrReserved, wire.NumberNotAvailable, "number: reserved"},
	{store.ErrNoBalance, wire.BalanceNotEnough, "number: no AI-call seconds left"},
}
