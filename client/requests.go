package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// simple sends a request without data whose answer carries none, and
// decodes the answer into out.
func (c *Client) simple(ctx context.Context, req string, fields any, out any, raw *json.RawMessage) error {
	return c.withData(ctx, req, fields, nil, out, raw)
}

// withData sends a request with optional data whose answer carries none.
func (c *Client) withData(ctx context.Context, req string, fields any, up *upload, out any, raw *json.RawMessage) error {
	a, err := c.post(ctx, req, fields, up)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.noData(); err != nil {
		return fmt.Errorf("ringd %s: %w", req, err)
	}
	if err := a.decode(out, raw); err != nil {
		return fmt.Errorf("ringd %s: %w", req, err)
	}
	return nil
}

// smallData sends a request with optional small data (call data) and reads
// an answer whose data, if any, is returned in memory.
func (c *Client) smallData(ctx context.Context, req string, fields any, data []byte, out any, raw *json.RawMessage) ([]byte, error) {
	var up *upload
	if len(data) > 0 {
		up = &upload{r: bytes.NewReader(data), length: int64(len(data))}
	}
	a, err := c.post(ctx, req, fields, up)
	if err != nil {
		return nil, err
	}
	defer a.close()
	var length struct {
		Length int64 `json:"length"`
	}
	if err := a.decode(&length, nil); err != nil {
		return nil, fmt.Errorf("ringd %s: %w", req, err)
	}
	if length.Length > MaxCallData {
		return nil, fmt.Errorf("ringd %s: answer data of %d bytes is over the client's limit of %d", req, length.Length, MaxCallData)
	}
	var buf bytes.Buffer
	if err := a.copyData(&buf, length.Length, nil); err != nil {
		return nil, fmt.Errorf("ringd %s: %w", req, err)
	}
	if err := a.decode(out, raw); err != nil {
		return nil, fmt.Errorf("ringd %s: %w", req, err)
	}
	if buf.Len() == 0 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// Register asks for a number. The answer's uuid is the number's secret: keep
// it safe, it cannot be had again.
func (c *Client) Register(ctx context.Context, r RegisterRequest) (*RegisterResponse, error) {
	var out RegisterResponse
	if err := c.simple(ctx, "register", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Login binds the numbers of r.UUIDs to the device r.Token (and unbinds
// whatever the token had). With no uuids it logs the device out.
func (c *Client) Login(ctx context.Context, r LoginRequest) (*LoginResponse, error) {
	if r.UUIDs == nil {
		r.UUIDs = []string{} // the seed's field is required: [] logs out, null is a format error
	}
	var out LoginResponse
	if err := c.simple(ctx, "login", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Send sends length bytes read from data to r.Callee: a file when r.Fname is
// set, else UTF-8 text. data is read while the request is written; if it
// ends before length bytes the request fails (io.ErrUnexpectedEOF) and the
// server stores nothing. Bytes past length are not read.
func (c *Client) Send(ctx context.Context, r SendRequest, data io.Reader, length int64) (*SendResponse, error) {
	var out SendResponse
	up := &upload{r: data, length: length, progress: r.Progress}
	if err := c.withData(ctx, "send", r, up, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendText sends a text message.
func (c *Client) SendText(ctx context.Context, r SendRequest, text string) (*SendResponse, error) {
	return c.Send(ctx, r, strings.NewReader(text), int64(len(text)))
}

// Sends sends one message to every number of r.Callees; the server stores
// the data once. Callees that are not in use are listed in the answer's
// Failed; when none is in use the answer is ErrCalleeNotInUse.
func (c *Client) Sends(ctx context.Context, r SendsRequest, data io.Reader, length int64) (*SendsResponse, error) {
	var out SendsResponse
	up := &upload{r: data, length: length, progress: r.Progress}
	if err := c.withData(ctx, "sends", r, up, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get takes the undelivered messages of the numbers of r.UUIDs, oldest
// first; the server marks them delivered. When the answer's More is true,
// call Get again for the rest.
func (c *Client) Get(ctx context.Context, r GetRequest) (*Messages, error) {
	var out Messages
	if err := c.simple(ctx, "get", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// History lists every message of the numbers of r.UUIDs in the retention
// window, whatever its state, and marks nothing.
func (c *Client) History(ctx context.Context, r HistoryRequest) (*Messages, error) {
	var out Messages
	if err := c.simple(ctx, "history", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Fetch downloads a message's data (or the range r.Offset, r.Limit of it)
// and copies it to w as it arrives. The answer says how many bytes were
// written (Length) of how many the data has (Total). If the transfer breaks,
// the error says so and w holds a prefix; fetch again with Offset set to
// what w got to resume.
func (c *Client) Fetch(ctx context.Context, r FetchRequest, w io.Writer) (*FetchResponse, error) {
	a, err := c.post(ctx, "fetch", r, nil)
	if err != nil {
		return nil, err
	}
	defer a.close()
	var out FetchResponse
	if err := a.decode(&out, &out.Raw); err != nil {
		return nil, fmt.Errorf("ringd fetch: %w", err)
	}
	if err := a.copyData(w, out.Length, r.Progress); err != nil {
		return &out, fmt.Errorf("ringd fetch: %w", err)
	}
	return &out, nil
}

// Read marks messages received by r.UUID's number as read.
func (c *Client) Read(ctx context.Context, r MsgIDsRequest) (*Ack, error) {
	var out Ack
	if err := c.simple(ctx, "read", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Status tells the sender each message's state: StatusSent,
// StatusDelivered or StatusRead.
func (c *Client) Status(ctx context.Context, r MsgIDsRequest) (*StatusResponse, error) {
	var out StatusResponse
	if err := c.simple(ctx, "status", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Call rings r.Callee. data (e.g. an SDP offer, at most 64 KiB) is passed
// to the callee through CallInfo; nil sends none.
func (c *Client) Call(ctx context.Context, r CallRequest, data []byte) (*CallResponse, error) {
	var out CallResponse
	var up *upload
	if len(data) > 0 {
		up = &upload{r: bytes.NewReader(data), length: int64(len(data))}
	}
	if err := c.withData(ctx, "call", r, up, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// CallInfo reads a call's state and the other party's data. With r.Wait set
// the server holds the answer until the state changes or Wait seconds pass.
func (c *Client) CallInfo(ctx context.Context, r CallInfoRequest) (*CallInfo, error) {
	var out CallInfo
	data, err := c.smallData(ctx, "callinfo", r, nil, &out, &out.Raw)
	if err != nil {
		return nil, err
	}
	out.Data = data
	return &out, nil
}

// Answer accepts a ringing call as its callee, with optional data (e.g. an
// SDP answer).
func (c *Client) Answer(ctx context.Context, r CallRequestID, data []byte) (*Ack, error) {
	var out Ack
	var up *upload
	if len(data) > 0 {
		up = &upload{r: bytes.NewReader(data), length: int64(len(data))}
	}
	if err := c.withData(ctx, "answer", r, up, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Hangup ends a call (or an AI call) as either party.
func (c *Client) Hangup(ctx context.Context, r CallRequestID) (*HangupResponse, error) {
	var out HangupResponse
	if err := c.simple(ctx, "hangup", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// AICall starts a call with the server's AI service, sending it optional
// data; the answer carries the service's answer.
func (c *Client) AICall(ctx context.Context, r AICallRequest, data []byte) (*AICallResponse, error) {
	var out AICallResponse
	got, err := c.smallData(ctx, "aicall", r, data, &out, &out.Raw)
	if err != nil {
		return nil, err
	}
	out.Data = got
	return &out, nil
}

// Balance reads the number's AI-call balance in seconds.
func (c *Client) Balance(ctx context.Context, r UUIDRequest) (*BalanceResponse, error) {
	var out BalanceResponse
	if err := c.simple(ctx, "balance", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Link stores the number's link data; a number may do so once
// (ErrLinkDataExisted after).
func (c *Client) Link(ctx context.Context, r LinkRequest) (*Ack, error) {
	var out Ack
	if err := c.simple(ctx, "link", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Linked reads the number's link data.
func (c *Client) Linked(ctx context.Context, r UUIDRequest) (*LinkedResponse, error) {
	var out LinkedResponse
	if err := c.simple(ctx, "linked", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reserve (operator) makes numbers unregistrable.
func (c *Client) Reserve(ctx context.Context, r ReserveRequest) (*Ack, error) {
	var out Ack
	if err := c.simple(ctx, "reserve", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Credit (operator) adds seconds to a number's balance.
func (c *Client) Credit(ctx context.Context, r CreditRequest) (*BalanceResponse, error) {
	var out BalanceResponse
	if err := c.simple(ctx, "credit", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Stats (operator) reads the server's counts.
func (c *Client) Stats(ctx context.Context, r StatsRequest) (*StatsResponse, error) {
	var out StatsResponse
	if err := c.simple(ctx, "stats", r, &out, &out.Raw); err != nil {
		return nil, err
	}
	return &out, nil
}

// Debug sends the debug request. A server in debug mode answers 10020 with
// its version and the echoed request: Debug returns that answer's JSON and a
// nil error. Any other answer is returned as an error (a server not in debug
// mode answers ErrFormat).
func (c *Client) Debug(ctx context.Context) (json.RawMessage, error) {
	a, err := c.post(ctx, "debug", nil, nil)
	if err == nil {
		a.close()
		return nil, fmt.Errorf("ringd debug: unexpected success answer %s", snippet(a.raw))
	}
	if e, ok := err.(*Error); ok && e.Code == Debug {
		return e.Raw, nil
	}
	return nil, err
}
