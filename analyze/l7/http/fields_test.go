package http

import (
	"bytes"
	"reflect"
	"testing"
)

// parseFieldsRef is parseFields as it was before it skipped fields by
// their first letter: it finds every line's colon, and gives every field
// to message.field. The referee of TestParseFieldsSkip and FuzzParseFields.
func parseFieldsRef(lines []byte) message {
	m := message{length: -1}
	for _, line := range bytes.Split(lines, []byte{'\n'}) {
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if colon := bytes.IndexByte(line, ':'); colon > 0 {
			m.field(line[:colon], bytes.TrimSpace(line[colon+1:]))
		}
	}
	m.finish()
	return m
}

var fieldsCases = map[string]string{
	"common":         "Host: a.example\r\nUser-Agent: ab/2.3\r\nAccept: */*\r\nContent-Length: 12\r\n",
	"case":           "HOST:x\r\ncOnTeNt-LeNgTh:  7 \r\nuser-agent:\tu\r\n",
	"colon first":    ":host: x\r\nhost:y\r\n",
	"colon in name":  "ho:st: x\r\nhost:: y\r\nContent:Length: 5\r\n",
	"space before":   "Host : x\r\nContent-Length : 3\r\n",
	"chunked":        "Transfer-Encoding: gzip, chunked\r\nContent-Length: 10\r\n",
	"not chunked":    "Transfer-Encoding: chunked, gzip\r\n",
	"conflict":       "Content-Length: 1\r\nContent-Length: 2\r\n",
	"bad length":     "Content-Length: -1\r\n",
	"empty and bare": "\r\n\r\nh\r\nhost\r\n\rhost: z\r\nc\r\nContent-Length\r\n",
	"no CR":          "Host: a\nUser-Agent: b\nContent-Length: 4",
	"other c t h u":  "Cookie: a=b\r\nTE: x\r\nHostname: y\r\nUpgrade: z\r\nConnection: close\r\n",
}

// TestParseFieldsSkip: skipping fields by their first letter finds what
// finding each line's colon finds.
func TestParseFieldsSkip(t *testing.T) {
	for name, in := range fieldsCases {
		t.Run(name, func(t *testing.T) {
			if got, want := parseFields([]byte(in)), parseFieldsRef([]byte(in)); !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// checkScanHead: scanFields in head mode ends where headEnd ends the head
// these fields follow, and reads the fields before that end as
// parseFieldsRef does.
func checkScanHead(t *testing.T, in []byte) {
	t.Helper()
	var m message
	n := scanFields(in, true, &m)
	end := headEnd(append([]byte("GET / HTTP/1.1\n"), in...))
	if end >= 0 {
		end -= len("GET / HTTP/1.1\n")
	}
	if n != end {
		t.Fatalf("%q: head ends at %d, headEnd says %d", in, n, end)
	}
	if n >= 0 {
		if want := parseFieldsRef(in[:n]); !reflect.DeepEqual(m, want) {
			t.Errorf("%q: head fields %+v, want %+v", in, m, want)
		}
	}
}

// TestScanHead: finding a head's end and its fields in one pass agrees
// with headEnd then parseFields.
func TestScanHead(t *testing.T) {
	for name, in := range fieldsCases {
		t.Run(name, func(t *testing.T) {
			for _, tail := range []string{"", "\r\n", "\n", "\r\nbody", "\r", "\r\r\n\r\n"} {
				checkScanHead(t, []byte(in+tail))
			}
		})
	}
}

// FuzzParseFields: parseFields and its referee agree on any bytes, and so
// do scanFields and headEnd on where a head ends.
func FuzzParseFields(f *testing.F) {
	for _, in := range fieldsCases {
		f.Add([]byte(in))
		f.Add([]byte(in + "\r\n"))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := parseFields(in), parseFieldsRef(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v, want %+v", in, got, want)
		}
		checkScanHead(t, in)
	})
}

// equalFoldRef is equalFold a byte at a time, as it was before it compared
// words: the referee of TestEqualFold.
func equalFoldRef(b []byte, lower string) bool {
	return len(b) == len(lower) && equalFoldBytes(b, lower)
}

// TestEqualFold: the word-wise comparison agrees with the byte-wise one for
// every name the parser compares, in mixed case and with every byte of it
// replaced by every other byte value (a '\r' for '-', '@' for '`', ...).
func TestEqualFold(t *testing.T) {
	for _, name := range []string{"content-length", "transfer-encoding", "host", "user-agent", "chunked"} {
		b := []byte(name)
		check := func(b []byte) {
			if got, want := equalFold(b, name), equalFoldRef(b, name); got != want {
				t.Fatalf("equalFold(%q, %q) = %v, want %v", b, name, got, want)
			}
		}
		for mask := range 1 << min(len(b), 12) { // case variants
			v := bytes.Clone(b)
			for i := range v {
				if mask&(1<<(i%12)) != 0 && v[i] >= 'a' && v[i] <= 'z' {
					v[i] -= 'a' - 'A'
				}
			}
			check(v)
		}
		for i := range b {
			for c := range 256 {
				v := bytes.Clone(b)
				v[i] = byte(c)
				check(v)
				v[(i+5)%len(v)] ^= 0x20 // and another byte's case
				check(v)
			}
		}
		check(b[:len(b)-1])
	}
}

// TestTrimSpace: trimSpace gives what bytes.TrimSpace gives, its nil for
// nothing left included.
func TestTrimSpace(t *testing.T) {
	for _, in := range []string{"", " ", "\t", " \t ", "a", " a", "a ", " a b ", "\ta\t", "\va", "a\v", "\xc2\xa0a",
		"a\xc2\xa0", " \xc2\xa0a", "\xe2\x80\x83", " x\r", "\r\nx", " é", "é ", "10.78.0.2", " ApacheBench/2.3"} {
		got, want := trimSpace([]byte(in)), bytes.TrimSpace([]byte(in))
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("trimSpace(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSame: same agrees with string equality at every length up to 40 and
// every position of a differing byte.
func TestSame(t *testing.T) {
	for n := range 41 {
		a := make([]byte, n)
		for i := range a {
			a[i] = byte('a' + i%26)
		}
		if !same(a, string(a)) {
			t.Fatalf("same(%q, itself) = false", a)
		}
		if n > 0 && same(a[:n-1], string(a)) {
			t.Fatalf("same(%q, %q) = true", a[:n-1], a)
		}
		for i := range n {
			b := bytes.Clone(a)
			b[i] ^= 0x80
			if same(b, string(a)) {
				t.Fatalf("same(%q, %q) = true", b, a)
			}
		}
	}
}
