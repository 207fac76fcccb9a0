package ringtest_test

import (
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

const uuid = "0d5c0a4e-1b2c-4d3e-8f40-123456789abc"

// The schema and its data convention accept what docs/API.md shows and
// refuse what it rules out.
func TestSchemaRequests(t *testing.T) {
	s, err := ringtest.ProtocolSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"req":"register"}`, true},
		{`{"req":"register","number":"88886666"}`, true},
		{`{"req":"register","number":null}`, true},
		{`{"req":"register","number":"12"}`, false},
		{`{"req":"register","number":"1234567890123456"}`, false},
		{`{"req":"register"}` + "\x00x", false},
		{`{"req":"nosuch"}`, false},
		{`{"uuid":"x"}`, false},
		{`[1]`, false},
		{`{"req":"login","appid":"com.example","build":"1.0","name":"Alice","locale":"en_US","token":"tok-12345","uuid":[]}`, true},
		{`{"req":"login","appid":"com.example","build":"1.0","name":"A","locale":"en_US","token":"tok-12345","uuid":[]}`, false},
		{`{"req":"login","appid":"com.example","build":"1.0","name":"Al\u0001ce","locale":"en_US","token":"tok-12345","uuid":[]}`, false},
		{`{"req":"login","appid":"com.example","build":"1.0","name":"Alice","locale":"en_US","token":"tok-12345","uuid":[null]}`, false},
		{`{"req":"send","uuid":"` + uuid + `","callee":"1002","length":5}` + "\x00hello", true},
		{`{"req":"send","uuid":"` + strings.ToUpper(uuid) + `","callee":"1002","length":5}` + "\x00hello", true},
		{`{"req":"send","uuid":"` + uuid + `","callee":"1002","length":6}` + "\x00hello", false},
		{`{"req":"send","uuid":"` + uuid + `","callee":"1002","length":0}` + "\x00", false},
		{`{"req":"send","uuid":"` + uuid + `","callee":"1002","length":0,"fname":"empty.txt"}`, true},
		{`{"req":"send","uuid":"` + uuid + `","callee":"1002","length":2,"fname":"a/b"}` + "\x00hi", false},
		{`{"req":"send","uuid":"` + uuid + `","callee":"1002","length":2}` + "\x00\xff\xfe", false},
		{`{"req":"send","uuid":"not-a-uuid","callee":"1002","length":2}` + "\x00hi", false},
		{`{"req":"sends","uuid":"` + uuid + `","callees":[],"length":2}` + "\x00hi", false},
		{`{"req":"get","uuid":[]}`, false},
		{`{"req":"get","uuid":["` + uuid + `"],"wait":-1}`, false},
		{`{"req":"fetch","uuid":"` + uuid + `","msgid":"17","offset":-1}`, false},
		{`{"req":"read","uuid":"` + uuid + `","msgid":["x"]}`, false},
		{`{"req":"read","uuid":"` + uuid + `","msgid":["017"]}`, true},
		{`{"req":"history","uuid":["` + uuid + `"],"after_msgid":"17a"}`, false},
		{`{"req":"call","uuid":"` + uuid + `","callee":"1002","length":65537}`, false},
		{`{"req":"call","uuid":"` + uuid + `","callee":"1002"}` + "\x00", false},
		{`{"req":"hangup","uuid":"` + uuid + `","callid":"3f1c"}`, false},
		{`{"req":"credit","auth":"t","number":"1001","seconds":0}`, false},
		{`{"req":"stats","auth":"t"}`, true},
	} {
		_, problem := s.CheckRequest([]byte(c.body))
		if (problem == "") != c.ok {
			t.Errorf("%q: problem %q, want ok %v", c.body, problem, c.ok)
		}
	}
}

// Answers validate exactly: fixed fields, the seed's texts, data after a
// NUL only where the protocol puts it.
func TestSchemaAnswers(t *testing.T) {
	s, err := ringtest.ProtocolSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		req, body string
		ok        bool
	}{
		{"send", `{"answer":10000,"msgid":"17","time":1764201234}`, true},
		{"send", `{"answer":10000,"msgid":"17","time":1764201234,"extra":1}`, false},
		{"send", `{"answer":10000,"msgid":17,"time":1764201234}`, false},
		{"send", `{"answer":10002,"error":"format error"}`, true},
		{"send", `{"answer":10002,"error":"format error","detail":"callee is not 3-15 digits"}`, true},
		{"send", `{"answer":10002,"error":"uuid error"}`, false},
		{"send", `{"answer":10002}`, false},
		{"send", `{"answer":10012,"error":"callid error"}`, false},
		{"hangup", `{"answer":10012,"error":"callid error"}`, true},
		{"stats", `{"answer":10061,"error":"auth error"}`, true},
		{"login", `{"answer":10061,"error":"auth error"}`, false},
		{"", `{"answer":10002,"error":"format error"}`, true},
		{"", `{"answer":10000}`, false},
		{"register", `{"answer":10000,"number":"48213377","uuid":"` + uuid + `"}`, true},
		{"register", `{"answer":10000,"number":"48213377","uuid":"` + strings.ToUpper(uuid) + `"}`, false},
		{"fetch", `{"answer":10000,"length":5,"total":5}` + "\x00hello", true},
		{"fetch", `{"answer":10000,"length":5,"total":5}` + "\x00hell", false},
		{"fetch", `{"answer":10000,"length":5,"total":5}`, false},
		{"get", `{"answer":10000,"messages":[],"more":false}` + "\x00", false},
		{"get", `{"answer":10000,"messages":[{"msgid":"1","caller":"1001","caller_name":"Al","callee":"1002","time":1,"uri":"missed.call","length":0,"callid":"0123456789abcdef0123456789abcdef"}],"more":false}`, true},
		{"get", `{"answer":10000,"messages":[{"msgid":"1","caller":"1001","caller_name":"Al","callee":"1002","time":1,"uri":"missed.call","length":0,"state":"read"}],"more":false}`, false},
		{"history", `{"answer":10000,"messages":[{"msgid":"1","caller":"1001","caller_name":"Al","callee":"1002","time":1,"uri":"missed.call","length":0,"state":"read"}],"more":false}`, true},
		{"debug", `{"answer":10020,"error":"debug","version":"(devel)","request":{"req":"debug"}}`, true},
		{"stats", `{"answer":10020,"error":"debug","version":"(devel)","request":{"req":"debug"}}`, false},
	} {
		if problem := s.CheckAnswer(c.req, []byte(c.body)); (problem == "") != c.ok {
			t.Errorf("%s %q: problem %q, want ok %v", c.req, c.body, problem, c.ok)
		}
	}
}
