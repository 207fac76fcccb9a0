package pgnotify

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/notify"
)

// closeFlush bounds the last send at Close.
const closeFlush = time.Second

// sendLoop sends the queued topics, batched: whatever queued while the
// previous NOTIFY was on its way goes in the next. Its connection is made
// when first needed and again after a failure; topics that fail to go are
// dropped, and the other nodes' re-check covers them.
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

// sendPending sends the topics queued now in one statement, on *conn
// (made if nil).
func (n *Notifier) sendPending(ctx context.Context, conn **pgx.Conn) error {
	n.mu.Lock()
	topics := make([]notify.Topic, 0, len(n.pending))
	for t := range n.pending {
		topics = append(topics, t)
	}
	clear(n.pending)
	n.mu.Unlock()
	if len(topics) == 0 {
		return nil
	}
	p := payloads(n.node, topics)
	err := n.notify(ctx, conn, p)
	if err != nil && ctx.Err() == nil {
		// Most often the session was ended (a failover, a terminated
		// backend) since the last send: once more on a new one.
		err = n.notify(ctx, conn, p)
	}
	return err
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

// payloads packs topics into notifications of at most maxPayload bytes,
// each "node\ntopic\ntopic...".
func payloads(node string, topics []notify.Topic) []string {
	var out []string
	var b strings.Builder
	for _, t := range topics {
		if b.Len() > 0 && b.Len()+1+len(t) > maxPayload {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(node)
		}
		b.WriteByte('\n')
		b.WriteString(string(t))
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
