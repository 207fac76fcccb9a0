package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/ringd/ringd/internal/server"
)

// Serving TLS on -listen.
//
// The certificate and key are read at start (a bad pair stops ringd) and
// again on each SIGHUP, so that a renewed certificate needs no restart. New
// handshakes take the pair in use from an atomic pointer; connections
// already made keep theirs. A pair that fails to load on SIGHUP (a file
// missing, unreadable, or the key not matching the certificate, as while
// the two files are being replaced) is logged and the pair in use stays.
//
// The TLS listener wraps server.Listener's, so accepts keep its handling of
// descriptor exhaustion. Its held background read (internal/server/conn.go)
// is never taken under TLS: tls.Conn reads its TCP connection a record at a
// time, in reads of at least 512 bytes, never the one-byte read a hold
// waits for, and HTTP/2 has no background read at all. So ConnContext need
// not, and does not, look through a *tls.Conn.

// certificate is the serving certificate, reloadable from its files.
type certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate] // never nil once loaded
}

// loadCertificate reads the pair from certFile and keyFile.
func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the pair again and, if it is good, makes it the one new
// handshakes get; otherwise the pair in use stays.
func (c *certificate) reload() (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.current.Store(&pair)
	return &pair, nil
}

// get is tls.Config's GetCertificate.
func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// listener serves TLS over ln, offering HTTP/2 and HTTP/1.1.
func (c *certificate) listener(ln net.Listener) net.Listener {
	return tls.NewListener(ln, &tls.Config{
		GetCertificate: c.get,
		NextProtos:     []string{"h2", "http/1.1"},
		MinVersion:     tls.VersionTLS12,
	})
}

// logCertificate logs what a loaded pair certifies and until when; a
// certificate is public, so this logs nothing secret.
func logCertificate(log *slog.Logger, msg string, pair *tls.Certificate) {
	if leaf := pair.Leaf; leaf != nil {
		log.Info(msg, "subject", leaf.Subject.String(), "dns", leaf.DNSNames, "not_after", leaf.NotAfter)
		return
	}
	log.Info(msg)
}

// tlsFlagsError checks that -tls-cert and -tls-key are given together.
func tlsFlagsError(certFile, keyFile string) error {
	if (certFile == "") != (keyFile == "") {
		return errors.New("-tls-cert and -tls-key: give both (to serve HTTPS) or neither")
	}
	return nil
}

// reloadOnHangup reloads cert (nil: ringd serves plain HTTP) at each
// SIGHUP until the returned stop is called. SIGHUP no longer ends ringd
// either way, so a `systemctl reload` never stops a server without TLS.
func reloadOnHangup(cert *certificate, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			if cert == nil {
				log.Info("SIGHUP: nothing to reload (no -tls-cert)")
				continue
			}
			pair, err := cert.reload()
			if err != nil {
				log.Error("SIGHUP: TLS certificate not reloaded, the one in use stays", "err", err)
				continue
			}
			logCertificate(log, "TLS certificate reloaded", pair)
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// loadTLS reads o's certificate and key; nil without -tls-cert.
func loadTLS(o *options, log *slog.Logger) (*certificate, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	cert, err := loadCertificate(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, err
	}
	logCertificate(log, "TLS certificate loaded", cert.current.Load())
	return cert, nil
}

// listen listens on addr through server.Listener, and serves TLS over it
// when cert is not nil.
func listen(addr string, cert *certificate) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ln = server.Listener(ln)
	if cert != nil {
		ln = cert.listener(ln)
	}
	return ln, nil
}
