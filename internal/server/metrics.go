package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// metrics are what /metrics shows, in Prometheus' text format. Each Server
// has its own registry, so that several servers in one process (tests)
// count apart.
type metrics struct {
	reg      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec   // by req and answer code
	latency  *prometheus.HistogramVec // by req
	messages prometheus.Counter
	bytes    prometheus.Counter
	// answered holds, by req, the series of its answers of 10000, made at
	// the first one (so /metrics shows only what happened): looking them
	// up by label values (hashing, a lock, the code's string) at every
	// request was a cost of every answer.
	answered sync.Map // req → *answeredSeries
	// history samples requests for the console's chart (console.go).
	history *counterHistory
}

// answeredSeries are a req's series of its requests answered 10000.
type answeredSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringd_requests_total", Help: "Requests answered, by req and answer code.",
		}, []string{"req", "answer"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ringd_request_seconds", Help: "Time to answer a request, by req.",
			// From a cached read to a large upload on a slow link.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"req"}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_messages_stored_total", Help: "Messages stored (one per callee).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ringd_message_bytes_stored_total", Help: "Bytes of message data stored (once per send or sends).",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.messages, m.bytes, buildInfoGauge(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	m.history = newCounterHistory(m.requests)
	return m
}

// knownReq bounds the req label to the requests the server has, so that a
// client cannot grow the metrics without bound by inventing names.
func (s *Server) knownReq(req string) string {
	if req == "" {
		return "none"
	}
	if _, ok := s.handlers[req]; ok {
		return req
	}
	return "unknown"
}

// observe records a finished request.
func (s *Server) observe(req string, code wire.Code, start time.Time) {
	req = s.knownReq(req)
	if code == wire.OK {
		a, ok := s.metrics.answered.Load(req)
		if !ok {
			a, _ = s.metrics.answered.LoadOrStore(req, &answeredSeries{
				requests: s.metrics.requests.WithLabelValues(req, strconv.Itoa(int(wire.OK))),
				latency:  s.metrics.latency.WithLabelValues(req),
			})
		}
		as := a.(*answeredSeries)
		as.requests.Inc()
		as.latency.Observe(time.Since(start).Seconds())
		return
	}
	s.metrics.requests.WithLabelValues(req, strconv.Itoa(int(code))).Inc()
	s.metrics.latency.WithLabelValues(req).Observe(time.Since(start).Seconds())
}

// storeMessages stores a send's messages and counts them. The
// connection's read is held while the send waits for the disk (conn.go)
// once the data has been read to its end: at once when body is nil (the
// data was read before), else when body reaches its end.
func (s *Server) storeMessages(ctx context.Context, m store.NewMessages, body *dataReader) (store.SendResult, error) {
	var hc *holdConn
	if body == nil {
		hc = holdRead(ctx)
	}
	res, err := s.msgs.Send(ctx, m)
	hc.endHold()
	body.endHold()
	if err == nil && !res.Replayed {
		s.metrics.messages.Add(float64(len(res.MsgIDs)))
		s.metrics.bytes.Add(float64(m.Length))
	}
	return res, err
}

// registerSpaceMetrics registers the gauges of space, read at each scrape:
// the data filesystem's free bytes, and whether sends are refused for lack
// of them.
func (s *Server) registerSpaceMetrics() {
	if s.cfg.DataDir != "" {
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ringd_data_free_bytes", Help: "Bytes free on the filesystem of the data directory (-1: unknown).",
		}, s.disk.free))
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ringd_disk_full", Help: "1 while sends are refused for lack of space on the data filesystem (-disk-reserve).",
		}, func() float64 {
			if s.disk.isFull() {
				return 1
			}
			return 0
		}))
	}
}
