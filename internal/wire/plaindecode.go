package wire

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// decodePlain decodes a head that json.Valid accepted into v, a pointer to
// a struct, when every member whose key names one of v's fields exactly is
// a plain string (no escapes, valid UTF-8) for a *string field, a plain
// integer for an *int64 one, or null, and no key holds an escape: what
// json.Unmarshal of exactKeys(head, v) does for such a head (the last
// member of a name wins; a near-miss key is dropped, an unknown one
// ignored), without its reflection over every value, which every request
// would otherwise pay. It reports false, having changed nothing, for
// anything else, which is then left to encoding/json (FuzzDecodePlain
// holds the two together).
func decodePlain(head []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	fields := plainFieldsOf(rv.Elem().Type())
	if fields == nil {
		return false
	}
	var buf [12]plainValue
	sets := buf[:0]
	plain := true
	forEachMember(head, func(key []byte, start, end int) {
		if !plain {
			return
		}
		if bytes.IndexByte(key, '\\') >= 0 {
			plain = false
			return
		}
		f, ok := fields[string(key)]
		if !ok {
			return // unknown, or a near miss exactKeys drops
		}
		i := skipSpace(head, start+len(key)+2)
		x, ok := plainValueOf(f, head[skipSpace(head, i+1):end])
		if !ok {
			plain = false
			return
		}
		sets = append(sets, x)
	})
	if !plain {
		return false
	}
	st := rv.Elem()
	for _, x := range sets {
		x.setIn(st)
	}
	return true
}

// plainValue is a member's value for field f, decoded.
type plainValue struct {
	f    plainField
	null bool
	s    string
	i    int64
}

// plainValueOf decodes val, a member's value, for field f; false if it is
// not plain (left to encoding/json).
func plainValueOf(f plainField, val []byte) (plainValue, bool) {
	switch {
	case f.kind == plainOther:
		return plainValue{}, false
	case string(val) == "null": // a pointer's: nil
		return plainValue{f: f, null: true}, true
	case f.kind == plainString && len(val) >= 2 && val[0] == '"':
		s := val[1 : len(val)-1]
		if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
			return plainValue{}, false
		}
		return plainValue{f: f, s: string(s)}, true
	case f.kind == plainInt && len(val) > 0 && (val[0] == '-' || val[0] >= '0' && val[0] <= '9') &&
		bytes.IndexAny(val, ".eE") < 0:
		n, err := strconv.ParseInt(string(val), 10, 64)
		return plainValue{f: f, i: n}, err == nil
	}
	return plainValue{}, false
}

// setIn sets x's field of st, a struct.
func (x plainValue) setIn(st reflect.Value) {
	fv := st.Field(x.f.index)
	switch {
	case x.null:
		fv.SetZero()
	case x.f.kind == plainString:
		p := new(string)
		*p = x.s
		fv.Set(reflect.ValueOf(p))
	default:
		p := new(int64)
		*p = x.i
		fv.Set(reflect.ValueOf(p))
	}
}

type plainField struct {
	index int
	kind  int // plainString, plainInt, or plainOther: another type, left to encoding/json
}

const (
	plainOther = iota
	plainString
	plainInt
)

var plainSets sync.Map // reflect.Type → map[string]plainField (nil: not for decodePlain)

// plainFieldsOf returns t's fields by JSON name, or nil when t has a field
// whose name encoding/json takes elsewhere than from a plain tag
// (embedded or unexported fields, options other than omitempty).
func plainFieldsOf(t reflect.Type) map[string]plainField {
	if f, ok := plainSets.Load(t); ok {
		return f.(map[string]plainField)
	}
	fields := map[string]plainField{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous || !sf.IsExported() || name == "" || name == "-" || (opts != "" && opts != "omitempty") {
			fields = nil
			break
		}
		kind := plainOther
		switch sf.Type {
		case reflect.TypeFor[*string]():
			kind = plainString
		case reflect.TypeFor[*int64]():
			kind = plainInt
		}
		fields[name] = plainField{index: i, kind: kind}
	}
	plainSets.Store(t, fields)
	return fields
}
