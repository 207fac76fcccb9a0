package wire

import (
	"strings"
	"testing"
)

func TestDecodeKeysAreExact(t *testing.T) {
	type head struct {
		UUID   *string `json:"uuid"`
		Length *int64  `json:"length"`
	}
	cases := []struct {
		body      string
		uuid      string // "" means nil
		length    int64  // -1 means nil
		formatErr bool
	}{
		{`{"req":"x","uuid":"a","length":3}`, "a", 3, false},
		{`{"req":"x","UUID":"a","Length":3}`, "", -1, false},
		{`{"req":"x","Uuid":"a","uuid":"b"}`, "b", -1, false},
		{`{"req":"x","uuid":"b","UUID":{"deep":[1,"}",2]}}`, "b", -1, false},
		{`{"req":"x","uuid":5}`, "", -1, true},
		{` { "req" : "x" , "LENGTH" : "no" , "length" : 7 } `, "", 7, false},
	}
	for _, c := range cases {
		r, err := ReadRequest(strings.NewReader(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		var h head
		err = r.Decode(&h)
		if (err != nil) != c.formatErr {
			t.Fatalf("%s: err %v", c.body, err)
		}
		if err != nil {
			if CodeOf(err) != FormatError {
				t.Fatalf("%s: code %v", c.body, CodeOf(err))
			}
			continue
		}
		if (h.UUID == nil) != (c.uuid == "") || (h.UUID != nil && *h.UUID != c.uuid) {
			t.Errorf("%s: uuid %v, want %q", c.body, h.UUID, c.uuid)
		}
		if (h.Length == nil) != (c.length == -1) || (h.Length != nil && *h.Length != c.length) {
			t.Errorf("%s: length %v, want %d", c.body, h.Length, c.length)
		}
	}
	if _, err := ReadRequest(strings.NewReader(`{"REQ":"send"}`)); CodeOf(err) != FormatError {
		t.Errorf(`{"REQ":"send"}: %v, want a format error (no req)`, err)
	}
}
