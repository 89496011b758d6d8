package objstore

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name, in string
		want     URL
		prefix   bool
		bad      string // part of the error; "" when valid
	}{
		{name: "object", in: "s3://caps/2026/12/a.pcap", want: URL{"caps", "2026/12/a.pcap"}},
		{name: "prefix", in: "s3://caps/2026/", want: URL{"caps", "2026/"}, prefix: true},
		{name: "bucket", in: "s3://caps", want: URL{"caps", ""}, prefix: true},
		{name: "bucket slash", in: "s3://caps/", want: URL{"caps", ""}, prefix: true},
		{name: "dots and hyphens", in: "s3://my.caps-01/k", want: URL{"my.caps-01", "k"}},
		{name: "other scheme", in: "gs://caps/k", bad: "not an s3://"},
		{name: "short bucket", in: "s3://ab/k", bad: "3 to 63"},
		{name: "upper case", in: "s3://Caps/k", bad: "lowercase"},
		{name: "trailing hyphen", in: "s3://caps-/k", bad: "lowercase"},
		{name: "no bucket", in: "s3:///k", bad: "3 to 63"},
		{name: "control character", in: "s3://caps/a\nb", bad: "control character"},
		{name: "bad utf8", in: "s3://caps/\xff", bad: "UTF-8"},
		{name: "long key", in: "s3://caps/" + strings.Repeat("k", 1025), bad: "1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURL(tt.in)
			if tt.bad != "" {
				if err == nil || !errors.Is(err, ErrURL) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("ParseURL(%q) = %v, %v; want an ErrURL saying %q", tt.in, got, err, tt.bad)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseURL(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.IsPrefix() != tt.prefix {
				t.Errorf("IsPrefix() = %v, want %v", got.IsPrefix(), tt.prefix)
			}
			if back, err := ParseURL(got.String()); err != nil || back.Dir() != got.Dir() {
				t.Errorf("String() %q does not parse back: %v, %v", got.String(), back, err)
			}
		})
	}
}

func TestJoinRel(t *testing.T) {
	base := URL{"out", "runs/7"}
	if got, want := base.Join("flows.parquet"), (URL{"out", "runs/7/flows.parquet"}); got != want {
		t.Errorf("Join = %v, want %v", got, want)
	}
	if got, want := (URL{"out", ""}).Join("/a/b"), (URL{"out", "a/b"}); got != want {
		t.Errorf("Join at the bucket = %v, want %v", got, want)
	}
	if got := base.Rel(base.Join("charts/x.svg")); got != "charts/x.svg" {
		t.Errorf("Rel = %q", got)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://caps/a.pcap", "s3://caps/", "s3://a.b-c/k/", "s3://x", "s3:///", "gs://b/k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			return
		}
		back, err := ParseURL(u.String())
		if err != nil || back != u && back != u.Dir() {
			t.Fatalf("%q parsed as %+v, whose String %q parses as %+v, %v", s, u, u.String(), back, err)
		}
		if j := u.Join("x"); !strings.HasPrefix(j.Key, u.Key) || u.Rel(j) != "x" {
			t.Fatalf("%+v: Join(x) = %+v, Rel = %q", u, j, u.Rel(j))
		}
	})
}
