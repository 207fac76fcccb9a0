package server

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// The operator requests the console (/console/) needs beside reserve,
// credit and stats: lookup, what the server knows of one number, and
// counters, its requests' answers over the last minutes. Both are behind
// the admin token, and neither shows a uuid, a push token or a message's
// contents.

// lookupListMax bounds the queued messages one lookup lists; it counts
// them all.
const lookupListMax = 100

// numberLookup is what lookup reads of the store.
type numberLookup interface {
	Number(ctx context.Context, number string) (store.Number, error)
	Balance(ctx context.Context, number string) (int64, error)
	History(ctx context.Context, q store.GetQuery) ([]store.Message, bool, error)
}

type lookupAnswer struct {
	Answer     wire.Code       `json:"answer"`
	Number     string          `json:"number"`
	Registered bool            `json:"registered"`
	InUse      bool            `json:"in_use"`
	AppID      string          `json:"appid,omitempty"`
	Build      string          `json:"build,omitempty"`
	Balance    int64           `json:"balance"`
	Queued     int             `json:"queued"`
	Messages   []queuedMessage `json:"messages"`
}

// queuedMessage is what an operator sees of a message: never its data or
// its file's name.
type queuedMessage struct {
	MsgID  string `json:"msgid"`
	Caller string `json:"caller"`
	Time   int64  `json:"time"`
	Length int64  `json:"length"`
}

// lookup tells whether a number is registered and in use, its device's
// appid and build, its AI-call balance and its queued messages: those a
// get would return, oldest first.
func (s *Server) lookup(ctx context.Context, r *wire.Request) (any, error) {
	h, err := s.admin(r)
	if err != nil {
		return nil, err
	}
	if h.Number == nil || !wire.IsNumber(*h.Number) {
		return nil, wire.Invalid("number", wire.RuleNumber)
	}
	return lookupNumber(ctx, s.st, *h.Number, s.clock.Now().Add(-getWindow), s.cfg.MaxGet)
}

func lookupNumber(ctx context.Context, st numberLookup, number string, since time.Time, page int) (lookupAnswer, error) {
	a := lookupAnswer{Answer: wire.OK, Number: number, Messages: []queuedMessage{}}
	n, err := st.Number(ctx, number)
	if errors.Is(err, store.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	a.Registered, a.InUse = true, n.InUse()
	if n.Device != nil {
		a.AppID, a.Build = n.Device.AppID, n.Device.Build
	}
	if a.Balance, err = st.Balance(ctx, number); err != nil && !errors.Is(err, store.ErrNotFound) {
		return a, err
	}
	q := store.GetQuery{Callees: []string{number}, After: since.Unix(), Limit: page}
	for {
		msgs, more, err := st.History(ctx, q)
		if err != nil {
			return a, err
		}
		for _, m := range msgs {
			if m.State != store.Sent {
				continue
			}
			a.Queued++
			if len(a.Messages) < lookupListMax {
				a.Messages = append(a.Messages, queuedMessage{MsgID: strconv.FormatInt(m.ID, 10),
					Caller: m.Caller, Time: m.Time, Length: m.Length})
			}
		}
		if !more || len(msgs) == 0 {
			return a, nil
		}
		q.AfterID = msgs[len(msgs)-1].ID
	}
}

// Counters' history: a sample of the answers by code every
// counterInterval, the last counterSamples of them (ten minutes), so that
// the console's chart has a past the moment it opens.
const (
	counterInterval = 2 * time.Second
	counterSamples  = 300
)

// counterSample is the total of the answers given by code, since start,
// at a time.
type counterSample struct {
	Time    int64            `json:"time"`
	Answers map[string]int64 `json:"answers"`
}

type countersAnswer struct {
	Answer   wire.Code                   `json:"answer"`
	Interval float64                     `json:"interval"`
	Samples  []counterSample             `json:"samples"`
	Requests map[string]map[string]int64 `json:"requests"`
}

// counterHistory keeps the samples. Its totals are read from the
// requests counter that /metrics shows, through a registry of its own.
type counterHistory struct {
	reg     *prometheus.Registry // holds only metrics.requests
	mu      sync.Mutex           // guards the following
	samples []counterSample      // oldest first
}

func newCounterHistory(requests *prometheus.CounterVec) *counterHistory {
	reg := prometheus.NewRegistry()
	reg.MustRegister(requests)
	return &counterHistory{reg: reg}
}

// read returns the totals now: by answer code, and by req and code.
func (c *counterHistory) read() (byCode map[string]int64, byReq map[string]map[string]int64) {
	byCode, byReq = map[string]int64{}, map[string]map[string]int64{}
	families, _ := c.reg.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var req, code string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "req":
					req = l.GetValue()
				case "answer":
					code = l.GetValue()
				}
			}
			n := int64(m.GetCounter().GetValue())
			byCode[code] += n
			if byReq[req] == nil {
				byReq[req] = map[string]int64{}
			}
			byReq[req][code] += n
		}
	}
	return byCode, byReq
}

// sample records the totals at now.
func (c *counterHistory) sample(now time.Time) {
	byCode, _ := c.read()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.samples) == counterSamples {
		c.samples = append(c.samples[:0], c.samples[1:]...)
	}
	c.samples = append(c.samples, counterSample{Time: now.Unix(), Answers: byCode})
}

// run samples every counterInterval until stop is closed.
func (c *counterHistory) run(wg *sync.WaitGroup, stop <-chan struct{}, clock Clock) {
	defer wg.Done()
	t := time.NewTicker(counterInterval)
	defer t.Stop()
	for {
		c.sample(clock.Now())
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// counters answers the samples kept and, as the last one, the totals now.
func (s *Server) counters(ctx context.Context, r *wire.Request) (any, error) {
	if _, err := s.admin(r); err != nil {
		return nil, err
	}
	c := s.metrics.history
	byCode, byReq := c.read()
	c.mu.Lock()
	samples := make([]counterSample, len(c.samples), len(c.samples)+1)
	copy(samples, c.samples)
	c.mu.Unlock()
	samples = append(samples, counterSample{Time: s.clock.Now().Unix(), Answers: byCode})
	return countersAnswer{Answer: wire.OK, Interval: counterInterval.Seconds(), Samples: samples, Requests: byReq}, nil
}
