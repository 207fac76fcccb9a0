package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

// plainHead is like the handlers' heads: pointers to strings and integers,
// and a field of another type.
type plainHead struct {
	UUID    *string  `json:"uuid"`
	Callee  *string  `json:"callee"`
	Callees *Strings `json:"callees"`
	Length  *int64   `json:"length"`
	Name    *string  `json:"caller_name,omitempty"`
	Wait    *int     `json:"wait"`
}

var decodePlainSeeds = []string{
	`{"req":"send","uuid":"3f0c6a1e-8d7b","callee":"88886666","length":100}`,
	`{"req":"send","uuid":"a","uuid":"b","length":1,"length":null}`, `{"req":"x","UUID":"a","uuid":"b"}`,
	`{"req":"x","uuid":"b","UUID":"a"}`, `{"req":"x","u\u0075id":"a"}`, `{"req":"x","uuid":"\u0041"}`,
	`{"req":"x","uuid":5}`, `{"req":"x","length":"5"}`, `{"req":"x","length":5.0}`, `{"req":"x","length":1e2}`,
	`{"req":"x","length":-0}`, `{"req":"x","length":9223372036854775807}`, `{"req":"x","length":9223372036854775808}`,
	`{"req":"x","length":-9223372036854775809}`, `{"req":"x","callees":["1","2"]}`, `{"req":"x","callees":null}`,
	`{"req":"x","wait":3}`, `{"req":"x","wait":null}`, `{"req":"x","caller_name":"Zoë","callee":null}`,
	"{\"req\":\"x\",\"uuid\":\"\xff\"}", `{"req":"x","other":{"uuid":"deep"},"uuid":"top"}`, ` { "uuid" : "s" , "length" : 7 } `,
	`{"req":"x","uuid":["a"]}`, `{"req":"x","uuid":{"a":1}}`, `{"req":"x","uuid":true}`, `{"req":"x","ſength":3}`,
}

// FuzzDecodePlain: whenever decodePlain decodes a valid head, encoding/json
// (exactKeys, then Unmarshal) decodes it without error into the same value.
func FuzzDecodePlain(f *testing.F) {
	for _, s := range decodePlainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		if !json.Valid(head) || !isObject(head) {
			return
		}
		var got plainHead
		if !decodePlain(head, &got) {
			if !reflect.DeepEqual(got, plainHead{}) {
				t.Fatalf("decodePlain(%q) refused but changed %+v", head, got)
			}
			return
		}
		var want plainHead
		if err := json.Unmarshal(exactKeys(head, &want), &want); err != nil {
			t.Fatalf("decodePlain(%q) decoded, encoding/json fails: %v", head, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodePlain(%q) = %s, encoding/json %s", head, show(got), show(want))
		}
	})
}

func show(h plainHead) string {
	b, _ := json.Marshal(h)
	return string(b)
}

// TestDecodePlainTakesTheCommonHeads: a send's head goes the plain way
// (else it would gain nothing); one with an escape, a list or a float
// does not.
func TestDecodePlainTakesTheCommonHeads(t *testing.T) {
	var h plainHead
	if !decodePlain([]byte(`{"req":"send","uuid":"u-1","callee":"88886666","length":100,"caller_name":"Al"}`), &h) {
		t.Fatal("a send's head was not decoded")
	}
	if *h.UUID != "u-1" || *h.Callee != "88886666" || *h.Length != 100 || *h.Name != "Al" || h.Callees != nil || h.Wait != nil {
		t.Fatalf("decoded %s", show(h))
	}
	for _, head := range []string{`{"uuid":"\u0041"}`, `{"callees":["1"]}`, `{"length":1.5}`, `{"wait":1}`, `{"u\u0075id":"a"}`} {
		var h plainHead
		if decodePlain([]byte(head), &h) {
			t.Errorf("decodePlain(%s) should be left to encoding/json", head)
		}
	}
}
