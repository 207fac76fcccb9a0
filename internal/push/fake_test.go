package push_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/ringd/ringd/internal/push"
	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/store"
)

// The fakes below are the other side of the real protocols: an HTTP/2 TLS
// server that checks what APNs checks, and an FCM server with its OAuth
// token endpoint. Each records what it got and answers what the test
// queued (200 when nothing is queued).

// reply is one answer a fake gives.
type reply struct {
	status     int
	reason     string // APNs reason, or FCM errorCode
	retryAfter string
	hold       chan struct{} // when set, wait for it to close before answering
}

// got is one request a fake received.
type got struct {
	method, path string
	header       http.Header
	body         map[string]any
	err          string // what the fake found wrong, "" when all was right
}

type fake struct {
	srv  *httptest.Server
	reqs chan got

	mu      sync.Mutex // guards the following
	replies []reply
}

func (f *fake) queue(r ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, r...)
}

func (f *fake) next() reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.replies) == 0 {
		return reply{status: 200}
	}
	r := f.replies[0]
	f.replies = f.replies[1:]
	return r
}

// wait returns the next request the fake got, failing the test if none
// comes in time or the fake found it wrong.
func (f *fake) wait(t *testing.T) got {
	t.Helper()
	select {
	case g := <-f.reqs:
		if g.err != "" {
			t.Fatalf("%s %s: %s", g.method, g.path, g.err)
		}
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no push arrived")
	}
	return got{}
}

// none fails if the fake got a request.
func (f *fake) none(t *testing.T) {
	t.Helper()
	select {
	case g := <-f.reqs:
		t.Fatalf("unexpected push %s %s %v", g.method, g.path, g.body)
	default:
	}
}

func decodeBody(r *http.Request) (map[string]any, error) {
	var m map[string]any
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	return m, json.Unmarshal(b, &m)
}

// apnsKey is a test .p8 key, written to a file.
type apnsKey struct {
	priv *ecdsa.PrivateKey
	file string
}

const (
	teamID = "TEAM123456"
	keyID  = "KEY1234567"
	bundle = "com.example.ringd"
)

func newAPNsKey(t *testing.T) apnsKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "AuthKey.p8")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return apnsKey{priv: priv, file: file}
}

// newFakeAPNs starts an HTTP/2 TLS server that checks each push as APNs
// would: the path, the bearer JWT (ES256 under the test key, issuer the
// team, kid the key id), and the headers it needs.
func newFakeAPNs(t *testing.T, key apnsKey) *fake {
	f := &fake{reqs: make(chan got, 100)}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := got{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
		var problems []string
		if r.ProtoMajor != 2 {
			problems = append(problems, "not HTTP/2")
		}
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/3/device/") {
			problems = append(problems, "not POST /3/device/<token>")
		}
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
		if !ok {
			problems = append(problems, "no bearer token")
		} else {
			tok, err := jwt.Parse(auth, func(tok *jwt.Token) (any, error) {
				if tok.Method != jwt.SigningMethodES256 {
					return nil, fmt.Errorf("alg %v", tok.Header["alg"])
				}
				if tok.Header["kid"] != keyID {
					return nil, fmt.Errorf("kid %v", tok.Header["kid"])
				}
				return &key.priv.PublicKey, nil
			})
			if err != nil {
				problems = append(problems, "JWT: "+err.Error())
			} else if c, _ := tok.Claims.(jwt.MapClaims); c["iss"] != teamID {
				problems = append(problems, fmt.Sprintf("JWT iss %v", c["iss"]))
			}
		}
		if r.Header.Get("apns-topic") == "" || r.Header.Get("apns-push-type") == "" {
			problems = append(problems, "apns-topic or apns-push-type missing")
		}
		body, err := decodeBody(r)
		if err != nil {
			problems = append(problems, "body: "+err.Error())
		}
		g.body, g.err = body, strings.Join(problems, "; ")
		rp := f.next()
		if rp.hold != nil {
			select {
			case <-rp.hold:
			case <-r.Context().Done():
			}
		}
		f.reqs <- g
		if rp.retryAfter != "" {
			w.Header().Set("Retry-After", rp.retryAfter)
		}
		w.Header().Set("apns-id", "0a0b0c0d-0000-0000-0000-000000000001")
		w.WriteHeader(rp.status)
		if rp.status != 200 {
			json.NewEncoder(w).Encode(map[string]any{"reason": rp.reason})
		}
	}))
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeFCM starts an FCM server and its OAuth token endpoint, and writes
// a service-account JSON whose token_uri points at it. The token endpoint
// checks the JWT assertion against the account's key; the send endpoint
// checks the access token it gave.
func newFakeFCM(t *testing.T, project string) (f *fake, credentials string) {
	priv := rsaKey(t)
	const access = "fake-access-token-1"
	f = &fake{reqs: make(chan got, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		tok, err := jwt.Parse(r.Form.Get("assertion"), func(*jwt.Token) (any, error) { return &priv.PublicKey, nil })
		c, _ := tok.Claims.(jwt.MapClaims)
		if err != nil || c["iss"] != "ringd@"+project+".iam.gserviceaccount.com" ||
			c["scope"] != "https://www.googleapis.com/auth/firebase.messaging" {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, access)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		g := got{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
		var problems []string
		if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/"+project+"/messages:send" {
			problems = append(problems, "not POST /v1/projects/<project>/messages:send")
		}
		if r.Header.Get("Authorization") != "Bearer "+access {
			problems = append(problems, "wrong access token: "+r.Header.Get("Authorization"))
		}
		body, err := decodeBody(r)
		if err != nil {
			problems = append(problems, "body: "+err.Error())
		}
		g.body, g.err = body, strings.Join(problems, "; ")
		rp := f.next()
		if rp.hold != nil {
			<-rp.hold
		}
		f.reqs <- g
		if rp.retryAfter != "" {
			w.Header().Set("Retry-After", rp.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rp.status)
		if rp.status == 200 {
			fmt.Fprintf(w, `{"name":"projects/%s/messages/1"}`, project)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": rp.status, "status": "ERR",
			"details": []any{map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": rp.reason}}}})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": "key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "ringd@" + project + ".iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      f.srv.URL + "/token",
	})
	credentials = filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(credentials, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, credentials
}

var rsaOnce struct {
	sync.Once
	key *rsa.PrivateKey
}

// rsaKey is made once: RSA generation is slow under the race detector.
func rsaKey(t *testing.T) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaOnce.key = k
	})
	return rsaOnce.key
}

// logBuffer collects a server's logs, to show what is and is not logged.
type logBuffer struct {
	mu  sync.Mutex // guards the following
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is a test server with push, its fakes and its log.
type env struct {
	*ringtest.Server
	log *logBuffer
}

func start(t *testing.T, pc push.Config, hc *http.Client) env {
	return startAt(t, t.TempDir(), pc, hc)
}

func startAt(t *testing.T, dir string, pc push.Config, hc *http.Client) env {
	cfg := ringtest.NewConfig(t)
	lb := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := ringtest.NewPushAt(t, cfg, dir, &ringtest.Push{Config: pc, HTTPClient: hc})
	return env{Server: s, log: lb}
}

// device registers a number and logs it in with appid and token.
func (e env) device(t *testing.T, name, appid, token string) ringtest.User {
	u := e.Register(t)
	u.Token = token
	e.Must(t, map[string]any{"req": "login", "appid": appid, "build": "1.0", "name": name,
		"locale": "en_US", "token": token, "uuid": []string{u.UUID}}, nil)
	return u
}

// outbox returns every push waiting, due or not.
func (e env) outbox(t *testing.T) []store.Push {
	t.Helper()
	ps, err := e.Store.DuePushes(context.Background(), time.Now().Add(1000*time.Hour), 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// eventually waits for cond, which the dispatcher makes true soon.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (e env) outboxEmpty(t *testing.T) {
	t.Helper()
	eventually(t, "an empty outbox", func() bool { return len(e.outbox(t)) == 0 })
}

// metric returns the value of a sample line of /metrics, "" if absent.
func (e env) metric(t *testing.T, sample string) string {
	t.Helper()
	res, err := http.Get(e.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

func apnsConfig(key apnsKey, f *fake) push.Config {
	return push.Config{Apps: map[string]push.App{
		"ios": {APNs: &push.APNsConfig{TeamID: teamID, KeyID: keyID, KeyFile: key.file, BundleID: bundle, Endpoint: f.srv.URL}},
	}}
}

// hexToken makes a distinct APNs-like device token.
func hexToken(n int) string { return fmt.Sprintf("%064x", n) }

// path returns a nested field of a JSON body.
func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
