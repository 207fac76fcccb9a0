package push

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// webhookProvider POSTs each push as JSON to a URL of the operator's.
type webhookProvider struct {
	cfg    WebhookConfig
	client *http.Client
}

var _ provider = (*webhookProvider)(nil)

func newWebhook(cfg WebhookConfig, hc *http.Client) *webhookProvider {
	if hc == nil {
		hc = &http.Client{}
	}
	return &webhookProvider{cfg: cfg, client: hc}
}

func (*webhookProvider) name() string { return "webhook" }

// WebhookBody is what a webhook receives.
type WebhookBody struct {
	Type       string `json:"type"`
	AppID      string `json:"appid"`
	Token      string `json:"token"`
	MsgID      string `json:"msgid,omitempty"`
	CallID     string `json:"callid,omitempty"`
	Caller     string `json:"caller,omitempty"`
	CallerName string `json:"caller_name,omitempty"`
	Body       string `json:"body,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Time       int64  `json:"time"`              // Unix seconds the push was made
	Expires    int64  `json:"expires,omitempty"` // Unix seconds it is worth nothing after
}

func webhookBodyOf(p store.Push) WebhookBody {
	b := WebhookBody{Type: string(p.Kind), AppID: p.AppID, Token: p.Token, CallID: p.CallID, Caller: p.Caller,
		CallerName: p.CallerName, Body: p.Body, Reason: p.Reason, Time: p.Created.Unix()}
	if p.MsgID != 0 {
		b.MsgID = strconv.FormatInt(p.MsgID, 10)
	}
	if !p.Expires.IsZero() {
		b.Expires = p.Expires.Unix()
	}
	return b
}

// Sign returns the X-Ringd-Signature of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *webhookProvider) send(ctx context.Context, p store.Push) error {
	body, err := json.Marshal(webhookBodyOf(p))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.cfg.Secret != "" {
		req.Header.Set("X-Ringd-Signature", Sign(w.cfg.Secret, body))
	}
	res, err := w.client.Do(req)
	if err != nil {
		return netFailure("webhook", err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	f := statusFailure("webhook", res.StatusCode, "", parseRetryAfter(res.Header.Get("Retry-After"), time.Now()))
	// 410 Gone is the webhook's way to say the device is no more.
	f.Dead = res.StatusCode == http.StatusGone
	return f
}
