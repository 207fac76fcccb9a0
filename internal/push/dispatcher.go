package push

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/store"
)

// Outbox is the store's side of the dispatcher: the durable queue of
// pushes. sqlite.DB implements it.
type Outbox interface {
	// DuePushes returns up to limit pushes due at now, soonest first,
	// leaving out the ids in skip.
	DuePushes(ctx context.Context, now time.Time, limit int, skip map[int64]bool) ([]store.Push, error)
	// NextPushDue returns when the soonest push is due; false if none.
	NextPushDue(ctx context.Context) (time.Time, bool, error)
	DeletePush(ctx context.Context, id int64) error
	// DeletePushes removes the pushes ids in one commit.
	DeletePushes(ctx context.Context, ids []int64) error
	RetryPush(ctx context.Context, id int64, attempts int, due time.Time) error
	// UnbindToken unbinds the numbers still bound to token, unless the
	// device logged in again after the push was made: its login count is
	// above login, the push's store.Push.Login (compare and clear). A
	// count, not a time, so a login in the same second as the push stands.
	UnbindToken(ctx context.Context, token string, login int64) (int, error)
	OutboxDepth(ctx context.Context) (int, error)
}

// provider delivers one push to one service.
type provider interface {
	name() string
	// send delivers p: nil, or an error (a *Failure says what to do).
	send(ctx context.Context, p store.Push) error
}

// Clock tells the time; tests inject one they move.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Options are the dispatcher's collaborators; the zero value is usable.
type Options struct {
	Clock  Clock
	Logger *slog.Logger
	// HTTPClient, when set, carries every provider's requests (tests point
	// it at their fake servers' certificates).
	HTTPClient *http.Client
}

// pollEvery bounds how long the dispatcher sleeps without looking at the
// outbox, for pushes that came due while nothing woke it.
const pollEvery = time.Second

// Dispatcher drains the outbox.
type Dispatcher struct {
	cfg   Config
	out   Outbox
	apps  map[string]provider // fixed after New
	clock Clock
	log   *slog.Logger

	sent, failed, retried *prometheus.CounterVec
	depth                 prometheus.GaugeFunc

	kick   chan struct{}
	ctx    context.Context // cancelled by Close: ends attempts in flight
	cancel context.CancelFunc
	slots  chan struct{} // one per push in flight
	wg     sync.WaitGroup

	mu       sync.Mutex     // guards the following
	inflight map[int64]bool // attempts in flight, one slot each
	// deleting are the pushes done (delivered or given up) whose delete
	// has not committed: they hold no slot, but are not taken again.
	// toDelete are those of them no delete has begun on; deleterBusy is
	// whether a goroutine is deleting (deleteDone).
	deleting    map[int64]bool
	toDelete    []int64
	deleterBusy bool

	unconfigured sync.Map // appids already logged as having no provider
}

// New makes a dispatcher for cfg over out. It reads each provider's key or
// credentials now, so that a bad configuration stops ringd at start.
func New(cfg Config, out Outbox, opts Options) (*Dispatcher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Dispatcher{
		cfg:      cfg,
		out:      out,
		apps:     make(map[string]provider, len(cfg.Apps)),
		clock:    opts.Clock,
		log:      opts.Logger,
		kick:     make(chan struct{}, 1),
		slots:    make(chan struct{}, cfg.Workers),
		inflight: map[int64]bool{},
		deleting: map[int64]bool{},
	}
	// APNs speaks HTTP/2 on one connection per host, apns2's own unless
	// the caller gives a client; the others share one pooled client.
	hc := pooledClient(opts.HTTPClient, cfg.Workers)
	for id, a := range cfg.Apps {
		var p provider
		var err error
		switch {
		case a.APNs != nil:
			apnsClient := opts.HTTPClient
			if apnsClient != nil {
				apnsClient = hc
			}
			p, err = newAPNs(*a.APNs, apnsClient)
		case a.FCM != nil:
			p, err = newFCM(*a.FCM, hc)
		default:
			p = newWebhook(*a.Webhook, hc)
		}
		if err != nil {
			return nil, err
		}
		d.apps[id] = p
	}
	d.initCounters()
	d.depth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringd_push_outbox_depth",
		Help: "Pushes waiting in the outbox."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := out.OutboxDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// Why a push was given up: the reason label of ringd_pushes_failed_total.
const (
	reasonDeadToken    = "dead_token"   // the provider says the device is gone; it was unbound
	reasonRefused      = "refused"      // the provider refused it for good
	reasonExpired      = "expired"      // out of time: past max-age, or the call is over
	reasonUnconfigured = "unconfigured" // its appid lost its provider (provider "none")
)

// initCounters makes the push counters, with every series they can have
// present from the start at 0, so that an alert on them sees 0 rather
// than no data.
func (d *Dispatcher) initCounters() {
	d.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringd_pushes_sent_total",
		Help: "Pushes the provider accepted."}, []string{"provider"})
	d.failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringd_pushes_failed_total",
		Help: "Pushes given up, by reason: dead_token, refused, expired, unconfigured."}, []string{"provider", "reason"})
	d.retried = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringd_pushes_retried_total",
		Help: "Push attempts that failed and were scheduled again."}, []string{"provider"})
	d.failed.WithLabelValues("none", reasonUnconfigured)
	for _, p := range d.apps {
		name := p.name()
		d.sent.WithLabelValues(name)
		d.retried.WithLabelValues(name)
		for _, r := range []string{reasonDeadToken, reasonRefused, reasonExpired} {
			d.failed.WithLabelValues(name, r)
		}
	}
}

// Collectors are the dispatcher's metrics: pushes sent, failed and
// retried by provider, and the outbox's depth.
func (d *Dispatcher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{d.sent, d.failed, d.retried, d.depth}
}

// Wants reports whether pushes for appid are worth queueing: whether it
// has a provider. The store asks it for each push it would queue; an
// appid without one is logged, once.
func (d *Dispatcher) Wants(appid string) bool {
	if _, ok := d.apps[appid]; ok {
		return true
	}
	if _, logged := d.unconfigured.LoadOrStore(appid, true); !logged {
		d.log.Info("push: no provider configured for appid; its devices get no push", "appid", appid)
	}
	return false
}

// Start runs the dispatcher until Close.
func (d *Dispatcher) Start() {
	d.wg.Add(1)
	go d.loop()
}

// Close stops the dispatcher. Attempts in flight are abandoned and stay in
// the outbox, to be sent after the next start, or by another node at once
// when the outbox claims (claim.go).
func (d *Dispatcher) Close() {
	abandoned := d.inFlight()
	d.cancel()
	d.wg.Wait()
	d.releaseClaims(abandoned)
}

// Kick tells the dispatcher pushes may be waiting; it never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) loop() {
	defer d.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		wait := d.dispatchDue()
		t.Reset(wait)
		select {
		case <-d.ctx.Done():
			return
		case <-d.kick:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		case <-t.C:
		}
	}
}

// dispatchDue starts sending the pushes that are due, as far as free
// slots allow, and returns how long to sleep unless woken.
func (d *Dispatcher) dispatchDue() time.Duration {
	d.mu.Lock()
	free := cap(d.slots) - len(d.inflight)
	skip := make(map[int64]bool, len(d.inflight)+len(d.deleting))
	for id := range d.inflight {
		skip[id] = true
	}
	for id := range d.deleting {
		skip[id] = true
	}
	d.mu.Unlock()
	if free <= 0 {
		return pollEvery // a finishing attempt kicks
	}
	now := d.clock.Now()
	ps, err := d.takeDue(now, free, skip)
	if err != nil {
		if d.ctx.Err() == nil {
			d.log.Warn("push: reading the outbox", "err", err)
		}
		return pollEvery
	}
	for _, p := range ps {
		prov, ok := d.apps[p.AppID]
		if !ok {
			// Queued under an earlier configuration: nobody to send it to.
			d.Wants(p.AppID)
			d.drop(p, "none", reasonUnconfigured)
			continue
		}
		d.mu.Lock()
		d.inflight[p.ID] = true
		d.mu.Unlock()
		d.slots <- struct{}{}
		d.wg.Add(1)
		go d.deliver(prov, p)
	}
	if len(ps) == free {
		return 0 // more may be due at once
	}
	next, ok, err := d.out.NextPushDue(d.ctx)
	if err != nil || !ok {
		return pollEvery
	}
	if w := next.Sub(now); w > 0 {
		return min(w, pollEvery)
	}
	return pollEvery // due but in flight: its end kicks
}

// drop gives up p before an attempt: it is counted failed and deleted.
func (d *Dispatcher) drop(p store.Push, prov, reason string) {
	d.giveUp(prov, reason)
	if err := d.out.DeletePush(context.Background(), p.ID); err != nil {
		d.log.Warn("push: deleting", "id", p.ID, "err", err)
	}
}

// giveUp counts a push given up; it reports true, done: its caller deletes
// it.
func (d *Dispatcher) giveUp(prov, reason string) bool {
	d.failed.WithLabelValues(prov, reason).Inc()
	return true
}

// callMaxAge is how long a push about a call that names no expiry is
// worth sending: a VoIP push that arrives later would ring, or show a
// call screen, for a call long over.
const callMaxAge = time.Minute

// expiry is when p is given up.
func (d *Dispatcher) expiry(p store.Push) time.Time {
	switch {
	case !p.Expires.IsZero():
		return p.Expires
	case p.Kind == store.PushCall || p.Kind == store.PushCallEnded:
		return p.Created.Add(callMaxAge)
	}
	return p.Created.Add(time.Duration(d.cfg.MaxAge))
}

// backoff is the wait before attempt n+1 (n ≥ 1): doubling from
// MinBackoff, at most MaxBackoff, with a little jitter so that pushes that
// failed together do not all come back together.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := time.Duration(d.cfg.MinBackoff)
	for i := 1; i < n && b < time.Duration(d.cfg.MaxBackoff); i++ {
		b *= 2
	}
	b = min(b, time.Duration(d.cfg.MaxBackoff))
	return b + rand.N(b/10+1)
}

// deliver makes an attempt at p in a slot of its own, then frees the slot
// and, if p is done, leaves it to be deleted with the others done
// meanwhile.
func (d *Dispatcher) deliver(prov provider, p store.Push) {
	defer d.wg.Done()
	done := d.attempt(prov, p)
	<-d.slots
	d.mu.Lock()
	delete(d.inflight, p.ID)
	lead := false
	if done {
		d.deleting[p.ID] = true
		d.toDelete = append(d.toDelete, p.ID)
		lead, d.deleterBusy = !d.deleterBusy, true
	}
	d.mu.Unlock()
	d.Kick()
	if lead {
		d.deleteDone()
	}
}

// deleteDone deletes the pushes done, in one statement all those done
// while the previous one ran, until none is left. One goroutine runs it
// at a time: the others leave their pushes to it, and return. A push
// stays in deleting, not taken again here, and claimed (its lease counts
// from before its attempt and outlasts it by leaseMargin), until its
// delete commits; only then may it be sent again, if the delete failed.
func (d *Dispatcher) deleteDone() {
	for {
		d.mu.Lock()
		ids := d.toDelete
		d.toDelete = nil
		if len(ids) == 0 {
			d.deleterBusy = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		// Its own context: Close waits for it rather than cut it short.
		if err := d.out.DeletePushes(context.Background(), ids); err != nil {
			d.log.Warn("push: deleting pushes done", "pushes", len(ids), "err", err)
		}
		d.mu.Lock()
		for _, id := range ids {
			delete(d.deleting, id)
		}
		d.mu.Unlock()
	}
}

// attempt sends p once and records the outcome, but for deleting p: it
// reports whether p is done (sent, or given up) and is to be deleted.
func (d *Dispatcher) attempt(prov provider, p store.Push) (done bool) {
	name := prov.name()
	// Bookkeeping uses its own context: once an attempt is made, recording
	// its outcome must not be cut short by Close.
	bg := context.Background()
	log := d.log.With("push", p.ID, "kind", string(p.Kind), "appid", p.AppID, "provider", name)
	now := d.clock.Now()
	exp := d.expiry(p)
	if !now.Before(exp) {
		log.Info("push: given up, out of time", "attempts", p.Attempts)
		return d.giveUp(name, reasonExpired)
	}
	ctx, cancel := context.WithTimeout(d.ctx, time.Duration(d.cfg.Timeout))
	err := prov.send(ctx, p)
	cancel()
	if err == nil {
		d.sent.WithLabelValues(name).Inc()
		return true
	}
	if d.ctx.Err() != nil {
		return false // stopping: it stays in the outbox for the next start
	}
	var f *Failure
	if !errors.As(err, &f) {
		log.Warn("push: failed", "err", err)
		return d.giveUp(name, reasonRefused)
	}
	switch {
	case f.Dead:
		n, err := d.out.UnbindToken(bg, p.Token, p.Login)
		if err != nil {
			log.Warn("push: unbinding a dead token", "err", err)
		}
		log.Info("push: token dead", "status", f.Status, "reason", f.Reason, "numbers_unbound", n)
		return d.giveUp(name, reasonDeadToken)
	case f.Retry:
		attempts := p.Attempts + 1
		due := now.Add(max(d.backoff(attempts), f.RetryAfter))
		if !due.Before(exp) {
			log.Info("push: given up after retries", "attempts", attempts, "err", f)
			return d.giveUp(name, reasonExpired)
		}
		d.retried.WithLabelValues(name).Inc()
		log.Debug("push: will retry", "attempts", attempts, "due", due, "err", f)
		if err := d.out.RetryPush(bg, p.ID, attempts, due); err != nil {
			log.Warn("push: rescheduling", "err", err)
		}
		return false
	}
	log.Warn("push: refused", "status", f.Status, "reason", f.Reason)
	return d.giveUp(name, reasonRefused)
}
