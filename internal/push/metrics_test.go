package push_test

import (
	"testing"

	"github.com/ringd/ringd/internal/push"
)

// TestCountersFromStart: right after start, before any push, every push
// counter of every configured provider is there at 0, failures with each
// reason, so that an alert sees 0 rather than no data. Then each way of
// giving up counts under its reason.
func TestCountersFromStart(t *testing.T) {
	key := newAPNsKey(t)
	fa := newFakeAPNs(t, key)
	ff, creds := newFakeFCM(t, "proj-1")
	pc := apnsConfig(key, fa)
	pc.Apps["android"] = push.App{FCM: &push.FCMConfig{CredentialsFile: creds, Endpoint: ff.srv.URL}}
	pc.Apps["desktop"] = push.App{Webhook: &push.WebhookConfig{URL: ff.srv.URL + "/hook"}}
	e := start(t, pc, fa.srv.Client())
	samples := []string{`ringd_pushes_failed_total{provider="none",reason="unconfigured"}`}
	for _, p := range []string{"apns", "fcm", "webhook"} {
		samples = append(samples, `ringd_pushes_sent_total{provider="`+p+`"}`, `ringd_pushes_retried_total{provider="`+p+`"}`)
		for _, r := range []string{"dead_token", "refused", "expired"} {
			samples = append(samples, `ringd_pushes_failed_total{provider="`+p+`",reason="`+r+`"}`)
		}
	}
	for _, s := range samples {
		if v := e.metric(t, s); v != "0" {
			t.Errorf("%s is %q right after start, want 0", s, v)
		}
	}

	alice := e.User(t, "Alice")
	for i, r := range []reply{{status: 410, reason: "Unregistered"}, {status: 400, reason: "BadTopic"}} {
		bob := e.device(t, "Bob", "ios", hexToken(200+i))
		fa.queue(r)
		e.Send(t, alice, bob.Number, "hello")
		fa.wait(t)
	}
	e.outboxEmpty(t)
	eventually(t, "the failures by reason", func() bool {
		return e.metric(t, `ringd_pushes_failed_total{provider="apns",reason="dead_token"}`) == "1" &&
			e.metric(t, `ringd_pushes_failed_total{provider="apns",reason="refused"}`) == "1"
	})
}
