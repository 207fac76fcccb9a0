package wire

import (
	"encoding/json"
	"reflect"
)

// Strings is a JSON array of strings for request heads. encoding/json
// decodes a null element of a []string as "", which would let ["…", null]
// pass as a list with an empty string in it and be answered as a bad uuid or
// msgid. The protocol says a null where a string is required is a format
// error, in an array as in a field, so Strings refuses it.
type Strings []string

// UnmarshalJSON decodes an array of strings, refusing null elements. A null
// array is never seen here: a *Strings field stays nil for it.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var ps []*string
	if err := json.Unmarshal(b, &ps); err != nil {
		return err
	}
	out := make(Strings, len(ps))
	for i, p := range ps {
		if p == nil {
			// As encoding/json's own: it names the field for decodeError.
			return &json.UnmarshalTypeError{Value: "null", Type: reflect.TypeFor[string]()}
		}
		out[i] = *p
	}
	*s = out
	return nil
}
