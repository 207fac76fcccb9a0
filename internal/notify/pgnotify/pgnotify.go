// Package pgnotify carries ringd's wake-ups between nodes that share one
// PostgreSQL database, with LISTEN/NOTIFY.
//
// Each node listens on one dedicated connection, never one of the pool's:
// LISTEN belongs to a session, and a pooled connection is handed to other
// work between transactions. Notify wakes the node's own waiters at once
// and queues the topic; a sender sends what has queued on a second
// dedicated connection, many topics to one NOTIFY, after the change's own
// transaction has committed and never inside it, so a data transaction
// neither waits on NOTIFY's commit-time lock nor rolls its wake-ups back.
//
// A notification is a hint. One can be lost (the listener's connection
// drops, the sender's fails), so every waiter is also woken after the
// listener reconnects and every Recheck, and looks again: a lost
// notification costs at most Recheck, never a message.
//
// Published messages (notify.Notifier's Publish) travel the same way, in
// the same payloads as the topics, and are as much a hint.
//
// A payload is "node\nline\nline...": a line is a topic, or "!kind msg"
// for a published message (no topic begins with "!").
package pgnotify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/notify"
)

// Channel is the LISTEN/NOTIFY channel every node of one database uses.
const Channel = "ringd_notify"

// ApplicationName is what the listener's and sender's sessions show in
// pg_stat_activity.
const ApplicationName = "ringd notify"

// DefaultRecheck is how often waiters look again when no notification
// came.
const DefaultRecheck = 5 * time.Second

// maxPayload bounds one notification's payload, under PostgreSQL's 8000
// bytes.
const maxPayload = 7000

// Options tune Open; the zero value is usable.
type Options struct {
	// Recheck is how often every waiter is woken to look again, so that a
	// lost notification costs at most this long; default DefaultRecheck.
	Recheck time.Duration
	Logger  *slog.Logger
}

// Notifier is a notify.Notifier across every node listening on one
// database.
type Notifier struct {
	local   *notify.Local
	conn    *pgx.ConnConfig // carries the password: never logged
	node    string          // this node's id; its own notifications are skipped
	log     *slog.Logger
	recheck time.Duration

	mu       sync.Mutex // guards the following
	pending  map[notify.Topic]struct{}
	messages []string // published, as their lines ("!kind msg"), not yet sent

	handlers handlers // of published messages from other nodes (messages.go)
	stats    *stats   // what /metrics shows (metrics.go)

	queued chan struct{} // holds one value while topics are pending
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ notify.Notifier = (*Notifier)(nil)

// Open connects the listener to the database at url and starts listening
// and sending. A database that cannot be reached fails here; a connection
// lost later is made again, and waiters re-check meanwhile.
func Open(ctx context.Context, url string, opts Options) (*Notifier, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgnotify: database URL: %w", err)
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	if opts.Recheck <= 0 {
		opts.Recheck = DefaultRecheck
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	n := &Notifier{
		local:   notify.NewLocal(),
		conn:    cfg,
		node:    nodeID(),
		log:     opts.Logger,
		recheck: opts.Recheck,
		pending: map[notify.Topic]struct{}{},
		queued:  make(chan struct{}, 1),
		stats:   newStats(),
	}
	listener, err := n.connectListener(ctx)
	if err != nil {
		return nil, err
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(3)
	go n.listen(listener)
	go n.sendLoop()
	go n.recheckLoop()
	return n, nil
}

// nodeID is a random name for this process's notifications.
func nodeID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Close stops listening, sends what is still queued (briefly), and closes
// both connections. Waiters are not woken: the server ends them itself.
func (n *Notifier) Close() {
	n.cancel()
	n.wg.Wait()
}

// Notify wakes the subscribers of t on this node at once, and on the other
// nodes once the sender has sent it.
func (n *Notifier) Notify(t notify.Topic) {
	n.local.Notify(t)
	n.mu.Lock()
	n.pending[t] = struct{}{}
	n.mu.Unlock()
	n.wakeSender()
}

// wakeSender makes the sender send what is queued.
func (n *Notifier) wakeSender() {
	select {
	case n.queued <- struct{}{}:
	default:
	}
}

// Subscribe is notify.Local's: wake-ups from other nodes arrive through
// the same subscriptions.
func (n *Notifier) Subscribe(topics ...notify.Topic) (<-chan struct{}, func()) {
	return n.local.Subscribe(topics...)
}

// connectListener opens the listener's session and LISTENs on it.
func (n *Notifier) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, n.conn)
	if err != nil {
		return nil, fmt.Errorf("pgnotify: listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("pgnotify: LISTEN: %w", err)
	}
	return conn, nil
}

// listen delivers notifications until Close. When the connection fails it
// connects again and then wakes every waiter, since notifications sent
// while it was gone are lost.
func (n *Notifier) listen(conn *pgx.Conn) {
	defer n.wg.Done()
	for {
		if conn == nil {
			if conn = n.reconnectListener(); conn == nil {
				return // closed
			}
			n.stats.reconnects.Inc()
			n.local.NotifyAll()
		}
		note, err := conn.WaitForNotification(n.ctx)
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			if n.ctx.Err() != nil {
				return
			}
			n.log.Warn("pgnotify: listener connection lost; reconnecting", "err", err)
			continue
		}
		n.deliver(note.Payload)
	}
}

// reconnectListener tries until it has a listening connection, or Close.
func (n *Notifier) reconnectListener() *pgx.Conn {
	wait := 50 * time.Millisecond
	for {
		conn, err := n.connectListener(n.ctx)
		if err == nil {
			n.log.Info("pgnotify: listening again")
			return conn
		}
		select {
		case <-n.ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, n.recheck)
	}
}

// deliver wakes the subscribers of the topics another node sent, and
// hands its messages to their handlers.
func (n *Notifier) deliver(payload string) {
	node, lines, _ := strings.Cut(payload, "\n")
	if node == n.node {
		return // woken locally when sent; messages are for the others
	}
	n.stats.received.Inc()
	for line := range strings.SplitSeq(lines, "\n") {
		switch {
		case line == "":
		case line[0] == messageMark:
			n.stats.messagesReceived.Inc()
			n.handlers.deliver(line[1:])
		default:
			n.stats.topicsReceived.Inc()
			n.local.Notify(notify.Topic(line))
		}
	}
}

// recheckLoop wakes every waiter each Recheck, so that a notification
// lost on the way costs at most that long.
func (n *Notifier) recheckLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.recheck)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.local.NotifyAll()
		}
	}
}
