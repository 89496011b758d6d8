package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// TestReaderAllocs: streaming an object through Reader allocates nothing
// per Read.
func TestReaderAllocs(t *testing.T) {
	data := bytes.Repeat([]byte{1}, 1<<20)
	src := bytes.NewReader(data)
	r := &Reader{Object: Object{Size: int64(len(data))}, body: io.NopCloser(src), ctx: context.Background()}
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		if src.Len() == 0 {
			src.Reset(data)
			r.n, r.err = 0, nil
		}
		if _, err := r.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Read", allocs)
	}
}

// TestErrorText: a key's control characters are escaped in messages, and
// the configured credentials never appear.
func TestErrorText(t *testing.T) {
	c := &Client{scrub: []string{"the-secret-key"}}
	e := &Error{Op: "get", URL: URL{"caps", "a\x1b[2J.pcap"}, Msg: c.scrubText("denied for the-secret-key\x1b]0;title\x07"), Hint: "check"}
	if got, want := e.Error(), `s3://caps/a\x1b[2J.pcap: get: denied for REDACTED\x1b]0;title\a: check`; got != want {
		t.Errorf("Error() = %q\nwant      %q", got, want)
	}
}

// TestReaderShort: a stream that ends before the object's size is an
// error naming the object, not a clean end.
func TestReaderShort(t *testing.T) {
	r := &Reader{Object: Object{URL: URL{"caps", "a.pcap"}, Size: 10}, body: io.NopCloser(bytes.NewReader([]byte("12345"))), ctx: context.Background()}
	_, err := io.ReadAll(r)
	if !errors.Is(err, ErrChanged) || !errors.Is(err, io.ErrUnexpectedEOF) || err.Error() != "s3://caps/a.pcap: get: the stream ended after 5 of 10 bytes: the connection was cut, or the object changed: run again" {
		t.Fatalf("ReadAll: %v", err)
	}
}

func TestLocalName(t *testing.T) {
	tests := []struct {
		rel string
		ok  bool
	}{
		{"manifest.json", true},
		{"flows/date=2026-12-03/shard=0001/part-0.parquet", true},
		{"../escape", false},
		{"a/../../escape", false},
		{"/abs", false},
		{"", false},
		{"a//b", false},
		{`a\..\b`, false},
		{".", false},
	}
	for _, tt := range tests {
		if _, ok := localName(tt.rel); ok != tt.ok {
			t.Errorf("localName(%q) ok = %v, want %v", tt.rel, ok, tt.ok)
		}
	}
}

func TestOwned(t *testing.T) {
	tests := []struct {
		pat, rel string
		literal  int
		owned    bool
	}{
		{"flows/date=*/shard=0003/", "flows/date=2026-12-03/shard=0003/part-0.parquet", 1, true},
		{"flows/date=*/shard=0003/", "flows/date=2026-12-03/shard=0013/part-0.parquet", 1, false},
		{"flows/date=*/shard=0003/", "flows/date=2026-12-03/shard=0003", 1, false},
		{"shards/shard=0003/", "shards/shard=0003/manifest.json", 2, true},
		{"shards/shard=0003/", "shards/shard=00031/manifest.json", 2, false},
		{"*/shard=0003/", "dns/shard=0003/x", 0, true},
	}
	for _, tt := range tests {
		segs, literal, err := ownedPattern(tt.pat)
		if err != nil || literal != tt.literal || ownedBy(segs, tt.rel) != tt.owned {
			t.Errorf("%q owns %q: %v (literal %d, %v); want %v (literal %d)", tt.pat, tt.rel, ownedBy(segs, tt.rel), literal, err, tt.owned, tt.literal)
		}
	}
	for _, bad := range []string{"flows/[/", "a//b/", ""} {
		if _, _, err := ownedPattern(bad); err == nil {
			t.Errorf("ownedPattern(%q) accepted", bad)
		}
	}
}
