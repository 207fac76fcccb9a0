// Package push owns the delivery of push notifications: the configuration
// that maps each device appid to its provider (APNs, FCM or a webhook), the
// notification each kind of push becomes for each provider, and the
// dispatcher that drains the store's durable outbox.
//
// Pushes are written to the outbox by the store, in the transaction of what
// they announce; nothing here is on a request's path. The dispatcher sends
// them with bounded concurrency, retries what the provider may take later
// (429, 5xx, network errors) with exponential backoff honouring
// Retry-After, gives up after a bounded time, and unbinds a device whose
// token the provider calls dead.
package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Duration is a time.Duration that configuration files give as text
// ("30s", "1h").
type Duration time.Duration

// UnmarshalJSON accepts "90s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration: want text like \"30s\" or seconds")
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// Config is the push section of ringd's configuration.
type Config struct {
	// Apps maps a device's appid to its provider. An appid with no entry
	// gets no push.
	Apps map[string]App `json:"apps"`
	// Workers bounds the pushes in flight at once. Default 16.
	Workers int `json:"workers"`
	// MaxAge is how long a message's push is retried before it is given
	// up (the message itself stays). Default 1h. A call's push is given up
	// when the call stops ringing.
	MaxAge Duration `json:"max-age"`
	// Timeout bounds one attempt. Default 30s.
	Timeout Duration `json:"timeout"`
	// MinBackoff and MaxBackoff bound the wait between attempts; it doubles
	// from MinBackoff. Defaults 1s and 5m.
	MinBackoff Duration `json:"min-backoff"`
	MaxBackoff Duration `json:"max-backoff"`
}

// App is one appid's provider: exactly one of its fields is set.
type App struct {
	APNs    *APNsConfig    `json:"apns"`
	FCM     *FCMConfig     `json:"fcm"`
	Webhook *WebhookConfig `json:"webhook"`
}

// APNsConfig is an Apple app, with token (.p8) authentication.
type APNsConfig struct {
	TeamID     string `json:"team-id"`
	KeyID      string `json:"key-id"`
	KeyFile    string `json:"key-file"` // the .p8 file
	BundleID   string `json:"bundle-id"`
	Production bool   `json:"production"` // false: the sandbox
	// Endpoint replaces Apple's host (a proxy, or a test server).
	Endpoint string `json:"endpoint"`
}

// FCMConfig is a Firebase app, sent through the FCM HTTP v1 API.
type FCMConfig struct {
	CredentialsFile string `json:"credentials-file"` // service-account JSON
	ProjectID       string `json:"project-id"`       // default: the credentials'
	// Endpoint replaces https://fcm.googleapis.com (a proxy, or a test
	// server).
	Endpoint string `json:"endpoint"`
}

// WebhookConfig is a plain HTTP endpoint, for self-hosted and desktop
// clients: each push is POSTed to URL as JSON.
type WebhookConfig struct {
	URL string `json:"url"`
	// Secret, when set, signs each body: header X-Ringd-Signature is
	// "sha256=" and the hex HMAC-SHA256 of the body under Secret.
	Secret string `json:"secret"`
}

func (c *Config) setDefaults() {
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.MaxAge <= 0 {
		c.MaxAge = Duration(time.Hour)
	}
	if c.Timeout <= 0 {
		c.Timeout = Duration(30 * time.Second)
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = Duration(time.Second)
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(c.MinBackoff, Duration(5*time.Minute))
	}
}

// Validate reports a configuration that cannot work, naming the appid.
func (c *Config) Validate() error {
	for id, a := range c.Apps {
		n := 0
		if a.APNs != nil {
			n++
			if a.APNs.TeamID == "" || a.APNs.KeyID == "" || a.APNs.KeyFile == "" || a.APNs.BundleID == "" {
				return fmt.Errorf("push app %q: apns needs team-id, key-id, key-file and bundle-id", id)
			}
		}
		if a.FCM != nil {
			n++
			if a.FCM.CredentialsFile == "" {
				return fmt.Errorf("push app %q: fcm needs credentials-file", id)
			}
		}
		if a.Webhook != nil {
			n++
			if a.Webhook.URL == "" {
				return fmt.Errorf("push app %q: webhook needs url", id)
			}
		}
		if n != 1 {
			return fmt.Errorf("push app %q: give exactly one of apns, fcm, webhook", id)
		}
	}
	return nil
}

// Failure is a push the provider refused, or could not be asked.
type Failure struct {
	Provider string
	Status   int    // HTTP status; 0 for a network error
	Reason   string // the provider's reason code
	// Retry: the provider may take it later; RetryAfter, when the provider
	// said, is how much later.
	Retry      bool
	RetryAfter time.Duration
	// Dead: the token is no longer valid; the device must be unbound.
	Dead bool
	Err  error // the network error, if any
}

func (f *Failure) Error() string {
	s := fmt.Sprintf("%s: status %d", f.Provider, f.Status)
	if f.Reason != "" {
		s += " " + f.Reason
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

func (f *Failure) Unwrap() error { return f.Err }

// netFailure is a request that got no answer: worth retrying.
func netFailure(provider string, err error) *Failure {
	// A *url.Error quotes the URL, and APNs' holds the device token.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Failure{Provider: provider, Retry: true, Err: err}
}

// statusFailure classifies an HTTP answer that is not a success by its
// status alone: 429 and 5xx may be retried.
func statusFailure(provider string, status int, reason string, retryAfter time.Duration) *Failure {
	return &Failure{Provider: provider, Status: status, Reason: reason,
		Retry: status == 429 || status >= 500, RetryAfter: retryAfter}
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

var errNoProvider = errors.New("no provider for appid")
