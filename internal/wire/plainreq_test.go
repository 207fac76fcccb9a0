package wire

import (
	"encoding/json"
	"testing"
)

// plainReqSeeds are heads at plainReq's edges: duplicates, near-miss and
// escaped keys, escaped and odd values, spacing, nesting, bad JSON.
var plainReqSeeds = []string{
	`{"req":"send","uuid":"u","callee":"123","length":5}`,
	`{"req":"get"}`, ` { "req" : "get" } `, "{\n\t\"req\"\t:\r\n\"get\"\n}",
	`{"req":"a","req":"b"}`, `{"REQ":"a","req":"b"}`, `{"req":"b","Req":"a"}`, `{"Req":"a"}`,
	`{"r\u0065q":"a"}`, `{"req":"a","r\u0065q":"b"}`, `{"req":"s\u0065nd"}`, `{"req":"a\"b"}`,
	`{"req":null}`, `{"req":5}`, `{"req":["send"]}`, `{"req":{"req":"x"}}`, `{"x":{"req":"y"},"req":"z"}`,
	`{"x":"\"req\":\"y\"","req":"z"}`, `{"req":"send"} x`, `{"req":"send",}`, `{"req":"send"`, `{}`,
	"{\"req\":\"s\xffnd\"}", "{\"req\":\"日本\"}", `{"req":""}`, `{"ſeq":"a","req":"b"}`, `{"req":"\u2028"}`,
}

// FuzzPlainReq: when plainReq names a req, decoding the head as before it
// existed (exactKeys, then encoding/json) gives the same req.
func FuzzPlainReq(f *testing.F) {
	for _, s := range plainReqSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		req, ok := plainReq(head)
		if !ok {
			return
		}
		var r struct {
			Req *string `json:"req"`
		}
		if err := json.Unmarshal(exactKeys(head, &r), &r); err != nil {
			t.Fatalf("plainReq(%q) = %q, but the head does not decode: %v", head, req, err)
		}
		if r.Req == nil || *r.Req != req {
			t.Fatalf("plainReq(%q) = %q, decoded %v", head, req, r.Req)
		}
	})
}

// TestPlainReqTakesTheCommonHeads: the fast path is taken for the heads
// clients send (else it would gain nothing), and not for a head with an
// escaped key, which encoding/json alone decodes right.
func TestPlainReqTakesTheCommonHeads(t *testing.T) {
	for head, want := range map[string]string{
		`{"req":"send","uuid":"u","callee":"123","length":5}`: "send",
		` { "req" : "get" } `:         "get",
		`{"req":"a","req":"b"}`:       "b",
		`{"REQ":"a","req":"b"}`:       "b",
		`{"x":{"req":"y"},"req":"z"}`: "z",
	} {
		if got, ok := plainReq([]byte(head)); !ok || got != want {
			t.Errorf("plainReq(%s) = %q, %v; want %q", head, got, ok, want)
		}
	}
	for _, head := range []string{`{"r\u0065q":"a"}`, `{"req":"a","r\u0065q":"b"}`, `{"req":"s\u0065nd"}`, `{"req":null}`, `{"req":"send"} x`, "{\"req\":\"s\xffnd\"}"} {
		if got, ok := plainReq([]byte(head)); ok {
			t.Errorf("plainReq(%s) = %q: should be left to encoding/json", head, got)
		}
	}
}
