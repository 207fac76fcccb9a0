package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a new self-signed certificate for 127.0.0.1, with the
// given serial number, and its key to certFile and keyFile, and returns
// the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "ringd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if certFile != "" {
		writePEM(t, certFile, "CERTIFICATE", der)
	}
	if keyFile != "" {
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsClient is a protocol client of url that trusts only cert, over
// HTTP/2, or over HTTP/1.1 when h1 is set.
func tlsClient(url string, cert *x509.Certificate, h1 bool) *client {
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: !h1, MaxIdleConnsPerHost: 64}
	if h1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // no h2
	}
	return &client{url: url, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// healthz asks c's server for /healthz and returns the HTTP major version
// of the answer and the serial number of the certificate the server
// showed on that connection.
func healthz(t *testing.T, c *client) (int, int64) {
	t.Helper()
	resp, err := c.hc.Get(c.url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("/healthz: %s, TLS %v", resp.Status, resp.TLS != nil)
	}
	return resp.ProtoMajor, resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

// TestTLSServesHTTP2AndReloadsOnSIGHUP: with -tls-cert and -tls-key ringd
// serves the protocol over HTTPS, HTTP/2 and HTTP/1.1 alike; on SIGHUP it
// rereads the pair: new connections get the new certificate while one made
// before goes on working, and a bad pair keeps the one in use.
func TestTLSServesHTTP2AndReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)
	p := startRingd(t, filepath.Join(dir, "data"), "-tls-cert", certFile, "-tls-key", keyFile)
	url := "https://" + strings.TrimPrefix(p.url, "http://")

	old := tlsClient(url, first, false)
	if proto, serial := healthz(t, old); proto != 2 || serial != 1 {
		t.Fatalf("HTTP/%d, certificate %d; want HTTP/2 and certificate 1", proto, serial)
	}
	alice, bob := newUser(t, old, "Alice"), newUser(t, old, "Bob")
	sendAndFetch(t, old, alice, bob, 64<<10)

	// HTTP/1.1 over TLS, kept alive: sends, which hold the background read
	// on a plain connection, take turns on one connection here.
	h1 := tlsClient(url, first, true)
	if proto, _ := healthz(t, h1); proto != 1 {
		t.Fatalf("HTTP/%d, want HTTP/1.1", proto)
	}
	for range 3 {
		sendAndFetch(t, h1, alice, bob, 5000)
	}

	second := writeCert(t, certFile, keyFile, 2)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "TLS certificate reloaded")
	// old trusts the first certificate only: an answer is from the
	// connection made before the reload.
	if proto, serial := healthz(t, old); proto != 2 || serial != 1 {
		t.Fatalf("the connection made before the reload: HTTP/%d, certificate %d", proto, serial)
	}
	sendAndFetch(t, old, alice, bob, 100)
	fresh := tlsClient(url, second, false)
	if proto, serial := healthz(t, fresh); proto != 2 || serial != 2 {
		t.Fatalf("a new connection after the reload: HTTP/%d, certificate %d", proto, serial)
	}
	if _, err := tlsClient(url, first, false).hc.Get(url + "healthz"); err == nil {
		t.Fatal("a new connection still gets the first certificate")
	}

	// A key that does not match the certificate (the files half replaced):
	// logged, and the second pair stays in use.
	writeCert(t, "", keyFile, 3)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "TLS certificate not reloaded")
	if _, serial := healthz(t, tlsClient(url, second, false)); serial != 2 {
		t.Fatalf("after a bad pair, new connections get certificate %d", serial)
	}
	sendAndFetch(t, fresh, alice, bob, 100)
}

// sendAndFetch sends size bytes from one user to another through c and
// checks they come back whole.
func sendAndFetch(t *testing.T, c *client, from, to user, size int) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	a, _ := c.must(t, map[string]any{"req": "send", "uuid": from.uuid, "callee": to.number, "length": size, "fname": "f.bin"}, data)
	_, got := c.must(t, map[string]any{"req": "fetch", "uuid": to.uuid, "msgid": a.str("msgid")}, nil)
	if string(got) != string(data) {
		t.Fatalf("fetched %d bytes differ from the %d sent", len(got), size)
	}
}

// TestTLSStartErrors: -tls-cert without -tls-key (or the reverse), or a
// pair that cannot be loaded, stops ringd at start with a message saying
// why, and leaves no data directory.
func TestTLSStartErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	otherKey := filepath.Join(dir, "other.pem")
	writeCert(t, "", otherKey, 2)
	garbage := writeFile(t, "garbage.pem", "not a certificate\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert alone", []string{"-tls-cert", certFile}, "give both"},
		{"key alone", []string{"-tls-key", keyFile}, "give both"},
		{"missing cert", []string{"-tls-cert", filepath.Join(dir, "none.pem"), "-tls-key", keyFile}, "no such file"},
		{"unreadable key", []string{"-tls-cert", certFile, "-tls-key", dir}, "is a directory"},
		{"key of another cert", []string{"-tls-cert", certFile, "-tls-key", otherKey}, "private key does not match public key"},
		{"not PEM", []string{"-tls-cert", garbage, "-tls-key", keyFile}, "failed to find any PEM data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			// A ringd that starts after all is killed rather than waited for.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, ringdBinary(t), append([]string{"-listen", "127.0.0.1:0", "-data", data}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("ringd started:\n%s", out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("the message lacks %q:\n%s", tc.want, out)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the data directory was made: %v", err)
			}
		})
	}
}
