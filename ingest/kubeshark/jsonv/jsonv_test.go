package jsonv_test

import (
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
