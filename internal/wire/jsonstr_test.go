package wire_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ringd/ringd/internal/wire"
)

// appendStringCases are strings that reach every branch of json.Marshal's
// string encoding, alone and between other characters.
var appendStringCases = func() []string {
	cases := []string{"", "hello", "Alice Smith", "88886666", `"`, `\`, `a"b\c`, "<script>&amp;</script>",
		"\u2028", "\u2029", "a\u2028b\u2029c", "\u2027\u202a", "\x7f", "é", "日本語", "😀", "\ufffd",
		"\xff", "\xc3", "a\xc3(b", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98", "\xc0\xaf"}
	for b := range 0x80 {
		cases = append(cases, string(rune(b)), "x"+string(rune(b))+"y")
	}
	for b := 0x80; b < 0x100; b++ {
		cases = append(cases, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	return cases
}()

// TestAppendStringIsMarshal: AppendString makes what json.Marshal makes of
// a string, for every ASCII byte, every lone high byte, invalid and
// surrogate sequences, the two escaped separators, and random strings of
// bytes and of runes.
func TestAppendStringIsMarshal(t *testing.T) {
	cases := append([]string(nil), appendStringCases...)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		cases = append(cases, string(b))
		var sb strings.Builder
		for range rng.IntN(20) {
			switch rng.IntN(4) {
			case 0:
				sb.WriteByte(byte(rng.UintN(0x80)))
			case 1:
				sb.WriteRune(rune(rng.IntN(0x3000)))
			case 2:
				sb.WriteRune(rune(rng.IntN(utf8.MaxRune + 1)))
			default:
				sb.WriteString("\u2028<>&\"\\")
			}
		}
		cases = append(cases, sb.String())
	}
	for _, s := range cases {
		checkAppendString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range appendStringCases {
		f.Add(s)
	}
	f.Fuzz(checkAppendString)
}

func checkAppendString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := wire.AppendString(nil, s); !bytes.Equal(got, want) {
		t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
	}
	if got := wire.AppendString([]byte("{"), s); !bytes.Equal(got, append([]byte("{"), want...)) {
		t.Fatalf("AppendString after {, of %q = %s", s, got)
	}
}

// BenchmarkAppendString is a 100-byte text as get answers it.
func BenchmarkAppendString(b *testing.B) {
	text := strings.Repeat("hello, world ", 8)[:100]
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		buf = wire.AppendString(buf[:0], text)
	}
}
