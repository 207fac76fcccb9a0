package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/ringd/ringd/internal/notify"
)

// leaseStore is a store shared by several nodes that keeps work to one
// node at a time with leases (postgres.DB): the janitor runs only on the
// node holding its lease.
type leaseStore interface {
	HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// DefaultNodeLease is how long a node holds the janitor's lease without
// renewing it: another node takes over within it when the holder dies.
const DefaultNodeLease = 30 * time.Second

// janitorLeaseName is the janitor's row in the store's leases.
const janitorLeaseName = "janitor"

// lease is this node's claim on one lease, renewed every third of its
// length so that a missed renewal or two does not lose it.
type lease struct {
	st     leaseStore
	name   string
	holder string
	ttl    time.Duration
	held   atomic.Bool
}

// nodeName names this process among the nodes: host, pid and a random
// part, so that a restarted node is a new holder.
func nodeName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// initLeases makes the janitor's lease when the store keeps leases.
func (s *Server) initLeases() {
	ls, ok := s.st.(leaseStore)
	if !ok {
		return
	}
	if s.cfg.NodeName == "" {
		s.cfg.NodeName = nodeName()
	}
	if s.cfg.NodeLease <= 0 {
		s.cfg.NodeLease = DefaultNodeLease
	}
	s.janitorLease = &lease{st: ls, name: janitorLeaseName, holder: s.cfg.NodeName, ttl: s.cfg.NodeLease}
}

// runsJanitor reports whether this node does the janitor's work now.
func (s *Server) runsJanitor() bool {
	return s.janitorLease == nil || s.janitorLease.held.Load()
}

// keepLease renews (or tries to take) l until the server closes, then
// releases it at once, so another node takes over without waiting it out.
func (s *Server) keepLease(l *lease) {
	defer s.wg.Done()
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	released, cancelSub := s.notifier.Subscribe(leaseTopic(l.name))
	defer cancelSub()
	for {
		s.renew(l)
		select {
		case <-s.stop:
			s.release(l)
			return
		case <-t.C:
		case <-released: // given up by its holder (or a re-check): try now
		}
	}
}

// leaseTopic is notified when a node gives the lease name up.
func leaseTopic(name string) notify.Topic { return notify.Topic("lease:" + name) }

// release gives l up and tells the other nodes, so one takes it at once.
func (s *Server) release(l *lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.st.ReleaseLease(ctx, l.name, l.holder); err != nil {
		s.log.Warn("releasing lease", "lease", l.name, "err", err)
	}
	if l.held.Swap(false) {
		s.notifier.Notify(leaseTopic(l.name))
	}
}

// renew takes or renews l once; a failure counts as not holding it, since
// the hold may end before the next try.
func (s *Server) renew(l *lease) {
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
	defer cancel()
	held, err := l.st.HoldLease(ctx, l.name, l.holder, l.ttl)
	if err != nil {
		s.log.Warn("renewing lease", "lease", l.name, "err", err)
	}
	if was := l.held.Swap(held); was != held {
		s.log.Info("lease changed hands", "lease", l.name, "held", held, "node", l.holder)
		if held {
			s.wakeJanitor()
		}
	}
}

// wakeJanitor makes the janitor run now rather than at its next tick.
func (s *Server) wakeJanitor() {
	select {
	case s.janitorWake <- struct{}{}:
	default:
	}
}
