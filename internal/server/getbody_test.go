package server

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// TestGetBodyIsTheEncoders: get's answer, appended by hand, is byte for
// byte what encoding/json made of getAnswer, for texts and names it
// escapes, files, large data, missed calls and sends to several.
func TestGetBodyIsTheEncoders(t *testing.T) {
	now := time.Unix(1_800_000_123, 0).Unix()
	texts := []string{"plain", `a "quote" and a \ backslash`, "<b>&amp;</b> & < >", "unicode é 日本 🎉",
		"\u2028 and \u2029, tab\t, newline\n, nul \x00, del \x7f", strings.Repeat("x", store.TextMax)}
	names := []string{"Alice", `<Eve & "Mallory">`, "Zoë \u2028"}
	var msgs []store.Message
	id := int64(1)
	add := func(m store.Message, callees ...string) {
		for _, c := range callees {
			m.ID, m.Callee = id, c
			msgs = append(msgs, m)
			id = id*7 + 3 // ids of every length
		}
	}
	for i, text := range texts {
		m := store.Message{Caller: "1001", CallerName: names[i%len(names)], Time: now, URI: "h" + text[:1], Length: int64(len(text)), Text: &text}
		add(m, "2002")
		add(m, "2002", "30003", "123456789012345")
		m.Fname, m.Text = `f<&>"`+text[:1]+`".txt`, nil
		add(m, "2002", "30003")
	}
	large := store.Message{Caller: "1001", CallerName: "Alice", Time: now, URI: "big", Length: store.TextMax + 1}
	add(large, "2002")
	large.Fname = "big.bin"
	add(large, "2002", "30003")
	msgs = append(msgs, store.Message{ID: 99, Caller: "1001", CallerName: "<Eve>", Callee: "2002", Time: now,
		URI: store.MissedCallURI, CallID: "call<&>1"})
	// A callee the encoder escapes (none can be one, but all the same).
	odd := msgs[0]
	odd.Callee = `<"\>`
	msgs = append(msgs, odd)

	for _, more := range []bool{false, true} {
		for _, n := range []int{0, 1, len(msgs)} {
			checkGetBody(t, msgs[:n], more)
		}
	}
}

// checkGetBody checks getBody against encoding/json.
func checkGetBody(t *testing.T, msgs []store.Message, more bool) {
	t.Helper()
	var c renderCache
	got := getBody(msgs, more, &c)
	if again := getBody(msgs, more, &c); string(again.b) != string(got.b) { // from the cache
		t.Fatalf("%d messages, more %v: again from the cache:\n got %s\nwant %s", len(msgs), more, again.b, got.b)
	}
	want, err := json.Marshal(getAnswer{Answer: wire.OK, Messages: messagesJSON(msgs, false), More: more})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.b) != string(want) {
		t.Fatalf("%d messages, more %v:\n got %s\nwant %s", len(msgs), more, got.b, want)
	}
}

// TestGetBodyRandom: the appended answer holds to encoding/json's bytes
// for random names, texts, uris and file names, bytes that are not UTF-8
// included (the store does not check a caller_name's bytes), and times of
// every sign and length.
func TestGetBodyRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	str := func(n int) string {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			switch rng.IntN(3) {
			case 0:
				b[i] = byte(rng.UintN(256))
			case 1:
				const special = "<>&\"\\\n\x00\x7f\xe2\x80\xa8"
				b[i] = special[rng.IntN(len(special))]
			default:
				b[i] = byte('a' + rng.IntN(26))
			}
		}
		return string(b)
	}
	for i := range 3000 {
		text := str(200)
		m := store.Message{ID: rng.Int64N(1 << 62), Caller: str(15), CallerName: str(40), Callee: "2002",
			Time: rng.Int64N(1<<40) - 1<<39, URI: str(64), Length: int64(len(text)), Text: &text}
		switch i % 4 {
		case 1:
			m.Fname = str(100) // a file's data is never in the answer
		case 2:
			m.Length = store.TextMax + rng.Int64N(1<<30)
		case 3:
			m.Text, m.Fname, m.CallID = nil, str(20), str(30)
		}
		checkGetBody(t, []store.Message{m}, false)
	}
}

// BenchmarkGetBody300 is the answer of a get of 300 texts of 100 bytes,
// as ringbench's get load makes them.
func BenchmarkGetBody300(b *testing.B) {
	text := strings.Repeat("x", 100)
	msgs := make([]store.Message, 300)
	for i := range msgs {
		msgs[i] = store.Message{ID: int64(1_000_000 + i), Caller: "10000001", CallerName: "sender", Callee: "10000002",
			Time: 1_800_000_000, URI: strings.Repeat("ab", 32), Length: 100, Text: &text}
	}
	var c renderCache
	b.ReportAllocs()
	for b.Loop() {
		putAnswerBuf(getBody(msgs, false, &c))
	}
}
