package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/client"
	"github.com/ringd/ringd/internal/ringtest"
)

// These tests run the client against the real server (internal/ringtest:
// SQLite and blob files in a temp dir, real HTTP on loopback), so that the
// client and the server are held to the same contract.

type user struct {
	number, uuid string
}

func newUser(t *testing.T, c *client.Client, name string) user {
	t.Helper()
	ctx := context.Background()
	r, err := c.Register(ctx, client.RegisterRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Number == "" || len(r.UUID) != 36 {
		t.Fatalf("register: %+v", r)
	}
	l, err := c.Login(ctx, client.LoginRequest{AppID: "client.test", Build: "1.0", Name: name, Locale: "en_US",
		Token: "token-of-" + r.Number, UUIDs: []string{r.UUID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Numbers) != 1 || l.Numbers[0] != r.Number {
		t.Fatalf("login: %+v", l)
	}
	return user{r.Number, r.UUID}
}

func TestMessagingAgainstServer(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	c := client.New(s.URL)
	c.HTTPClient = ringtest.CheckingClient(t) // every exchange checked against the schema
	ctx := context.Background()
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")

	if _, err := c.Register(ctx, client.RegisterRequest{Number: alice.number}); !errors.Is(err, client.ErrNumberNotAvailable) {
		t.Errorf("registering a taken number: %v", err)
	}
	if _, err := c.Register(ctx, client.RegisterRequest{Number: "12"}); !errors.Is(err, client.ErrFormat) {
		t.Errorf("registering a 2-digit number: %v", err)
	}
	if _, err := c.Get(ctx, client.GetRequest{UUIDs: []string{"00000000-0000-4000-8000-000000000000"}}); !errors.Is(err, client.ErrUUID) {
		t.Errorf("get with an unknown uuid: %v", err)
	}

	// Long poll: an empty get with wait is held, and a message sent while
	// it waits is its answer.
	start := time.Now()
	if m, err := c.Get(ctx, client.GetRequest{UUIDs: []string{bob.uuid}, Wait: 1}); err != nil || len(m.Messages) != 0 {
		t.Fatalf("empty get: %+v, %v", m, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("get with wait 1 answered after %v: not held", d)
	}
	got := make(chan *client.Messages, 1)
	go func() {
		m, err := c.Get(ctx, client.GetRequest{UUIDs: []string{bob.uuid}, Wait: 20})
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	time.Sleep(200 * time.Millisecond)
	sent, err := c.SendText(ctx, client.SendRequest{UUID: alice.uuid, Callee: bob.number, CID: "cid-1"}, "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if len(m.Messages) != 1 {
			t.Fatalf("long poll answered %+v", m)
		}
		msg := m.Messages[0]
		if msg.MsgID != sent.MsgID || msg.Text != "hello bob" || msg.Caller != alice.number ||
			msg.CallerName != "Alice" || msg.Callee != bob.number || msg.Time != sent.Time || msg.NeedsFetch() {
			t.Errorf("message %+v", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not answer with the message sent")
	}

	// A retried send with the same cid stores nothing new.
	again, err := c.SendText(ctx, client.SendRequest{UUID: alice.uuid, Callee: bob.number, CID: "cid-1"}, "hello bob")
	if err != nil || again.MsgID != sent.MsgID {
		t.Errorf("retry with the same cid: %+v, %v; want msgid %s", again, err, sent.MsgID)
	}

	// A file, streamed from a reader, fetched whole and by range.
	data := make([]byte, 1<<20+17)
	rand.Read(data)
	file, err := c.Send(ctx, client.SendRequest{UUID: alice.uuid, Callee: bob.number, Fname: "blob.bin", CallerName: "Al"},
		bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Get(ctx, client.GetRequest{UUIDs: []string{bob.uuid}})
	if err != nil || len(m.Messages) != 1 {
		t.Fatalf("get: %+v, %v", m, err)
	}
	if fm := m.Messages[0]; fm.MsgID != file.MsgID || !fm.IsFile() || fm.Fname != "blob.bin" || fm.CallerName != "Al" ||
		fm.Length != int64(len(data)) || !fm.NeedsFetch() {
		t.Errorf("file message %+v", fm)
	}
	var buf bytes.Buffer
	f, err := c.Fetch(ctx, client.FetchRequest{UUID: bob.uuid, MsgID: file.MsgID}, &buf)
	if err != nil || !bytes.Equal(buf.Bytes(), data) || f.Total != int64(len(data)) || f.Fname != "blob.bin" {
		t.Fatalf("fetch: %+v, %v, %d bytes", f, err, buf.Len())
	}
	buf.Reset()
	f, err = c.Fetch(ctx, client.FetchRequest{UUID: alice.uuid, MsgID: file.MsgID, Offset: 1000, Limit: 500}, &buf)
	if err != nil || !bytes.Equal(buf.Bytes(), data[1000:1500]) || f.Length != 500 {
		t.Errorf("ranged fetch by the sender: %+v, %v", f, err)
	}
	if _, err := c.Fetch(ctx, client.FetchRequest{UUID: bob.uuid, MsgID: "999999"}, io.Discard); !errors.Is(err, client.ErrMsgID) {
		t.Errorf("fetch of an unknown msgid: %v", err)
	}

	// A data source shorter than its length fails, and nothing is stored.
	_, err = c.Send(ctx, client.SendRequest{UUID: alice.uuid, Callee: bob.number, Fname: "short.bin"},
		bytes.NewReader(make([]byte, 10)), 100)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short data: %v", err)
	}

	// sends: a callee not in use is listed in failed.
	ss, err := c.Sends(ctx, client.SendsRequest{UUID: alice.uuid, Callees: []string{bob.number, "99999999"}}, strings.NewReader("all"), 3)
	if err != nil || len(ss.MsgIDs) != 1 || ss.MsgIDs[bob.number] == "" || len(ss.Failed) != 1 || ss.Failed[0] != "99999999" {
		t.Errorf("sends: %+v, %v", ss, err)
	}
	if _, err := c.SendText(ctx, client.SendRequest{UUID: alice.uuid, Callee: "99999999"}, "x"); !errors.Is(err, client.ErrCalleeNotInUse) {
		t.Errorf("send to nobody: %v", err)
	}

	// Receipts and history.
	if _, err := c.Read(ctx, client.MsgIDsRequest{UUID: bob.uuid, MsgIDs: []string{file.MsgID}}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, client.MsgIDsRequest{UUID: alice.uuid, MsgIDs: []string{sent.MsgID, file.MsgID, ss.MsgIDs[bob.number]}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{sent.MsgID: client.StatusDelivered, file.MsgID: client.StatusRead, ss.MsgIDs[bob.number]: client.StatusSent}
	for id, state := range want {
		if st.Status[id] != state {
			t.Errorf("status of %s: %q, want %q", id, st.Status[id], state)
		}
	}
	h, err := c.History(ctx, client.HistoryRequest{UUIDs: []string{bob.uuid}})
	if err != nil || len(h.Messages) != 3 || h.More {
		t.Fatalf("history: %+v, %v", h, err)
	}
	for _, hm := range h.Messages {
		if hm.State != want[hm.MsgID] {
			t.Errorf("history state of %s: %q, want %q", hm.MsgID, hm.State, want[hm.MsgID])
		}
	}
	page, err := c.History(ctx, client.HistoryRequest{UUIDs: []string{bob.uuid}, AfterMsgID: h.Messages[0].MsgID})
	if err != nil || len(page.Messages) != 2 || page.Messages[0].MsgID != h.Messages[1].MsgID {
		t.Errorf("history after_msgid: %+v, %v", page, err)
	}
}

func TestCallsAgainstServer(t *testing.T) {
	ai := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Event string }
		json.NewDecoder(r.Body).Decode(&req)
		if req.Event == "call" {
			json.NewEncoder(w).Encode(map[string][]byte{"data": []byte("hello from the AI")})
		}
	}))
	defer ai.Close()
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "admin-token-for-tests"
	cfg.AIURL = ai.URL
	cfg.Debug = true
	s := ringtest.New(t, cfg)
	c := client.New(s.URL)
	c.HTTPClient = ringtest.CheckingClient(t) // every exchange checked against the schema
	ctx := context.Background()
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")

	// A call answered, with data both ways; a waiting callinfo wakes on the
	// answer.
	call, err := c.Call(ctx, client.CallRequest{UUID: alice.uuid, Callee: bob.number}, []byte("offer"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.CallInfo(ctx, client.CallInfoRequest{UUID: bob.uuid, CallID: call.CallID})
	if err != nil || info.State != client.CallRinging || string(info.Data) != "offer" || info.Caller != alice.number || info.CallerName != "Alice" {
		t.Fatalf("callee's callinfo: %+v, %v", info, err)
	}
	woke := make(chan *client.CallInfo, 1)
	go func() {
		i, err := c.CallInfo(ctx, client.CallInfoRequest{UUID: alice.uuid, CallID: call.CallID, Wait: 20})
		if err != nil {
			t.Error(err)
		}
		woke <- i
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := c.Answer(ctx, client.CallRequestID{UUID: bob.uuid, CallID: call.CallID}, []byte("answer")); err != nil {
		t.Fatal(err)
	}
	select {
	case i := <-woke:
		if i.State != client.CallAnswered || string(i.Data) != "answer" || i.AnswerTime == 0 {
			t.Errorf("caller's waiting callinfo: %+v", i)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting callinfo did not wake on the answer")
	}
	if _, err := c.Answer(ctx, client.CallRequestID{UUID: bob.uuid, CallID: call.CallID}, nil); !errors.Is(err, client.ErrCallID) {
		t.Errorf("answering an answered call: %v", err)
	}
	hu, err := c.Hangup(ctx, client.CallRequestID{UUID: alice.uuid, CallID: call.CallID})
	if err != nil || hu.State != client.CallEnded || hu.Reason != client.ReasonHangup {
		t.Errorf("hangup: %+v, %v", hu, err)
	}

	// A call the caller cancels while it rings is a missed call for the callee.
	missed, err := c.Call(ctx, client.CallRequest{UUID: alice.uuid, Callee: bob.number}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hu, err := c.Hangup(ctx, client.CallRequestID{UUID: alice.uuid, CallID: missed.CallID}); err != nil || hu.Reason != client.ReasonCancelled {
		t.Errorf("cancel: %+v, %v", hu, err)
	}
	m, err := c.Get(ctx, client.GetRequest{UUIDs: []string{bob.uuid}})
	if err != nil || len(m.Messages) != 1 || !m.Messages[0].IsMissedCall() || m.Messages[0].CallID != missed.CallID || m.Messages[0].Length != 0 {
		t.Errorf("missed call message: %+v, %v", m, err)
	}

	// Link data, once.
	if l, err := c.Linked(ctx, client.UUIDRequest{UUID: alice.uuid}); err != nil || l.Data != "" {
		t.Errorf("linked before link: %+v, %v", l, err)
	}
	if _, err := c.Link(ctx, client.LinkRequest{UUID: alice.uuid, Data: "https://example.invalid/alice"}); err != nil {
		t.Fatal(err)
	}
	if l, err := c.Linked(ctx, client.UUIDRequest{UUID: alice.uuid}); err != nil || l.Data != "https://example.invalid/alice" {
		t.Errorf("linked: %+v, %v", l, err)
	}
	if _, err := c.Link(ctx, client.LinkRequest{UUID: alice.uuid, Data: "again"}); !errors.Is(err, client.ErrLinkDataExisted) {
		t.Errorf("second link: %v", err)
	}

	// Balance and AI calls.
	if _, err := c.AICall(ctx, client.AICallRequest{UUID: alice.uuid}, nil); !errors.Is(err, client.ErrBalanceNotEnough) {
		t.Errorf("aicall with no balance: %v", err)
	}
	if _, err := c.Credit(ctx, client.CreditRequest{Auth: "wrong", Number: alice.number, Seconds: 600}); !errors.Is(err, client.ErrAuth) {
		t.Errorf("credit with a wrong token: %v", err)
	}
	if b, err := c.Credit(ctx, client.CreditRequest{Auth: cfg.AdminToken, Number: alice.number, Seconds: 600}); err != nil || b.Balance != 600 {
		t.Fatalf("credit: %+v, %v", b, err)
	}
	if b, err := c.Balance(ctx, client.UUIDRequest{UUID: alice.uuid}); err != nil || b.Balance != 600 {
		t.Errorf("balance: %+v, %v", b, err)
	}
	aic, err := c.AICall(ctx, client.AICallRequest{UUID: alice.uuid, CallerName: "Al"}, []byte("hi AI"))
	if err != nil || aic.CallID == "" || string(aic.Data) != "hello from the AI" {
		t.Fatalf("aicall: %+v, %v", aic, err)
	}
	if i, err := c.CallInfo(ctx, client.CallInfoRequest{UUID: alice.uuid, CallID: aic.CallID}); err != nil || !i.AI || i.State != client.CallAnswered {
		t.Errorf("AI callinfo: %+v, %v", i, err)
	}
	if hu, err := c.Hangup(ctx, client.CallRequestID{UUID: alice.uuid, CallID: aic.CallID}); err != nil || hu.State != client.CallEnded || hu.Balance != 600-hu.Seconds {
		t.Errorf("AI hangup: %+v, %v", hu, err)
	}

	// Operator requests.
	if _, err := c.Reserve(ctx, client.ReserveRequest{Auth: cfg.AdminToken, Numbers: []string{"55555555"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, client.RegisterRequest{Number: "55555555"}); !errors.Is(err, client.ErrNumberNotAvailable) {
		t.Errorf("registering a reserved number: %v", err)
	}
	stats, err := c.Stats(ctx, client.StatsRequest{Auth: cfg.AdminToken})
	if err != nil || stats.Numbers != 2 || stats.InUse != 2 || stats.Calls < 3 || stats.Messages < 1 {
		t.Errorf("stats: %+v, %v", stats, err)
	}
	raw, err := c.Debug(ctx)
	if err != nil || !strings.Contains(string(raw), `"version"`) {
		t.Errorf("debug: %s, %v", raw, err)
	}
}
