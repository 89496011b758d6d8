package jsonv_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
)

func TestTimeNs(t *testing.T) {
	want := int64(1706745600_500000000)
	for _, v := range []any{"2024-02-01T00:00:00.5Z", "2024-02-01T00:00:00.5", "2024-02-01 00:00:00.5", "2024-02-01T01:00:00.5+01:00"} {
		if got, ok := jsonv.TimeNs(v); !ok || got != want {
			t.Errorf("%v: %d %v", v, got, ok)
		}
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want int64
		ok   bool
	}{
		{"number", jsonv.Parse([]byte(`[42]`)).([]any)[0], 42, true},
		{"fraction truncated", jsonv.Parse([]byte(`[2.9]`)).([]any)[0], 2, true},
		{"text", "17", 17, true},
		{"not a number", "x", 0, false},
		{"null", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := jsonv.Int(tt.in); got != tt.want || ok != tt.ok {
				t.Errorf("Int(%v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	v := jsonv.Parse([]byte(`{"a":{"z":{"size":"9"}},"b":{"size":3}}`))
	if n, ok := jsonv.LookupInt(v, "size"); !ok || n != 3 {
		t.Errorf("LookupInt = %d, %v; want 3 (breadth first: b's is one level up)", n, ok)
	}
	if s := jsonv.LookupString(v, "missing"); s != "" {
		t.Errorf("LookupString = %q", s)
	}
}

func TestCount(t *testing.T) {
	num := func(s string) any { return jsonv.Parse([]byte("[" + s + "]")).([]any)[0] }
	tests := []struct {
		name    string
		in      any
		want    int64
		present bool
		bad     bool
	}{
		{"absent", nil, 0, false, false},
		{"zero", num("0"), 0, true, false},
		{"integer", num("1234"), 1234, true, false},
		{"text", "77", 77, true, false},
		{"2^53", num("9007199254740992"), 1 << 53, true, false},
		{"2^53+1", num("9007199254740993"), 0, true, true},
		{"max int64", num("9223372036854775807"), 0, true, true},
		{"beyond int64", num("92233720368547758070"), 0, true, true},
		{"negative", num("-5"), 0, true, true},
		{"negative zero", num("-0"), 0, true, false},
		{"fraction", num("2.5"), 0, true, true},
		{"exponent", num("1e3"), 0, true, true},
		{"empty text", "", 0, true, true},
		{"bool", true, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, present, bad := jsonv.Count(tt.in)
			if n != tt.want || present != tt.present || (bad != "") != tt.bad {
				t.Errorf("Count(%v) = %d, %v, %q", tt.in, n, present, bad)
			}
		})
	}
}

// FuzzCount: Count never accepts a value outside 0 .. 2^53 or one that is
// not an exact integer, and what it accepts is the integer written.
func FuzzCount(f *testing.F) {
	for _, s := range []string{"0", "12", "-1", "1.5", "1e9", "9007199254740993", "18446744073709551616", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, json.Number(s)} {
			n, _, bad := jsonv.Count(v)
			if bad != "" {
				if n != 0 {
					t.Fatalf("Count(%q) = %d with %q", s, n, bad)
				}
				continue
			}
			if n < 0 || n > jsonv.MaxExact {
				t.Fatalf("Count(%q) = %d out of range", s, n)
			}
			if got, err := strconv.ParseInt(strings.TrimPrefix(s, "-"), 10, 64); err != nil || got != n {
				t.Fatalf("Count(%q) = %d, the text says %d (%v)", s, n, got, err)
			}
		}
	})
}

func TestParseShallow(t *testing.T) {
	v := jsonv.ParseShallow([]byte(`{"total": 3, "truncated": true, "flows": [{"a": 1}, {"b": [2, 3]}], "meta": {"path": "/x", "list": [1]}}`))
	if n, ok := jsonv.LookupInt(v, "total"); !ok || n != 3 {
		t.Errorf("total %d %v", n, ok)
	}
	if p := jsonv.LookupString(v, "path"); p != "/x" {
		t.Errorf("path %q", p)
	}
	if tr, _ := jsonv.Lookup(v, "truncated"); tr != true {
		t.Errorf("truncated %v", tr)
	}
	if l := jsonv.List(v.(map[string]any)["flows"]); l != nil {
		t.Errorf("flows kept: %v", l)
	}
	if jsonv.ParseShallow([]byte(`"text"`)) != nil || jsonv.ParseShallow([]byte(`{"a":`)) != nil {
		t.Error("not an object or array, or cut short: want nil")
	}
}
