package wire

import "unicode/utf8"

// Printable reports whether s is valid UTF-8 holding no control character:
// none of C0 (U+0000–U+001F), DEL (U+007F) or C1 (U+0080–U+009F). Text that
// people or apps read (names, a device's fields, file names, link data)
// must be printable: a control character in it could break a line of a
// display, a log or a notification, or hide what follows it. Tab and
// newline are control characters too. Everything else passes, including
// U+00A0 and every other printable non-ASCII character.
//
// It runs on decoded values: a JSON escape such as \u0001 is a control
// character once decoded.
func Printable(s string) bool {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		// C1 characters are the two-byte sequences 0xC2 0x80–0x9F.
		if r < 0xa0 || r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	return true
}

// Text reports whether s is printable (Printable) and holds between min
// and max Unicode characters, both ends inclusive (Chars): the rule of the
// text fields of a request.
func Text(s string, min, max int) bool {
	return Chars(s, min, max) && Printable(s)
}
