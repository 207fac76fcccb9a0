package pgnotify

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// closeFlush bounds the last send at Close.
const closeFlush = time.Second

// sendLoop sends the queued topics and messages, batched: whatever queued
// while the previous NOTIFY was on its way goes in the next. Its
// connection is made when first needed and again after a failure; what
// fails to go is dropped: the other nodes' re-check covers the topics,
// and a message is a hint.
func (n *Notifier) sendLoop() {
	defer n.wg.Done()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	failing := false
	for {
		select {
		case <-n.ctx.Done():
			ctx, cancel := context.WithTimeout(context.Background(), closeFlush)
			defer cancel()
			n.sendPending(ctx, &conn)
			return
		case <-n.queued:
		}
		err := n.sendPending(n.ctx, &conn)
		switch {
		case err != nil && !failing && n.ctx.Err() == nil:
			n.log.Warn("pgnotify: sending notifications failed; other nodes rely on their re-check", "err", err)
			failing = true
		case err == nil && failing:
			n.log.Info("pgnotify: sending notifications again")
			failing = false
		}
	}
}

// sendPending sends the topics and messages queued now in one statement,
// on *conn (made if nil).
func (n *Notifier) sendPending(ctx context.Context, conn **pgx.Conn) error {
	n.mu.Lock()
	lines := make([]string, 0, len(n.pending)+len(n.messages))
	for t := range n.pending {
		lines = append(lines, string(t))
	}
	topics := len(lines)
	lines = append(lines, n.messages...)
	clear(n.pending)
	n.messages = n.messages[:0]
	n.mu.Unlock()
	if len(lines) == 0 {
		return nil
	}
	p := payloads(n.node, lines)
	err := n.notify(ctx, conn, p)
	if err != nil && ctx.Err() == nil {
		// Most often the session was ended (a failover, a terminated
		// backend) since the last send: once more on a new one.
		err = n.notify(ctx, conn, p)
	}
	if err != nil {
		n.stats.sendFailures.Inc()
		return err
	}
	n.stats.sends.Inc()
	n.stats.batch.Observe(float64(len(lines)))
	n.stats.topicsSent.Add(float64(topics))
	n.stats.messagesSent.Add(float64(len(lines) - topics))
	return nil
}

// notify sends the payloads in one statement on *conn, connecting first if
// it is nil; on failure *conn is closed and set to nil.
func (n *Notifier) notify(ctx context.Context, conn **pgx.Conn, payloads []string) error {
	if *conn == nil {
		c, err := pgx.ConnectConfig(ctx, n.conn)
		if err != nil {
			return err
		}
		*conn = c
	}
	// One implicit transaction: every payload is delivered at its commit.
	_, err := (*conn).Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) p`, Channel, payloads)
	if err != nil {
		(*conn).Close(context.Background())
		*conn = nil
	}
	return err
}

// payloads packs lines (topics and message lines) into notifications of at
// most maxPayload bytes, each "node\nline\nline...". A line is at most
// notify.MaxMessage and a few bytes, so every one fits.
func payloads(node string, lines []string) []string {
	var out []string
	var b strings.Builder
	for _, l := range lines {
		if b.Len() > 0 && b.Len()+1+len(l) > maxPayload {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(node)
		}
		b.WriteByte('\n')
		b.WriteString(l)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
