package pgnotify

import "github.com/prometheus/client_golang/prometheus"

// stats are the Notifier's figures for /metrics. They count, never name:
// no topic, message or address is a label.
type stats struct {
	sends, sendFailures      prometheus.Counter
	topicsSent, messagesSent prometheus.Counter
	batch                    prometheus.Histogram
	received                 prometheus.Counter
	topicsReceived           prometheus.Counter
	messagesReceived         prometheus.Counter
	messagesDropped          prometheus.Counter
	reconnects               prometheus.Counter
}

func newStats() *stats {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_pgnotify_" + name, Help: help})
	}
	return &stats{
		sends:        counter("sends_total", "NOTIFY statements sent to the other nodes, each carrying every wake-up and message queued meanwhile."),
		sendFailures: counter("send_failures_total", "NOTIFY statements that failed; their wake-ups are left to the other nodes' re-check, their messages are lost."),
		topicsSent:   counter("topics_sent_total", "Wake-up topics sent to the other nodes."),
		messagesSent: counter("messages_sent_total", "Published messages (rate-limit shares) sent to the other nodes."),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ringd_pgnotify_batch_lines",
			Help:    "Topics and messages per NOTIFY statement sent.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		received:         counter("notifications_received_total", "Notifications heard from the other nodes (this node's own are not counted)."),
		topicsReceived:   counter("topics_received_total", "Wake-up topics heard from the other nodes."),
		messagesReceived: counter("messages_received_total", "Published messages heard from the other nodes."),
		messagesDropped:  counter("messages_dropped_total", "Messages not sent: invalid, or queued past the sender's bound while it could not send."),
		reconnects:       counter("listener_reconnects_total", "Times the listener's connection was lost and made again; every waiter then looks again."),
	}
}

func (s *stats) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.sends, s.sendFailures, s.topicsSent, s.messagesSent, s.batch,
		s.received, s.topicsReceived, s.messagesReceived, s.messagesDropped, s.reconnects}
}

var _ prometheus.Collector = (*Notifier)(nil)

// Describe and Collect make the Notifier a prometheus.Collector: a server
// registers it with its own metrics.
func (n *Notifier) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range n.stats.collectors() {
		c.Describe(ch)
	}
}

func (n *Notifier) Collect(ch chan<- prometheus.Metric) {
	for _, c := range n.stats.collectors() {
		c.Collect(ch)
	}
}
