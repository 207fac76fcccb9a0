package push

import "net/http"

// pooledClient returns the client the providers send with: hc's settings
// (a plain client's when nil) over a transport that keeps an idle
// connection to each host for every worker. Go's default keeps two, so
// with more workers pushing at once most pushes opened a connection of
// their own, and over HTTPS paid a TLS handshake each. A transport that is
// not an *http.Transport is used as it is.
func pooledClient(hc *http.Client, workers int) *http.Client {
	c := &http.Client{}
	if hc != nil {
		*c = *hc
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	t, ok := base.(*http.Transport)
	if !ok {
		return c
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = workers
	// The hosts are the configured providers' few: the per-host bound is
	// the one that matters.
	t.MaxIdleConns = 0
	c.Transport = t
	return c
}
