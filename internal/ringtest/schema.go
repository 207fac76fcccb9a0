package ringtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaPath is where the protocol's JSON Schema lives, from the module root.
const SchemaPath = "docs/schema/ringd.schema.json"

// Schema is the protocol's JSON Schema, compiled: a request schema and a
// reply schema (success or error answer) for each req the schema names.
type Schema struct {
	requests map[string]*jsonschema.Schema // by req
	replies  map[string]*jsonschema.Schema // by req
	error    *jsonschema.Schema
	// takesData and givesData hold the reqs whose request, or whose
	// success answer, is followed by a NUL and data (x-ringd-data).
	takesData map[string]bool
	givesData map[string]bool
}

var protocolSchema struct {
	once sync.Once
	s    *Schema
	err  error
}

// ProtocolSchema loads and compiles the schema once per test binary.
func ProtocolSchema() (*Schema, error) {
	protocolSchema.once.Do(func() {
		root, err := moduleRoot()
		if err == nil {
			protocolSchema.s, err = LoadSchema(filepath.Join(root, SchemaPath))
		}
		protocolSchema.err = err
	})
	return protocolSchema.s, protocolSchema.err
}

// moduleRoot is the directory above the working directory holding go.mod:
// go test runs each package in its own directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// LoadSchema compiles the schema file at path. Each request def listed in
// $defs/Request (XRequest, with a const req) has its reply in XReply.
func LoadSchema(path string) (*Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	const base = "file:///ringd.schema.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(base, doc); err != nil {
		return nil, err
	}
	defs, _ := doc.(map[string]any)["$defs"].(map[string]any)
	s := &Schema{requests: map[string]*jsonschema.Schema{}, replies: map[string]*jsonschema.Schema{},
		takesData: map[string]bool{}, givesData: map[string]bool{}}
	if s.error, err = c.Compile(base + "#/$defs/ErrorAnswer"); err != nil {
		return nil, err
	}
	list, _ := defs["Request"].(map[string]any)["oneOf"].([]any)
	for _, item := range list {
		ref, _ := item.(map[string]any)["$ref"].(string)
		name := strings.TrimPrefix(ref, "#/$defs/")
		def, _ := defs[name].(map[string]any)
		props, _ := def["properties"].(map[string]any)
		req, _ := props["req"].(map[string]any)["const"].(string)
		base := strings.TrimSuffix(name, "Request")
		if req == "" || base == name {
			return nil, fmt.Errorf("%s: %s names no req", path, ref)
		}
		if err := s.add(c, defs, req, base); err != nil {
			return nil, err
		}
	}
	if len(s.requests) == 0 {
		return nil, fmt.Errorf("%s: no requests in $defs/Request", path)
	}
	return s, nil
}

func (s *Schema) add(c *jsonschema.Compiler, defs map[string]any, req, name string) error {
	const base = "file:///ringd.schema.json#/$defs/"
	var err error
	if s.requests[req], err = c.Compile(base + name + "Request"); err != nil {
		return err
	}
	if s.replies[req], err = c.Compile(base + name + "Reply"); err != nil {
		return err
	}
	s.takesData[req] = hasData(defs[name+"Request"])
	reply, _ := defs[name+"Reply"].(map[string]any)
	for _, alt := range reply["anyOf"].([]any) {
		ref, _ := alt.(map[string]any)["$ref"].(string)
		s.givesData[req] = s.givesData[req] || hasData(defs[strings.TrimPrefix(ref, "#/$defs/")])
	}
	return nil
}

func hasData(def any) bool {
	d, _ := def.(map[string]any)
	v, _ := d["x-ringd-data"].(bool)
	return v
}

// splitNUL splits a body at its first NUL: the JSON head and the data.
func splitNUL(b []byte) (head, data []byte, hasData bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// CheckRequest says why the schema, or the data convention it states,
// rejects a request body; "" when it accepts it. req is the head's req
// when the head is a JSON object naming a request the schema knows.
func (s *Schema) CheckRequest(body []byte) (req, problem string) {
	head, data, withData := splitNUL(body)
	if !utf8.Valid(head) {
		return "", "head is not UTF-8"
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(head))
	if err != nil {
		return "", "head is not JSON: " + err.Error()
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return "", "head is not an object"
	}
	req, _ = obj["req"].(string)
	rs := s.requests[req]
	if rs == nil {
		return "", fmt.Sprintf("unknown req %q", obj["req"])
	}
	if err := rs.Validate(inst); err != nil {
		return req, fmt.Sprintf("%#v", err)
	}
	return req, s.checkRequestData(req, obj, data, withData)
}

// checkRequestData checks the NUL convention: data only for requests that
// take it, exactly length bytes of it, and a send's text non-empty UTF-8.
func (s *Schema) checkRequestData(req string, head map[string]any, data []byte, withData bool) string {
	if withData && !s.takesData[req] {
		return req + " takes no data, but a NUL follows the head"
	}
	if !s.takesData[req] {
		return ""
	}
	length, hasLength := head["length"].(json.Number)
	switch {
	case !hasLength && withData:
		return "data without length"
	case !hasLength:
		return ""
	case !withData && length.String() != "0":
		return "length " + length.String() + " but no data"
	case withData && length.String() != fmt.Sprint(len(data)):
		return fmt.Sprintf("length %s but %d bytes of data", length, len(data))
	}
	if fname, _ := head["fname"].(string); (req == "send" || req == "sends") && fname == "" {
		if len(data) == 0 || !utf8.Valid(data) {
			return "a text must be non-empty UTF-8"
		}
	}
	return ""
}

// CheckAnswer says why an answer body is not a valid reply to a request
// of req ("" for a request the schema rejects outright: then the answer
// must be an error); "" when it is.
func (s *Schema) CheckAnswer(req string, body []byte) string {
	head, data, withData := splitNUL(body)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(head))
	if err != nil {
		return "answer is not JSON: " + err.Error()
	}
	reply := s.replies[req]
	if reply == nil {
		reply = s.error
	}
	if err := reply.Validate(inst); err != nil {
		return fmt.Sprintf("%#v", err)
	}
	obj, _ := inst.(map[string]any)
	ok := fmt.Sprint(obj["answer"]) == "10000"
	switch {
	case withData && !(ok && s.givesData[req]):
		return "a NUL follows an answer that carries no data"
	case ok && s.givesData[req] && !withData:
		return "no NUL and data after the answer"
	case withData && fmt.Sprint(obj["length"]) != fmt.Sprint(len(data)):
		return fmt.Sprintf("length %v but %d bytes of data", obj["length"], len(data))
	}
	return ""
}

// CheckExchange fails t (without stopping it) when a request and its
// answer break the protocol's schema: an answer must always validate as a
// reply to its request, and a request the schema rejects must be refused
// (a request answered 10000 must validate). Benchmarks are not checked, so
// that they measure the server alone.
func CheckExchange(t testing.TB, request, answer []byte) {
	t.Helper()
	if _, bench := t.(*testing.B); bench {
		return
	}
	s, err := ProtocolSchema()
	if err != nil {
		t.Errorf("protocol schema: %v", err)
		return
	}
	req, problem := s.CheckRequest(request)
	if problem != "" {
		if code, _ := answerCode(answer); code == "10000" {
			t.Errorf("schema rejects request %s (%s), but the server answered %s", clip(request), problem, clip(answer))
			return
		}
		req = "" // only an error answer is valid
	}
	if p := s.CheckAnswer(req, answer); p != "" {
		t.Errorf("schema: answer %s to %s: %s", clip(answer), clip(request), p)
	}
}

// answerCode is the answer field of an answer body's head.
func answerCode(body []byte) (string, error) {
	head, _, _ := splitNUL(body)
	var a struct {
		Answer json.Number `json:"answer"`
	}
	err := json.Unmarshal(head, &a)
	return a.Answer.String(), err
}

// clip shows the JSON head of a body, shortened for a failure message.
func clip(b []byte) string {
	head, _, _ := splitNUL(b)
	if len(head) > 300 {
		return string(head[:300]) + "…"
	}
	return string(head)
}

// CheckingClient is an HTTP client for a test server that checks every
// POST it carries, and its answer, with CheckExchange: for tests that
// speak the protocol through a client package rather than Post. It holds
// each body whole, so it is for tests, not for measuring.
func CheckingClient(t testing.TB) *http.Client {
	return &http.Client{Transport: &checkingTransport{t: t, base: http.DefaultTransport}}
}

type checkingTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (c *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.Body == nil {
		return c.base.RoundTrip(req)
	}
	sent, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(sent))
	req.ContentLength = int64(len(sent))
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	CheckExchange(c.t, sent, got)
	resp.Body = io.NopCloser(bytes.NewReader(got))
	return resp, nil
}
