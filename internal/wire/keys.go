package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// encoding/json matches object keys to struct fields case-insensitively, so
// {"UUID":…} would fill the field tagged "uuid". The protocol's field names
// are exact: a key that differs from every field's name is an unknown field
// and must be ignored. exactKeys removes such near-miss keys from a head
// before it is decoded.

var tagSets sync.Map // reflect.Type → map[string]bool

// fieldNames returns the JSON names of the fields of the struct v points to.
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := tagSets.Load(t); ok {
		return s.(map[string]bool)
	}
	names := map[string]bool{}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			names[name] = true
		}
	}
	tagSets.Store(t, names)
	return names
}

// exactKeys returns head without the top-level members whose key matches a
// field of v only when case is ignored. It returns head itself (no copy) in
// the common case where every key is exact or unrelated.
func exactKeys(head []byte, v any) []byte {
	names := fieldNames(v)
	var strip [][2]int // member spans to remove
	forEachMember(head, func(key []byte, start, end int) {
		if names[string(key)] {
			return
		}
		for n := range names {
			if strings.EqualFold(n, string(key)) {
				strip = append(strip, [2]int{start, end})
				return
			}
		}
	})
	if strip == nil {
		return head
	}
	if !json.Valid(head) {
		// forEachMember takes a member with no value ("K":,) as a span;
		// replacing it would turn invalid JSON valid. Leave it for
		// json.Unmarshal to refuse.
		return head
	}
	out := make([]byte, 0, len(head))
	prev := 0
	for _, s := range strip {
		out = append(out, head[prev:s[0]]...)
		// Keep the object well formed: the member is replaced by an
		// unknown key that no field can match.
		out = append(out, `"\u0000":0`...)
		prev = s[1]
	}
	return append(out, head[prev:]...)
}

// forEachMember calls fn with the raw key and the byte span of each member
// ("key": value) of the top-level object in b. It stops quietly at anything
// malformed: json.Unmarshal reports that afterwards.
func forEachMember(b []byte, fn func(key []byte, start, end int)) {
	i := bytes.IndexByte(b, '{')
	if i < 0 {
		return
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return
		}
		start := i
		kend := skipString(b, i)
		if kend < 0 {
			return
		}
		key := b[start+1 : kend-1]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return
		}
		i = skipValue(b, i+1)
		if i < 0 {
			return
		}
		fn(key, start, i)
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at or after b[i].
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i = skipString(b, i)
			if i < 0 {
				return -1
			}
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return -1
}
