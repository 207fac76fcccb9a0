package wire_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/wire"
)

// The body parser's cost per request: splitting the head off, naming its
// req, decoding the head into a handler's struct, and reading the data.

var (
	sendBody = append([]byte(`{"req":"send","uuid":"3f0c6a1e-8d7b-4c59-a2f4-6b1e9d0c7a35","callee":"88886666","length":100}`+"\x00"),
		bytes.Repeat([]byte("x"), 100)...)
	getBody   = []byte(`{"req":"get","uuid":["3f0c6a1e-8d7b-4c59-a2f4-6b1e9d0c7a35"]}`)
	sendsBody = append([]byte(`{"req":"sends","uuid":"3f0c6a1e-8d7b-4c59-a2f4-6b1e9d0c7a35","callees":[`+
		strings.TrimSuffix(strings.Repeat(`"88886666",`, 1000), ",")+`],"length":100}`+"\x00"),
		bytes.Repeat([]byte("x"), 100)...)
)

type getHead struct {
	UUID  *[]string `json:"uuid"`
	After *int64    `json:"after"`
}

type sendHead struct {
	UUID    *string   `json:"uuid"`
	Callee  *string   `json:"callee"`
	Callees *[]string `json:"callees"`
	Length  *int64    `json:"length"`
}

func benchParse(b *testing.B, body []byte) {
	get := bytes.HasPrefix(body, []byte(`{"req":"get"`))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var r bytes.Reader
	for b.Loop() {
		r.Reset(body)
		req, err := wire.ReadRequestSize(&r, int64(len(body))) // as the server does, from Content-Length
		if err != nil {
			b.Fatal(err)
		}
		if get {
			var h getHead
			if err := req.Decode(&h); err != nil {
				b.Fatal(err)
			}
			continue
		}
		var h sendHead
		if err := req.Decode(&h); err != nil {
			b.Fatal(err)
		}
		if req.HasData {
			if _, err := io.Copy(io.Discard, req.Data(*h.Length)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseSend(b *testing.B)  { benchParse(b, sendBody) }
func BenchmarkParseGet(b *testing.B)   { benchParse(b, getBody) }
func BenchmarkParseSends(b *testing.B) { benchParse(b, sendsBody) }

// BenchmarkReadRequest is the head split alone, without the handler's decode.
func BenchmarkReadRequest(b *testing.B) {
	b.ReportAllocs()
	var r bytes.Reader
	for b.Loop() {
		r.Reset(sendBody)
		if _, err := wire.ReadRequestSize(&r, int64(len(sendBody))); err != nil {
			b.Fatal(err)
		}
	}
}
