package push

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/ringd/ringd/internal/store"
)

// fcmScope is the OAuth scope of the FCM HTTP v1 API.
const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// fcmProvider sends through the FCM HTTP v1 API, authenticated by OAuth
// access tokens that x/oauth2 mints (and caches) from the service account.
type fcmProvider struct {
	url    string // the project's messages:send
	client *http.Client
}

var _ provider = (*fcmProvider)(nil)

func newFCM(cfg FCMConfig, hc *http.Client) (*fcmProvider, error) {
	js, err := os.ReadFile(cfg.CredentialsFile)
	if err != nil {
		return nil, fmt.Errorf("fcm credentials-file: %w", err)
	}
	ctx := context.Background()
	if hc != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	}
	// WithType refuses any credentials but a service account's, so a
	// config file cannot make ringd fetch from an arbitrary URL of another
	// credential type.
	creds, err := google.CredentialsFromJSONWithType(ctx, js, google.ServiceAccount, fcmScope)
	if err != nil {
		return nil, fmt.Errorf("fcm credentials-file %s: %w", cfg.CredentialsFile, err)
	}
	project := cfg.ProjectID
	if project == "" {
		project = creds.ProjectID
	}
	if project == "" {
		return nil, fmt.Errorf("fcm: no project-id, and none in %s", cfg.CredentialsFile)
	}
	endpoint := strings.TrimRight(cfg.Endpoint, "/")
	if endpoint == "" {
		endpoint = "https://fcm.googleapis.com"
	}
	c := oauth2.NewClient(ctx, creds.TokenSource)
	return &fcmProvider{url: endpoint + "/v1/projects/" + project + "/messages:send", client: c}, nil
}

func (*fcmProvider) name() string { return "fcm" }

type fcmNotification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body"`
}

type fcmAndroid struct {
	Priority string `json:"priority"`
	TTL      string `json:"ttl,omitempty"`
}

type fcmMessage struct {
	Token        string            `json:"token"`
	Notification *fcmNotification  `json:"notification,omitempty"`
	Data         map[string]string `json:"data"`
	Android      fcmAndroid        `json:"android"`
}

// message turns a push into its FCM form.
func fcmMessageOf(p store.Push, now time.Time) fcmMessage {
	m := fcmMessage{Token: p.Token, Data: map[string]string{"type": string(p.Kind), "caller": p.Caller},
		Android: fcmAndroid{Priority: "high"}}
	if p.CallerName != "" {
		m.Data["caller_name"] = p.CallerName
	}
	if p.MsgID != 0 {
		m.Data["msgid"] = strconv.FormatInt(p.MsgID, 10)
	}
	if p.CallID != "" {
		m.Data["callid"] = p.CallID
	}
	switch p.Kind {
	case store.PushMessage:
		m.Notification = &fcmNotification{Title: p.CallerName, Body: p.Body}
	case store.PushMissedCall:
		m.Notification = &fcmNotification{Title: p.CallerName, Body: "Missed call"}
	case store.PushCall:
		// Data only, so the app itself rings; TTL 0: now or never, a call
		// that rings late is worse than none.
		m.Android.TTL = "0s"
	case store.PushCallEnded:
		m.Data["reason"] = p.Reason
		ttl := time.Duration(0)
		if !p.Expires.IsZero() && p.Expires.After(now) {
			ttl = p.Expires.Sub(now)
		}
		m.Android.TTL = strconv.FormatInt(int64(ttl/time.Second), 10) + "s"
	}
	return m
}

// fcmError is the body of an FCM error answer.
type fcmError struct {
	Error struct {
		Code    int    `json:"code"`
		Status  string `json:"status"`
		Details []struct {
			Type      string `json:"@type"`
			ErrorCode string `json:"errorCode"`
		} `json:"details"`
	} `json:"error"`
}

func (f *fcmProvider) send(ctx context.Context, p store.Push) error {
	body, err := json.Marshal(map[string]any{"message": fcmMessageOf(p, time.Now())})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	res, err := f.client.Do(req)
	if err != nil {
		return netFailure("fcm", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	var e fcmError
	json.Unmarshal(raw, &e)
	reason := e.Error.Status
	for _, d := range e.Error.Details {
		if d.ErrorCode != "" {
			reason = d.ErrorCode
		}
	}
	fl := statusFailure("fcm", res.StatusCode, reason, parseRetryAfter(res.Header.Get("Retry-After"), time.Now()))
	if reason == "UNREGISTERED" || reason == "SENDER_ID_MISMATCH" {
		fl.Dead, fl.Retry = true, false
	}
	return fl
}
