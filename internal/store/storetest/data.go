package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ringd/ringd/internal/store"
)

var dataCases = []testCase{
	{"URIRule", testURIRule},
	{"ReadAtOffsets", testReadAtOffsets},
	{"ExpiryFreesData", testExpiryFreesData},
	{"ReuseByHashRacingExpiry", testReuseRacingExpiry},
}

// Sizes past what a text carries with its message, and past what an
// engine may keep in a row or a preallocated area: the suite does not know
// where an engine puts what, so it sends every size that might differ.
var dataSizes = []int{1, store.TextMax, store.TextMax + 1, 70_000, 1<<20 + 1}

// dataOf is n bytes of data no other of the suite's data equals, seeded by
// seed; valid UTF-8, so it may be a text.
func dataOf(n int, seed string) string {
	var sb strings.Builder
	for sb.Len() < n {
		fmt.Fprintf(&sb, "%s %d ", seed, sb.Len())
	}
	return sb.String()[:n]
}

// isHex64 reports whether s looks like a SHA-256 in hex.
func isHex64(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64
}

// The uri (docs/API.md) of a text of at most TextMax bytes is its
// SHA-256; of anything else, a random name of 64 hex digits, the same for
// the messages of one send, another for the same bytes sent again.
func testURIRule(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	both := []string{b.Number, c.Number}
	for _, n := range dataSizes {
		for _, fname := range []string{"", "f.bin"} {
			data := dataOf(n, fmt.Sprint("uri", n, fname))
			var uris []string
			for range 2 {
				res := f.mustSend(sending{From: a.UUID, To: both, Data: data, Fname: fname, At: at(1)})
				mb, mc := f.message(res.MsgIDs[b.Number]), f.message(res.MsgIDs[c.Number])
				if mb.URI != mc.URI || !isHex64(mb.URI) {
					t.Fatalf("%d bytes (fname %q) to two: uris %q and %q, want one of 64 hex digits", n, fname, mb.URI, mc.URI)
				}
				uris = append(uris, mb.URI)
			}
			sum := sha256.Sum256([]byte(data))
			byHash := fname == "" && n <= store.TextMax
			switch {
			case byHash && (uris[0] != hex.EncodeToString(sum[:]) || uris[1] != uris[0]):
				t.Fatalf("text of %d bytes: uris %v, want its SHA-256 twice", n, uris)
			case !byHash && (uris[0] == uris[1] || uris[0] == hex.EncodeToString(sum[:])):
				t.Fatalf("%d bytes (fname %q) sent twice: uris %v, want two names of their own", n, fname, uris)
			}
		}
	}
}

// What a send stored is read back whole and at offsets, by its receivers,
// for every size and kind.
func testReadAtOffsets(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	for _, n := range dataSizes {
		for _, fname := range []string{"", "f.bin"} {
			data := dataOf(n, fmt.Sprint("read", n, fname))
			for _, to := range [][]string{{b.Number}, {b.Number, c.Number}} {
				res := f.mustSend(sending{From: a.UUID, To: to, Data: data, Fname: fname, At: at(1)})
				m := f.message(res.MsgIDs[b.Number])
				if got := f.data(m); got != data {
					t.Fatalf("%d bytes (fname %q) to %d: read back %d bytes that differ", n, fname, len(to), len(got))
				}
				for _, r := range [][2]int64{{0, 0}, {0, 1}, {int64(n) / 3, min(5000, int64(n)-int64(n)/3)}, {int64(n) - 1, 1}, {int64(n), 0}} {
					got, err := f.dataAt(m, r[0], r[1])
					if err != nil || got != data[r[0]:r[0]+r[1]] {
						t.Fatalf("%d bytes (fname %q): %d at %d: %d bytes (%v)", n, fname, r[1], r[0], len(got), err)
					}
				}
			}
		}
	}
}

// Once its message has expired, a message's data can no longer be read
// (ErrBadMsgID), for every size and kind; a reader the store handed out
// before the expiry still reads it whole.
func testExpiryFreesData(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	type sent struct {
		m    store.Message
		data string
	}
	var old []sent
	for _, n := range dataSizes {
		for _, fname := range []string{"", "f.bin"} {
			data := dataOf(n, fmt.Sprint("expire", n, fname))
			res := f.mustSend(sending{From: a.UUID, To: []string{b.Number}, Data: data, Fname: fname, At: at(1)})
			old = append(old, sent{f.message(res.MsgIDs[b.Number]), data})
		}
	}
	open, err := f.st.OpenData(f.ctx, old[len(old)-1].m, 0, old[len(old)-1].m.Length)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	f.expire(at(hour))
	for _, s := range old {
		if _, err := f.st.OpenData(f.ctx, s.m, 0, s.m.Length); !errors.Is(err, store.ErrBadMsgID) {
			t.Fatalf("data of expired message of %d bytes (fname %q): %v, want ErrBadMsgID", s.m.Length, s.m.Fname, err)
		}
	}
	var sb strings.Builder
	buf := make([]byte, 64<<10)
	for {
		k, err := open.Read(buf)
		sb.Write(buf[:k])
		if err != nil {
			break
		}
	}
	if sb.String() != old[len(old)-1].data {
		t.Fatalf("a reader opened before the expiry read %d bytes that differ", sb.Len())
	}
}

// A text sent to several and sent again later (the same bytes, reused by
// their hash) while expiry deletes the first send's messages: every later
// message's data is there, whichever went first.
func testReuseRacingExpiry(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.online("Bob"), f.online("Carol")
	both := []string{b.Number, c.Number}
	const rounds = 20
	for i := range rounds {
		text := fmt.Sprint("shared text ", i)
		f.mustSend(sending{From: a.UUID, To: both, Data: text, At: at(float64(1 + i))})
	}
	var wg sync.WaitGroup
	results := make([]store.SendResult, rounds)
	errs := make([]error, rounds+1)
	wg.Go(func() { errs[rounds] = f.st.Expire(f.ctx, at(hour)) })
	for i := range rounds {
		wg.Go(func() {
			text := fmt.Sprint("shared text ", i)
			results[i], errs[i] = f.st.Send(f.ctx, sendingMessages(sending{From: a.UUID, To: both, Data: text, At: at(2 * hour)}))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	f.expire(at(hour)) // whatever the first expiry left
	for i, res := range results {
		for _, to := range both {
			m := f.message(res.MsgIDs[to])
			if got := f.data(m); got != fmt.Sprint("shared text ", i) {
				t.Fatalf("later message %d to %s: data %q", m.ID, to, got)
			}
		}
	}
}
