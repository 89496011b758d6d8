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

// FuzzParseFields: parseFields and its referee agree on any bytes.
func FuzzParseFields(f *testing.F) {
	for _, in := range fieldsCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := parseFields(in), parseFieldsRef(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v, want %+v", in, got, want)
		}
	})
}
