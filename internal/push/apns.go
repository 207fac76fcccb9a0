package push

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"

	"github.com/ringd/ringd/internal/store"
)

// apnsProvider sends through Apple's HTTP/2 API with token authentication.
type apnsProvider struct {
	cfg    APNsConfig
	client *apns2.Client
}

var _ provider = (*apnsProvider)(nil)

func newAPNs(cfg APNsConfig, hc *http.Client) (*apnsProvider, error) {
	key, err := token.AuthKeyFromFile(cfg.KeyFile)
	if err != nil {
		// The error names the file, never its content.
		return nil, fmt.Errorf("apns key-file %s: %w", cfg.KeyFile, err)
	}
	c := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID})
	if cfg.Production {
		c.Production()
	} else {
		c.Development()
	}
	if cfg.Endpoint != "" {
		c.Host = strings.TrimRight(cfg.Endpoint, "/")
	}
	if hc != nil {
		c.HTTPClient = hc
	}
	// apns2 drops the answer's headers; this keeps Retry-After.
	c.HTTPClient = &http.Client{Transport: retryAfterTransport{c.HTTPClient.Transport},
		Timeout: c.HTTPClient.Timeout}
	return &apnsProvider{cfg: cfg, client: c}, nil
}

func (*apnsProvider) name() string { return "apns" }

// apsAlert is the aps dictionary of an alert.
type apsAlert struct {
	Alert struct {
		Title string `json:"title,omitempty"`
		Body  string `json:"body"`
	} `json:"alert"`
	Sound          string `json:"sound,omitempty"`
	MutableContent int    `json:"mutable-content,omitempty"`
}

// apnsPayload is the JSON body: aps plus ringd's own keys.
type apnsPayload struct {
	APS        any    `json:"aps"`
	Type       string `json:"type"`
	MsgID      string `json:"msgid,omitempty"`
	CallID     string `json:"callid,omitempty"`
	Caller     string `json:"caller,omitempty"`
	CallerName string `json:"caller_name,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// notification turns a push into its APNs form.
func (a *apnsProvider) notification(p store.Push) *apns2.Notification {
	n := &apns2.Notification{DeviceToken: p.Token, Priority: apns2.PriorityHigh}
	pl := apnsPayload{Type: string(p.Kind), Caller: p.Caller, CallerName: p.CallerName, CallID: p.CallID}
	if p.MsgID != 0 {
		pl.MsgID = strconv.FormatInt(p.MsgID, 10)
	}
	alert := func(title, body string) {
		var aps apsAlert
		aps.Alert.Title, aps.Alert.Body, aps.Sound = title, body, "default"
		aps.MutableContent = 1 // lets a notification extension decrypt or enrich it
		pl.APS = aps
		n.Topic, n.PushType = a.cfg.BundleID, apns2.PushTypeAlert
	}
	switch p.Kind {
	case store.PushMessage:
		alert(p.CallerName, p.Body)
	case store.PushMissedCall:
		alert(p.CallerName, "Missed call")
	case store.PushCall, store.PushCallEnded:
		// A VoIP push wakes the app to ring through CallKit (or, for
		// call-ended, to end the call it is ringing). iOS requires every
		// VoIP push to be reported to CallKit, which is why call-ended is
		// one too and not a silent background push that iOS may delay.
		pl.APS = struct{}{}
		pl.Reason = p.Reason
		n.Topic, n.PushType = a.cfg.BundleID+".voip", apns2.PushTypeVOIP
	}
	if !p.Expires.IsZero() {
		// Apple stores and retries it no longer than it is worth.
		n.Expiration = p.Expires
	}
	n.Payload = pl
	return n
}

func (a *apnsProvider) send(ctx context.Context, p store.Push) error {
	if !isHex(p.Token) {
		// Not an APNs token at all; it cannot go in the URL either.
		return &Failure{Provider: "apns", Status: 400, Reason: apns2.ReasonBadDeviceToken, Dead: true}
	}
	ra := new(retryAfterBox)
	res, err := a.client.PushWithContext(context.WithValue(ctx, retryAfterKey{}, ra), a.notification(p))
	if err != nil {
		return netFailure("apns", err)
	}
	if res.StatusCode == http.StatusOK {
		return nil
	}
	f := statusFailure("apns", res.StatusCode, res.Reason, parseRetryAfter(ra.get(), time.Now()))
	switch {
	case res.StatusCode == http.StatusGone && res.Reason == apns2.ReasonUnregistered,
		res.StatusCode == http.StatusGone && res.Reason == apns2.ReasonExpiredToken,
		res.StatusCode == http.StatusBadRequest && (res.Reason == apns2.ReasonBadDeviceToken ||
			res.Reason == apns2.ReasonDeviceTokenNotForTopic):
		f.Dead = true
	case res.StatusCode == http.StatusForbidden && res.Reason == apns2.ReasonExpiredProviderToken:
		f.Retry = true // apns2 makes a new JWT on the next attempt
	}
	return f
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// retryAfterKey carries a *retryAfterBox in a request's context, for
// retryAfterTransport to fill.
type retryAfterKey struct{}

type retryAfterBox struct {
	mu sync.Mutex // guards the following
	v  string
}

func (b *retryAfterBox) get() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v
}

// retryAfterTransport copies an answer's Retry-After into the request's
// retryAfterBox.
type retryAfterTransport struct{ rt http.RoundTripper }

func (t retryAfterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt := t.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	res, err := rt.RoundTrip(r)
	if err == nil {
		if b, ok := r.Context().Value(retryAfterKey{}).(*retryAfterBox); ok {
			b.mu.Lock()
			b.v = res.Header.Get("Retry-After")
			b.mu.Unlock()
		}
	}
	return res, err
}

// CloseIdleConnections lets the client drop idle connections on Close.
func (t retryAfterTransport) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
