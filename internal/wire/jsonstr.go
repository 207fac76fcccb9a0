package wire

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// AppendString appends s as a JSON string exactly as json.Marshal encodes
// a string: quoted, with " and \ escaped, control characters as \b \f \n
// \r \t or \u00XX, < > & as \u003c \u003e \u0026, U+2028 and U+2029 as
// \u2028 and \u2029, and each byte of invalid UTF-8 as \ufffd
// (TestAppendStringIsMarshal, FuzzAppendString). Answers appended by hand
// with it stay byte for byte what encoding/json made of them, without its
// reflection and allocations.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i += safeLen(s[i:])
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control characters, < > &
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonSafe says which bytes AppendString copies as they are: ASCII from
// 0x20 on but for " \ < > &.
var jsonSafe = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// safeLen returns how many bytes at the start of s are jsonSafe. It tests
// eight at a time while it can: most of what answers carry (numbers,
// names, uris, texts) is runs of them.
func safeLen(s string) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// A read-only view of s's bytes, for whole-word loads.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// A byte past ASCII, or below 0x20 (exact once none is past
		// ASCII), or equal to one of the five: a zero byte of x ^ c.
		q, bs, lt, gt, amp := x^('"'*ones), x^('\\'*ones), x^('<'*ones), x^('>'*ones), x^('&'*ones)
		bad := x&highs | (x-0x20*ones)&^x |
			(q-ones)&^q | (bs-ones)&^bs | (lt-ones)&^lt | (gt-ones)&^gt | (amp-ones)&^amp
		if bad&highs != 0 {
			break
		}
	}
	for i < len(b) && jsonSafe[b[i]] {
		i++
	}
	return i
}
