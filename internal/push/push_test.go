package push_test

import (
	"context"
	"crypto/hmac"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/store/sqlite"
)

var _ push.Outbox = (*sqlite.DB)(nil)

func TestAPNsMessagePush(t *testing.T) {
	key := newAPNsKey(t)
	f := newFakeAPNs(t, key)
	e := start(t, apnsConfig(key, f), f.srv.Client())
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "ios", hexToken(1))

	a := e.Send(t, alice, bob.Number, "hello bob")
	g := f.wait(t)
	if g.path != "/3/device/"+bob.Token {
		t.Errorf("path %s", g.path)
	}
	for h, want := range map[string]string{"apns-topic": bundle, "apns-push-type": "alert", "apns-priority": "10"} {
		if v := g.header.Get(h); v != want {
			t.Errorf("%s: %q, want %q", h, v, want)
		}
	}
	if path(g.body, "aps", "alert", "title") != "Alice" || path(g.body, "aps", "alert", "body") != "hello bob" ||
		g.body["type"] != "message" || g.body["msgid"] != a.Str("msgid") || g.body["caller"] != alice.Number {
		t.Errorf("payload %v", g.body)
	}
	e.outboxEmpty(t)
	eventually(t, "the sent metric", func() bool { return e.metric(t, `ringd_pushes_sent_total{provider="apns"}`) == "1" })

	// The body is the first 100 characters of a text, long or inline, or
	// the file name.
	long := strings.Repeat("é", 5000) // 10000 bytes: not inline, streamed
	e.Send(t, alice, bob.Number, long)
	if b := path(f.wait(t).body, "aps", "alert", "body"); b != strings.Repeat("é", 100) {
		t.Errorf("preview of a long text: %q", b)
	}
	e.Send(t, alice, bob.Number, strings.Repeat("x", 150))
	if b := path(f.wait(t).body, "aps", "alert", "body"); b != strings.Repeat("x", 100) {
		t.Errorf("preview of a text: %q", b)
	}
	e.Must(t, map[string]any{"req": "send", "uuid": alice.UUID, "callee": bob.Number, "length": 3,
		"fname": "photo.jpg", "caller_name": "Ally"}, []byte{1, 2, 3})
	g = f.wait(t)
	if path(g.body, "aps", "alert", "body") != "photo.jpg" || path(g.body, "aps", "alert", "title") != "Ally" {
		t.Errorf("file payload %v", g.body)
	}

	// sends: each callee's device gets its own push.
	carol := e.device(t, "Carol", "ios", hexToken(2))
	s, _ := e.Must(t, map[string]any{"req": "sends", "uuid": alice.UUID, "callees": []string{bob.Number, carol.Number},
		"length": 2}, []byte("hi"))
	seen := map[string]any{}
	for range 2 {
		g := f.wait(t)
		seen[strings.TrimPrefix(g.path, "/3/device/")] = g.body["msgid"]
	}
	ids, _ := s["msgids"].(map[string]any)
	if seen[bob.Token] != ids[bob.Number] || seen[carol.Token] != ids[carol.Number] {
		t.Errorf("sends pushes %v, msgids %v", seen, ids)
	}
	e.outboxEmpty(t)
}

func TestAPNsCallPushes(t *testing.T) {
	key := newAPNsKey(t)
	f := newFakeAPNs(t, key)
	e := start(t, apnsConfig(key, f), f.srv.Client())
	bob := e.device(t, "Bob", "ios", hexToken(1))
	e.Clock.Set(time.Now()) // a retry comes due only when the test says
	now := e.Clock.Now()
	ring := now.Add(60 * time.Second)
	ctx := context.Background()

	queue := func(p store.Push) {
		t.Helper()
		p.Created = now
		if ok, err := e.Store.QueuePush(ctx, bob.Number, p); err != nil || !ok {
			t.Fatalf("QueuePush: %v %v", ok, err)
		}
		e.Push.Kick()
	}
	queue(store.Push{Kind: store.PushCall, CallID: "c1", Caller: "1001", CallerName: "Alice", Expires: ring})
	g := f.wait(t)
	for h, want := range map[string]string{"apns-topic": bundle + ".voip", "apns-push-type": "voip",
		"apns-priority": "10", "apns-expiration": strconv.FormatInt(ring.Unix(), 10)} {
		if v := g.header.Get(h); v != want {
			t.Errorf("call %s: %q, want %q", h, v, want)
		}
	}
	if g.body["type"] != "call" || g.body["callid"] != "c1" || g.body["caller"] != "1001" || g.body["caller_name"] != "Alice" {
		t.Errorf("call payload %v", g.body)
	}

	queue(store.Push{Kind: store.PushCallEnded, CallID: "c1", Caller: "1001", Reason: "cancelled", Expires: ring})
	g = f.wait(t)
	if g.header.Get("apns-push-type") != "voip" || g.header.Get("apns-topic") != bundle+".voip" ||
		g.body["type"] != "call-ended" || g.body["callid"] != "c1" || g.body["reason"] != "cancelled" {
		t.Errorf("call-ended push %v %v", g.header, g.body)
	}

	queue(store.Push{Kind: store.PushMissedCall, CallID: "c1", MsgID: 77, Caller: "1001", CallerName: "Alice"})
	g = f.wait(t)
	if g.header.Get("apns-push-type") != "alert" || g.header.Get("apns-topic") != bundle ||
		g.body["type"] != "missed-call" || g.body["msgid"] != "77" || path(g.body, "aps", "alert", "title") != "Alice" {
		t.Errorf("missed-call push %v %v", g.header, g.body)
	}
	e.outboxEmpty(t)

	// A call push still waiting when the call stopped ringing is dropped,
	// never sent late.
	f.queue(reply{status: 503})
	queue(store.Push{Kind: store.PushCall, CallID: "c2", Caller: "1001", Expires: ring})
	f.wait(t)
	eventually(t, "the retry", func() bool { ps := e.outbox(t); return len(ps) == 1 && ps[0].Attempts == 1 })
	e.Clock.Set(ring.Add(time.Second))
	e.Push.Kick()
	e.outboxEmpty(t)
	f.none(t)
}

func TestFCMPushes(t *testing.T) {
	f, creds := newFakeFCM(t, "proj-1")
	e := start(t, push.Config{Apps: map[string]push.App{
		"android": {FCM: &push.FCMConfig{CredentialsFile: creds, Endpoint: f.srv.URL}},
	}}, nil)
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "android", "fcm-token-bob-0123456789")

	a := e.Send(t, alice, bob.Number, "hello bob")
	g := f.wait(t)
	m, _ := g.body["message"].(map[string]any)
	if m["token"] != bob.Token || path(m, "notification", "title") != "Alice" || path(m, "notification", "body") != "hello bob" ||
		path(m, "data", "type") != "message" || path(m, "data", "msgid") != a.Str("msgid") ||
		path(m, "data", "caller") != alice.Number || path(m, "android", "priority") != "high" {
		t.Errorf("message %v", m)
	}

	now := e.Clock.Now()
	if _, err := e.Store.QueuePush(context.Background(), bob.Number, store.Push{Kind: store.PushCall, CallID: "c1",
		Caller: alice.Number, CallerName: "Alice", Created: now, Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	e.Push.Kick()
	g = f.wait(t)
	m, _ = g.body["message"].(map[string]any)
	if m["notification"] != nil || path(m, "data", "type") != "call" || path(m, "data", "callid") != "c1" ||
		path(m, "data", "caller_name") != "Alice" || path(m, "android", "priority") != "high" || path(m, "android", "ttl") != "0s" {
		t.Errorf("call %v", m)
	}
	e.outboxEmpty(t)
}

func TestRetryThenSuccess(t *testing.T) {
	key := newAPNsKey(t)
	f := newFakeAPNs(t, key)
	e := start(t, apnsConfig(key, f), f.srv.Client())
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "ios", hexToken(1))
	e.Clock.Set(time.Now())

	f.queue(reply{status: 429, reason: "TooManyRequests", retryAfter: "30"}, reply{status: 500, reason: "InternalServerError"})
	e.Send(t, alice, bob.Number, "hello")
	f.wait(t)
	var p store.Push
	eventually(t, "the first retry", func() bool { ps := e.outbox(t); p = ps[0]; return p.Attempts == 1 })
	// The outbox keeps milliseconds.
	if wait := p.Due.Sub(e.Clock.Now().Truncate(time.Millisecond)); wait < 30*time.Second {
		t.Errorf("due in %v: Retry-After 30 not honoured", wait)
	}
	e.Push.Kick()
	f.none(t) // not due yet

	e.Clock.Advance(31 * time.Second)
	e.Push.Kick()
	f.wait(t) // 500
	eventually(t, "the second retry", func() bool { ps := e.outbox(t); p = ps[0]; return p.Attempts == 2 })
	if wait := p.Due.Sub(e.Clock.Now().Truncate(time.Millisecond)); wait < 2*time.Second || wait > 3*time.Second {
		t.Errorf("second backoff %v, want about 2s (doubling from 1s)", wait)
	}
	e.Clock.Advance(3 * time.Second)
	e.Push.Kick()
	if g := f.wait(t); g.body["type"] != "message" {
		t.Errorf("payload %v", g.body)
	}
	e.outboxEmpty(t)
	eventually(t, "metrics", func() bool {
		return e.metric(t, `ringd_pushes_retried_total{provider="apns"}`) == "2" &&
			e.metric(t, `ringd_pushes_sent_total{provider="apns"}`) == "1"
	})
}

func TestGiveUp(t *testing.T) {
	f, creds := newFakeFCM(t, "proj-1")
	e := start(t, push.Config{MaxAge: push.Duration(10 * time.Minute), MinBackoff: push.Duration(time.Minute),
		Apps: map[string]push.App{"android": {FCM: &push.FCMConfig{CredentialsFile: creds, Endpoint: f.srv.URL}}}}, nil)
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "android", "fcm-token-bob-0123456789")
	e.Clock.Set(time.Now())
	for range 20 {
		f.queue(reply{status: 503, reason: "UNAVAILABLE"})
	}
	e.Send(t, alice, bob.Number, "hello")
	attempts := 0
	for attempts < 20 {
		f.wait(t)
		attempts++
		var ps []store.Push
		eventually(t, "the attempt's outcome", func() bool {
			ps = e.outbox(t)
			return len(ps) == 0 || ps[0].Attempts == attempts
		})
		if len(ps) == 0 {
			break
		}
		e.Clock.Set(ps[0].Due)
		e.Push.Kick()
	}
	// After 1, 2 and 4 minutes of backoff (7 and a little jitter), 8 more
	// would pass the 10 minutes: the fourth failure gives up.
	if attempts != 4 {
		t.Errorf("%d attempts before giving up", attempts)
	}
	eventually(t, "the failed metric", func() bool { return e.metric(t, `ringd_pushes_failed_total{provider="fcm",reason="expired"}`) == "1" })
	if msgs := e.Get(t, bob); len(msgs) != 1 || msgs[0]["text"] != "hello" {
		t.Errorf("the message must stay when its push is given up: %v", msgs)
	}
}

func TestDeadTokenUnbinds(t *testing.T) {
	key := newAPNsKey(t)
	fa := newFakeAPNs(t, key)
	ff, creds := newFakeFCM(t, "proj-1")
	pc := apnsConfig(key, fa)
	pc.Apps["android"] = push.App{FCM: &push.FCMConfig{CredentialsFile: creds, Endpoint: ff.srv.URL}}
	e := start(t, pc, fa.srv.Client())
	alice := e.User(t, "Alice")
	cases := []struct {
		appid string
		f     *fake
		r     reply
	}{
		{"ios", fa, reply{status: 410, reason: "Unregistered"}},
		{"ios", fa, reply{status: 400, reason: "BadDeviceToken"}},
		{"ios", fa, reply{status: 400, reason: "DeviceTokenNotForTopic"}},
		{"android", ff, reply{status: 404, reason: "UNREGISTERED"}},
		{"android", ff, reply{status: 403, reason: "SENDER_ID_MISMATCH"}},
	}
	for i, c := range cases {
		bob := e.device(t, "Bob", c.appid, hexToken(100+i))
		c.f.queue(c.r)
		if a := e.Send(t, alice, bob.Number, "hello"); a.Code() != 10000 {
			t.Fatalf("send: %v", a)
		}
		c.f.wait(t)
		eventually(t, c.r.reason+" unbinding", func() bool {
			n, err := e.Store.Number(context.Background(), bob.Number)
			return err == nil && !n.InUse()
		})
		if a := e.Send(t, alice, bob.Number, "again"); a.Code() != 10011 {
			t.Errorf("%s: send to an unbound number: %v", c.r.reason, a)
		}
	}
	e.outboxEmpty(t)
	if strings.Contains(e.log.String(), hexToken(100)) || strings.Contains(e.log.String(), "fcm-token") {
		t.Error("a push token was logged")
	}
}

func TestDeadTokenAfterReloginKeepsBinding(t *testing.T) {
	key := newAPNsKey(t)
	f := newFakeAPNs(t, key)
	e := start(t, apnsConfig(key, f), f.srv.Client())
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "ios", hexToken(1))
	e.Clock.Set(time.Now())

	// The provider is slow to call the old token dead; meanwhile Bob logs
	// in on a new token. The answer must not undo that login.
	hold := make(chan struct{})
	f.queue(reply{status: 410, reason: "Unregistered", hold: hold}, reply{status: 410, reason: "Unregistered", hold: hold})
	if a := e.Send(t, alice, bob.Number, "one"); a.Code() != 10000 {
		t.Fatalf("send one: %v", a)
	}
	e.Must(t, map[string]any{"req": "login", "appid": "ios", "build": "1.0", "name": "Bob", "locale": "en_US",
		"token": hexToken(2), "uuid": []string{bob.UUID}}, nil)
	close(hold)
	f.wait(t)
	e.outboxEmpty(t)
	if n, _ := e.Store.Number(context.Background(), bob.Number); n.Token != hexToken(2) {
		t.Fatalf("a re-login with a new token was undone: token %q", n.Token)
	}

	// Same token, logged in again after the push was made: it stands too.
	hold2 := make(chan struct{})
	f.queue(reply{status: 410, reason: "Unregistered", hold: hold2})
	if a := e.Send(t, alice, bob.Number, "two"); a.Code() != 10000 {
		t.Fatalf("send two: %v", a)
	}
	e.Clock.Advance(2 * time.Second)
	e.Must(t, map[string]any{"req": "login", "appid": "ios", "build": "1.1", "name": "Bob", "locale": "en_US",
		"token": hexToken(2), "uuid": []string{bob.UUID}}, nil)
	close(hold2)
	f.wait(t)
	e.outboxEmpty(t)
	if n, _ := e.Store.Number(context.Background(), bob.Number); n.Token != hexToken(2) {
		t.Fatalf("a re-login with the same token was undone: token %q", n.Token)
	}
	if a := e.Send(t, alice, bob.Number, "three"); a.Code() != 10000 {
		t.Fatalf("send after re-login: %v", a)
	}
	f.wait(t)
}

// TestDeadTokenSameSecondRelogin: a webhook receiver answers 410 (the
// device is gone) for a push made just before the device logged in again
// with the same token, all within one second of the server's clock. The
// stale answer must not unbind the fresh login: the store compares login
// counts, which never tie, where a time in seconds would.
func TestDeadTokenSameSecondRelogin(t *testing.T) {
	arrived := make(chan string, 10)
	answer := make(chan int, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		arrived <- string(b)
		select {
		case code := <-answer:
			w.WriteHeader(code)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hook.Close)
	e := start(t, push.Config{Apps: map[string]push.App{
		"desktop": {Webhook: &push.WebhookConfig{URL: hook.URL, Secret: "s3cret"}},
	}}, nil)
	// The clock stands still: the push and the re-login fall in one second.
	e.Clock.Set(time.Unix(1_900_000_000, 0))
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "desktop", "desktop-token-7")
	if a := e.Send(t, alice, bob.Number, "made before the re-login"); a.Code() != 10000 {
		t.Fatalf("send: %v", a)
	}
	select {
	case <-arrived: // the push is in flight, its answer held
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook call")
	}
	e.Must(t, map[string]any{"req": "login", "appid": "desktop", "build": "1.1", "name": "Bob", "locale": "en_US",
		"token": "desktop-token-7", "uuid": []string{bob.UUID}}, nil)
	answer <- http.StatusGone
	eventually(t, "the stale push's end", func() bool {
		return e.metric(t, `ringd_pushes_failed_total{provider="webhook",reason="dead_token"}`) == "1"
	})
	if n, err := e.Store.Number(context.Background(), bob.Number); err != nil || n.Token != "desktop-token-7" {
		t.Fatalf("a re-login in the second of the push was undone by its stale 410: token %q, %v", n.Token, err)
	}
	// Bob still gets messages, and a 410 for a push made after his last
	// login does unbind him.
	answer <- http.StatusGone
	if a := e.Send(t, alice, bob.Number, "made after the re-login"); a.Code() != 10000 {
		t.Fatalf("send after the re-login: %v", a)
	}
	<-arrived
	eventually(t, "unbinding", func() bool {
		n, _ := e.Store.Number(context.Background(), bob.Number)
		return !n.InUse()
	})
}

func TestRestartResumesOutbox(t *testing.T) {
	key := newAPNsKey(t)
	f := newFakeAPNs(t, key)
	dir := t.TempDir()
	// First run: APNs is unreachable, so the push waits for a retry.
	down := apnsConfig(key, f)
	down.Apps["ios"].APNs.Endpoint = "https://127.0.0.1:1"
	e := startAt(t, dir, down, f.srv.Client())
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "ios", hexToken(1))
	a := e.Send(t, alice, bob.Number, "while you were out")
	eventually(t, "a failed attempt", func() bool { ps := e.outbox(t); return len(ps) == 1 && ps[0].Attempts >= 1 })
	e.Close()

	// Second run on the same data, APNs back, later on.
	e2 := startAt(t, dir, apnsConfig(key, f), f.srv.Client())
	e2.Clock.Set(time.Now().Add(10 * time.Minute))
	e2.Push.Kick()
	g := f.wait(t)
	if g.body["msgid"] != a.Str("msgid") || path(g.body, "aps", "alert", "body") != "while you were out" {
		t.Errorf("resumed push %v", g.body)
	}
	e2.outboxEmpty(t)
}

func TestUnconfiguredAppIDGetsNoPush(t *testing.T) {
	key := newAPNsKey(t)
	f := newFakeAPNs(t, key)
	e := start(t, apnsConfig(key, f), f.srv.Client())
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "desktop.app", "desktop-token-1")
	carol := e.device(t, "Carol", "desktop.app", "desktop-token-2")
	for _, u := range []string{bob.Number, carol.Number, bob.Number} {
		if a := e.Send(t, alice, u, "hello"); a.Code() != 10000 {
			t.Fatalf("send: %v", a)
		}
	}
	if ps := e.outbox(t); len(ps) != 0 {
		t.Fatalf("pushes queued for an unconfigured appid: %v", ps)
	}
	// A configured device after them gets its push, and it is the only one.
	dave := e.device(t, "Dave", "ios", hexToken(4))
	e.Send(t, alice, dave.Number, "hello")
	if g := f.wait(t); g.path != "/3/device/"+dave.Token {
		t.Errorf("push to %s", g.path)
	}
	f.none(t)
	if n := strings.Count(e.log.String(), "no provider configured"); n != 1 {
		t.Errorf("unconfigured appid logged %d times, want once", n)
	}
	if msgs := e.Get(t, bob); len(msgs) != 2 {
		t.Errorf("messages without push: %v", msgs)
	}
}

func TestWebhook(t *testing.T) {
	type hit struct {
		header http.Header
		body   []byte
	}
	hits := make(chan hit, 10)
	status := make(chan int, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Clone(), b}
		select {
		case s := <-status:
			w.WriteHeader(s)
		default:
		}
	}))
	t.Cleanup(hook.Close)
	e := start(t, push.Config{Apps: map[string]push.App{
		"desktop": {Webhook: &push.WebhookConfig{URL: hook.URL + "/push", Secret: "s3cret"}},
	}}, nil)
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "desktop", "desktop-token-1")
	a := e.Send(t, alice, bob.Number, "hello bob")
	var h hit
	select {
	case h = <-hits:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook call")
	}
	if h.header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", h.header.Get("Content-Type"))
	}
	if sig := h.header.Get("X-Ringd-Signature"); !hmac.Equal([]byte(sig), []byte(push.Sign("s3cret", h.body))) {
		t.Errorf("signature %q", sig)
	}
	for _, want := range []string{`"type":"message"`, `"appid":"desktop"`, `"token":"desktop-token-1"`,
		`"msgid":"` + a.Str("msgid") + `"`, `"caller":"` + alice.Number + `"`, `"caller_name":"Alice"`, `"body":"hello bob"`} {
		if !strings.Contains(string(h.body), want) {
			t.Errorf("body %s lacks %s", h.body, want)
		}
	}
	e.outboxEmpty(t)

	// 410 from the webhook: the device is gone.
	status <- http.StatusGone
	e.Send(t, alice, bob.Number, "again")
	<-hits
	eventually(t, "unbinding", func() bool {
		n, _ := e.Store.Number(context.Background(), bob.Number)
		return !n.InUse()
	})
}

// A provider that does not answer holds only the dispatcher's workers:
// send and get answer as ever, and the pushes go once it recovers.
func TestSlowProviderNeverSlowsRequests(t *testing.T) {
	key := newAPNsKey(t)
	f := newFakeAPNs(t, key)
	pc := apnsConfig(key, f)
	pc.Workers = 2
	e := start(t, pc, f.srv.Client())
	alice := e.User(t, "Alice")
	bob := e.device(t, "Bob", "ios", hexToken(1))
	hold := make(chan struct{})
	defer func() {
		select {
		case <-hold:
		default:
			close(hold)
		}
	}()
	for range 2 {
		f.queue(reply{status: 200, hold: hold})
	}
	e.Send(t, alice, bob.Number, "first")
	e.Send(t, alice, bob.Number, "second")
	// Both workers are now stuck in the provider.
	eventually(t, "both workers stuck", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.replies) == 0
	})
	for i := range 20 {
		if a := e.Send(t, alice, bob.Number, "msg "+strconv.Itoa(i)); a.Code() != 10000 {
			t.Fatalf("send while the provider hangs: %v", a)
		}
	}
	if msgs := e.Get(t, bob); len(msgs) != 22 {
		t.Fatalf("get while the provider hangs: %d messages", len(msgs))
	}
	if n := len(e.outbox(t)); n != 22 {
		t.Fatalf("outbox holds %d, want 22", n)
	}
	close(hold)
	for range 22 {
		f.wait(t)
	}
	e.outboxEmpty(t)
}
