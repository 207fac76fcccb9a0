package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/ringd/ringd/internal/wire"
)

// fuzzHead has every kind of field a handler decodes.
type fuzzHead struct {
	UUID    *string       `json:"uuid"`
	UUIDs   *wire.Strings `json:"uuids"`
	Length  *int64        `json:"length"`
	Fname   *string       `json:"fname"`
	Callees *wire.Strings `json:"callees"`
}

// FuzzReadRequest feeds arbitrary bodies to the parser, read in pieces of
// every size, and checks what a handler relies on: every failure is a
// FormatError; a parsed head is one JSON object holding no NUL and naming a
// string req; a null never hides in a Strings; and the data reader yields
// exactly the bytes after the first NUL when they number length, and
// otherwise fails with ErrShortData or ErrLongData, never silently.
// Its seed corpus (f.Add and testdata/fuzz/FuzzReadRequest) runs as part
// of go test.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte(`{"req":"get","uuid":["3f0c6a1e-8d7b-4c59-a2f4-6b1e9d0c7a35"]}`), int64(0), uint8(0))
	f.Add([]byte("{\"req\":\"send\",\"length\":5}\x00hello"), int64(5), uint8(1))
	f.Add([]byte("{\"req\":\"send\",\"length\":5}\x00hell"), int64(5), uint8(3))
	f.Add([]byte("{\"req\":\"send\",\"length\":5}\x00hello!"), int64(5), uint8(7))
	f.Add([]byte("{\"req\":\"send\"}\x00\x00\x00"), int64(2), uint8(2))
	f.Add([]byte(`{"req":"x","callees":["1",null]}`), int64(0), uint8(0))
	f.Add([]byte(`{"req":5}`), int64(0), uint8(0))
	f.Add([]byte(`[{"req":"get"}]`), int64(0), uint8(0))
	f.Add([]byte(` {"req":"get"} trailing`), int64(0), uint8(0))
	f.Add([]byte("{\"req\":\"s\xff\"}\x00"), int64(0), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, length int64, piece uint8) {
		if length < 0 || length > 1<<20 {
			return
		}
		var src io.Reader = bytes.NewReader(body)
		if piece > 0 { // short reads of every size split heads and data anywhere
			src = &chunked{r: src, n: int(piece)}
		}
		size := int64(-1) // odd pieces: an unknown size, the buffer of 4 KiB
		if piece%2 == 0 {
			size = int64(len(body)) // a buffer as large as the body, if smaller
		}
		r, err := wire.ReadRequestSize(src, size)
		if err != nil {
			if wire.CodeOf(err) != wire.FormatError {
				t.Fatalf("ReadRequest error %v is not a FormatError", err)
			}
			return
		}
		if bytes.IndexByte(r.Head, 0) >= 0 || !json.Valid(r.Head) || bytes.TrimLeft(r.Head, " \t\r\n")[0] != '{' {
			t.Fatalf("head %q is not one JSON object without NUL", r.Head)
		}
		nul := bytes.IndexByte(body, 0)
		if r.HasData != (nul >= 0) {
			t.Fatalf("HasData %v, body has NUL at %d", r.HasData, nul)
		}
		var h fuzzHead
		if err := r.Decode(&h); err != nil {
			if wire.CodeOf(err) != wire.FormatError {
				t.Fatalf("Decode error %v is not a FormatError", err)
			}
		} else {
			for _, l := range []*wire.Strings{h.UUIDs, h.Callees} {
				if l != nil && bytes.Contains(r.Head, []byte("null")) {
					// A null element must have failed Decode; a null
					// elsewhere (another field) is fine. Check by decoding
					// the list again as []any.
					var raw map[string]json.RawMessage
					json.Unmarshal(r.Head, &raw)
					for _, k := range []string{"uuids", "callees"} {
						var elems []any
						if json.Unmarshal(raw[k], &elems) == nil {
							for _, e := range elems {
								if e == nil {
									t.Fatalf("a null element of %s was accepted", k)
								}
							}
						}
					}
				}
			}
		}
		got, err := io.ReadAll(r.Data(length))
		var rest []byte
		if nul >= 0 {
			rest = body[nul+1:]
		}
		switch {
		case int64(len(rest)) == length:
			if err != nil || !bytes.Equal(got, rest) {
				t.Fatalf("data: %q, %v; want %q", got, err, rest)
			}
		case int64(len(rest)) < length:
			if !errors.Is(err, wire.ErrShortData) {
				t.Fatalf("short data: err %v", err)
			}
		default:
			if !errors.Is(err, wire.ErrLongData) {
				t.Fatalf("long data: err %v", err)
			}
		}
		if int64(len(got)) > length || !bytes.HasPrefix(rest, got) {
			t.Fatalf("data reader yielded %q beyond or beside %q", got, rest)
		}
	})
}

// chunked returns at most n bytes per Read, as a slow network does.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

func TestDataReaderAfterError(t *testing.T) {
	// A reader that fails mid-data must keep failing: a consumer that
	// retries must not see a short read as the end.
	r, err := wire.ReadRequest(io.MultiReader(bytes.NewReader([]byte("{\"req\":\"send\"}\x00ab")), iotest.ErrReader(io.ErrUnexpectedEOF)))
	if err != nil {
		t.Fatal(err)
	}
	d := r.Data(5)
	if _, err := io.ReadAll(d); err == nil {
		t.Fatal("no error")
	}
	if n, err := d.Read(make([]byte, 4)); n != 0 || err == nil || err == io.EOF {
		t.Fatalf("second read: %d, %v", n, err)
	}
}
