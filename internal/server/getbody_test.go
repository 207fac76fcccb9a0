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

// TestGetBodyIsTheEncoders: get's answer put together from the senders'
// renderings is, byte for byte, what encoding/json made of getAnswer, for
// texts and names it escapes, files, large data, missed calls (encoded on
// their own) and sends to several.
func TestGetBodyIsTheEncoders(t *testing.T) {
	now := time.Unix(1_800_000_123, 0)
	texts := []string{"plain", `a "quote" and a \ backslash`, "<b>&amp;</b> & < >", "unicode é 日本 🎉",
		"\u2028 and \u2029, tab\t, newline\n, nul \x00, del \x7f", strings.Repeat("x", store.InlineMax)}
	names := []string{"Alice", `<Eve & "Mallory">`, "Zoë \u2028"}
	var msgs []store.Message
	id := int64(1)
	add := func(nm store.NewMessages, caller, name string, r *store.Rendered, callees ...string) {
		for _, c := range callees {
			m := store.Message{ID: id, Caller: caller, CallerName: name, Callee: c, Time: nm.Now.Unix(),
				URI: nm.Blob.Hash, Length: nm.Blob.Length, Fname: nm.Fname, Rendered: r}
			if nm.Fname == "" && nm.Blob.Inline != nil {
				t := string(nm.Blob.Inline)
				m.Text = &t
			}
			msgs = append(msgs, m)
			id = id*7 + 3 // ids of every length
		}
	}
	for i, text := range texts {
		name := names[i%len(names)]
		nm := store.NewMessages{Now: now, Blob: store.Blob{Hash: "h" + text[:1], Length: int64(len(text)), Inline: []byte(text)}}
		add(nm, "1001", name, renderSend("1001", name, &nm), "2002")
		add(nm, "1001", name, renderSend("1001", name, &nm), "2002", "30003", "123456789012345")
		nm.Fname = `f<&>"` + text[:1] + `".txt`
		add(nm, "1001", name, renderSend("1001", name, &nm), "2002", "30003")
	}
	large := store.NewMessages{Now: now, Blob: store.Blob{Hash: "big", Length: store.InlineMax + 1}}
	add(large, "1001", "Alice", renderSend("1001", "Alice", &large), "2002")
	large.Fname = "big.bin"
	add(large, "1001", "Alice", renderSend("1001", "Alice", &large), "2002", "30003")
	msgs = append(msgs, store.Message{ID: 99, Caller: "1001", CallerName: "<Eve>", Callee: "2002", Time: now.Unix(),
		URI: store.MissedCallURI, CallID: "call<&>1"})
	for _, m := range msgs[:len(msgs)-1] {
		if _, ok := formOf(&m); !ok {
			t.Fatalf("message %+v has no rendering", m)
		}
	}
	// A callee the encoder escapes (none can be one, but all the same).
	odd := msgs[0]
	odd.Callee = `<"\>`
	msgs = append(msgs, odd)

	for _, more := range []bool{false, true} {
		for _, n := range []int{0, 1, len(msgs)} {
			got, err := getBody(msgs[:n], more)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(getAnswer{Answer: wire.OK, Messages: messagesJSON(msgs[:n], false), More: more})
			if err != nil {
				t.Fatal(err)
			}
			if string(got.b) != string(want) {
				t.Fatalf("%d messages, more %v:\n got %s\nwant %s", n, more, got.b, want)
			}
		}
	}
}

// TestRenderSendRandom: renderSend, appended by hand, holds to
// encoding/json's bytes for random names, texts and file names, bytes that
// are not UTF-8 included (the store does not check a caller_name's bytes),
// and times of every sign and length.
func TestRenderSendRandom(t *testing.T) {
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
		nm := store.NewMessages{Now: time.Unix(rng.Int64N(1<<40)-1<<39, 0),
			Blob: store.Blob{Hash: str(64), Length: int64(len(text)), Inline: []byte(text)}}
		switch i % 4 {
		case 1:
			nm.Fname = str(100)
		case 2:
			nm.Blob = store.Blob{Hash: str(64), Length: store.InlineMax + rng.Int64N(1<<30)}
		case 3:
			nm.Blob.Inline = nil // a file's data is never in the rendering
			nm.Fname = str(20)
		}
		caller, name := str(15), str(40)
		m := store.Message{ID: rng.Int64N(1 << 62), Caller: caller, CallerName: name, Callee: "2002", Time: nm.Now.Unix(),
			URI: nm.Blob.Hash, Length: nm.Blob.Length, Fname: nm.Fname, Rendered: renderSend(caller, name, &nm)}
		if nm.Fname == "" && nm.Blob.Inline != nil {
			m.Text = &text
		}
		got, err := getBody([]store.Message{m}, false)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(getAnswer{Answer: wire.OK, Messages: messagesJSON([]store.Message{m}, false)})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.b) != string(want) {
			t.Fatalf("message %+v:\n got %s\nwant %s", nm, got.b, want)
		}
	}
}
