package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// decodeError is the 10002 answer for a head encoding/json refused while
// decoding it into v: its Public names the field and the type the protocol
// wants there, in the protocol's words, never encoding/json's text, which
// names Go types.
func decodeError(err error, v any, req string) *Error {
	e := Wrap(FormatError, err, "decoding "+req)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		e.Public = typeErr.Field + ": " + typeRule(fieldType(v, typeErr.Field, typeErr.Type))
	case errors.As(err, &syntaxErr):
		e.Public = fmt.Sprintf("head: not valid JSON (at byte %d)", syntaxErr.Offset)
	default:
		e.Public = "head: a field holds a value of the wrong type"
	}
	return e
}

// fieldType is the type of v's field whose JSON name is name (the first of
// a dotted path), or fallback when v has none.
func fieldType(v any, name string, fallback reflect.Type) reflect.Type {
	name, _, _ = strings.Cut(name, ".")
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return fallback
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name {
			return f.Type
		}
	}
	return fallback
}

// typeRule says in the protocol's words what a field of type t holds.
func typeRule(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a value of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings, none null"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a value of another type"
}
