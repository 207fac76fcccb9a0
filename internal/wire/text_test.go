package wire

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// printableRef is Printable by its definition: valid UTF-8 and no
// character of Unicode's category Cc (C0, DEL, C1).
func printableRef(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func TestPrintable(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"", true},
		{"Alice", true},
		{"a b", true},
		{"~", true},
		{"\u00a0", true}, // no-break space: the first character after C1
		{"é", true},
		{"中文", true},
		{"😀", true},
		{"👩‍👩‍👧", true},  // joined by U+200D, a format character, not a control
		{"\ufffd", true}, // the replacement character itself, sent as such
		{"\u2028", true},
		{"\U0010ffff", true},
		{"\x00", false},
		{"a\x00", false},
		{"\x01", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\rb", false},
		{"\x1b[31m", false},
		{"\x1f", false},
		{"\x7f", false},
		{"a\x7f", false},
		{"\u0080", false},
		{"a\u0085b", false},
		{"\u009b", false},
		{"\u009f", false},
		{"\xc2", false},     // cut off before its second byte
		{"\xc2\x20", false}, // not a C1 character, but not UTF-8 either
		{"\xff", false},
		{"a\xffb", false},
		{"\xc0\x80", false},     // overlong NUL
		{"\xed\xa0\x80", false}, // a UTF-16 surrogate
		{"\xe2\x82", false},
	} {
		if got := Printable(c.s); got != c.want {
			t.Errorf("Printable(%q) = %v, want %v", c.s, got, c.want)
		}
		if ref := printableRef(c.s); ref != c.want {
			t.Errorf("the table disagrees with Unicode on %q", c.s)
		}
	}
	// Every character from U+0000 to U+00FF, alone and inside text.
	for r := rune(0); r <= 0xff; r++ {
		want := r >= 0x20 && r != 0x7f && (r < 0x80 || r >= 0xa0)
		for _, s := range []string{string(r), "ab" + string(r) + "€"} {
			if got := Printable(s); got != want {
				t.Errorf("Printable(%q) = %v, want %v", s, got, want)
			}
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct {
		s        string
		min, max int
		want     bool
	}{
		{"ab", 2, 32, true},
		{"a", 2, 32, false},
		{"a\x00", 2, 32, false},
		{"\u00a0\u00a0", 2, 2, true},
		{"😀😀😀", 2, 2, false},
		{"a\u0085", 2, 32, false},
	} {
		if got := Text(c.s, c.min, c.max); got != c.want {
			t.Errorf("Text(%q, %d, %d) = %v, want %v", c.s, c.min, c.max, got, c.want)
		}
	}
}

// FuzzPrintable: the byte loop agrees with Unicode's control category on
// any bytes, valid UTF-8 or not.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "Alice", "a\x00", "\x7f", "\u0085", "\u00a0", "😀", "\xc2", "\xc2\x9f", "\xc2\xa0", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Printable(s), printableRef(s); got != want {
			t.Fatalf("Printable(%q) = %v, want %v", s, got, want)
		}
	})
}

// TestReadRequestRefusesInvalidUTF8: a head that is not UTF-8, anywhere in
// it, is a FormatError, where decoding would have made U+FFFD of the bytes.
func TestReadRequestRefusesInvalidUTF8(t *testing.T) {
	for _, head := range []string{
		"{\"req\":\"login\",\"name\":\"N\xffm\"}",
		"{\"req\":\"login\",\"name\":\"N\xc0\xafm\"}",                // overlong /
		"{\"req\":\"login\",\"name\":\"N\xed\xa0\x80m\"}",            // a UTF-16 surrogate
		"{\"req\":\"login\",\"name\":\"N\xe2\x82\"}",                 // cut off
		"{\"req\":\"get\",\"x\":\"\xff\"}",                           // an unknown field
		"{\"req\":\"get\",\"\xff\":1}",                               // a key
		"{\"req\":\"send\",\"length\":1,\"fname\":\"\xfe\"}\x00\xff", // in the head, before binary data
	} {
		r, err := ReadRequest(strings.NewReader(head))
		if CodeOf(err) != FormatError {
			t.Errorf("ReadRequest(%q) = %v, %v; want a FormatError", head, r, err)
		}
	}
	r, err := ReadRequest(strings.NewReader("{\"req\":\"send\",\"length\":1,\"fname\":\"é😀\u00a0\"}\x00\xff"))
	if err != nil || r.Req != "send" || !r.HasData {
		t.Fatalf("a UTF-8 head with binary data: %v, %v", r, err)
	}
}

// BenchmarkPrintable: a login's name and token, the longest text fields
// checked on every login, ASCII and not.
func BenchmarkPrintable(b *testing.B) {
	for _, s := range []string{"Alice Example", "Zoë 中文 😀 Example", strings.Repeat("f0e1d2c3", 20)} {
		b.Run(fmt.Sprint(len(s)), func(b *testing.B) {
			for b.Loop() {
				if !Printable(s) {
					b.Fatal(s)
				}
			}
		})
	}
}
