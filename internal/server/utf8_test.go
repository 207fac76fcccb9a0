package server

import (
	"bytes"
	"io"
	"testing"
	"unicode/utf8"
)

// smallReads returns at most n bytes per Read, so characters split anywhere.
type smallReads struct {
	r io.Reader
	n int
}

func (s *smallReads) Read(p []byte) (int, error) {
	if len(p) > s.n {
		p = p[:s.n]
	}
	return s.r.Read(p)
}

// FuzzUTF8Reader: text data passes exactly when it is valid UTF-8, however
// the reads split it, and what passes is the data unchanged.
func FuzzUTF8Reader(f *testing.F) {
	for _, s := range []string{"", "a", "€", "a€b", "\xe2\x82", "\xe2\x82A", "\xff", "\xc0\xaf", "\xed\xa0\x80",
		"😀😀", "\xf0\x9f\x98", "\xf4\x90\x80\x80", "ab\xe2", "€\x80"} {
		for _, n := range []uint8{1, 2, 3, 4, 5, 7} {
			f.Add([]byte(s), n)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		if n == 0 {
			n = 1
		}
		got, err := io.ReadAll(&utf8Reader{r: &smallReads{bytes.NewReader(data), int(n)}})
		if valid := utf8.Valid(data); valid != (err == nil) {
			t.Fatalf("%q in reads of %d: err %v, valid %v", data, n, err, valid)
		}
		if err == nil && !bytes.Equal(got, data) {
			t.Fatalf("%q passed as %q", data, got)
		}
	})
}
