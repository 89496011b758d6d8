// Package jsonv reads the untyped JSON that Kubeshark's tools answer with:
// documents decoded with json.Number numbers, values found by key a few
// levels deep, and numbers, strings and timestamps read leniently, because
// the Hub's answers differ between versions and formats (compact, full).
// Every file read is capped ([ReadFile]).
package jsonv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReadFile reads a whole file, failing when it is larger than max bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d MiB: refusing to read it (not something flowproof wrote)", path, max>>20)
	}
	return b, nil
}

// Decode decodes b into v with json.Number numbers.
func Decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// Parse returns b as an untyped JSON object or array (json.Number numbers),
// or nil when b is not one.
func Parse(b []byte) any {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return nil
	}
	var v any
	if Decode(b, &v) != nil {
		return nil
	}
	return v
}

// Lookup finds the first non-null value under any of keys, searching v and
// then the objects nested in it (breadth first, keys in sorted order, four
// levels deep).
func Lookup(v any, keys ...string) (any, bool) {
	level := []any{v}
	for depth := 0; depth < 4 && len(level) > 0; depth++ {
		var next []any
		for _, x := range level {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			for _, k := range keys {
				if val, ok := m[k]; ok && val != nil {
					return val, true
				}
			}
			for _, k := range SortedKeys(m) {
				if _, ok := m[k].(map[string]any); ok {
					next = append(next, m[k])
				}
			}
		}
		level = next
	}
	return nil, false
}

// LookupString is Lookup read with String (booleans as "true"/"false").
func LookupString(v any, keys ...string) string {
	x, ok := Lookup(v, keys...)
	if !ok {
		return ""
	}
	if b, ok := x.(bool); ok {
		return strconv.FormatBool(b)
	}
	return String(x)
}

// LookupInt is Lookup read with Int.
func LookupInt(v any, keys ...string) (int64, bool) {
	x, ok := Lookup(v, keys...)
	if !ok {
		return 0, false
	}
	return Int(x)
}

// SortedKeys returns m's keys in order.
func SortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// List returns v as a list, or nil.
func List(v any) []any { l, _ := v.([]any); return l }

// String returns a string or a number's text; "" for anything else.
func String(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// First returns a when it is not empty, else b.
func First(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Int reads an integer: a JSON number (a fraction is truncated) or decimal
// text.
func Int(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if f, err := x.Float64(); err == nil {
			return int64(f), true
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, true
		}
	case float64:
		return int64(x), true
	}
	return 0, false
}

// TimeNs reads a timestamp: RFC 3339 text (or ISO 8601 without a zone,
// taken as UTC), or a Unix number in s, ms, µs or ns told apart by
// magnitude.
func TimeNs(v any) (int64, bool) {
	if s, ok := v.(string); ok {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UnixNano(), true
			}
		}
	}
	n, ok := Int(v)
	if !ok || n <= 0 {
		return 0, false
	}
	switch {
	case n < 1e11: // seconds
		return n * 1e9, true
	case n < 1e14: // ms
		return n * 1e6, true
	case n < 1e17: // µs
		return n * 1e3, true
	}
	return n, true
}

// MaxExact is the largest integer a JSON number is sure to carry exactly
// (2^53): producers that go through a float64 (JavaScript, Go's
// encoding/json into interface{}) round anything larger.
const MaxExact = 1 << 53

// Count reads a counter strictly: a JSON number or decimal text that is an
// exact integer (no fraction, no exponent) in 0 .. MaxExact. present is
// false when v is absent (nil); bad says what is wrong with a value that is
// there but not such an integer ("" when it is).
func Count(v any) (n int64, present bool, bad string) {
	var text string
	switch x := v.(type) {
	case nil:
		return 0, false, ""
	case json.Number:
		text = x.String()
	case string:
		text = x
	case float64: // decoded without UseNumber
		text = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return 0, true, fmt.Sprintf("not a number (%T)", v)
	}
	digits := strings.TrimPrefix(text, "-")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, true, fmt.Sprintf("not an integer (%.40q)", text)
	}
	if strings.HasPrefix(text, "-") && strings.Trim(digits, "0") != "" {
		return 0, true, fmt.Sprintf("negative (%.40s)", text)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > MaxExact {
		return 0, true, fmt.Sprintf("above 2^53, where JSON numbers lose precision (%.40s)", text)
	}
	return n, true, ""
}

// ParseShallow is Parse for a document too large to hold as a tree: objects
// are kept, but every array is left out (its key maps to nil), so a large
// answer costs about its scalars, not ten times its size. nil when b is not
// a JSON object or array.
func ParseShallow(b []byte) any {
	d := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(b)))
	d.UseNumber()
	v, err := shallow(d)
	if err != nil {
		return nil
	}
	switch v.(type) {
	case map[string]any, []any:
		return v
	}
	return nil
}

func shallow(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		m := map[string]any{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := shallow(d)
			if err != nil {
				return nil, err
			}
			m[k.(string)] = v
		}
		_, err := d.Token()
		return m, err
	case json.Delim('['):
		for d.More() {
			var skip json.RawMessage
			if err := d.Decode(&skip); err != nil {
				return nil, err
			}
		}
		_, err := d.Token()
		return []any(nil), err
	}
	return t, nil
}
