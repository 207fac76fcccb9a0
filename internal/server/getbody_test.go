package server

import (
	"encoding/json"
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
			if string(got) != string(want) {
				t.Fatalf("%d messages, more %v:\n got %s\nwant %s", n, more, got, want)
			}
		}
	}
}
