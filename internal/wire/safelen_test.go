package wire

import (
	"slices"
	"testing"
)

// safeLen, eight bytes at a time, stops where the byte-by-byte table
// does, for every byte at every position of a word and past it.
func TestSafeLen(t *testing.T) {
	base := []byte("abcdefghijklmnopqrstuvwxyz0123456789")
	for b := range 256 {
		for pos := range len(base) {
			s := slices.Clone(base)
			s[pos] = byte(b)
			want := len(s)
			if !jsonSafe[b] {
				want = pos
			}
			if got := safeLen(string(s)); got != want {
				t.Fatalf("byte %#x at %d: safeLen %d, want %d", b, pos, got, want)
			}
		}
	}
}
