package http

import (
	"bytes"
	"reflect"
	"testing"
)

// parseFieldsRef is parseFields as it was before it skipped fields by
// their first letter: it finds every line's colon. The referee of
// TestParseFieldsSkip and FuzzParseFields.
func parseFieldsRef(lines []byte) message {
	m := message{length: -1}
	for len(lines) > 0 {
		var line []byte
		if i := bytes.IndexByte(lines, '\n'); i >= 0 {
			line, lines = lines[:i], lines[i+1:]
		} else {
			line, lines = lines, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		value := bytes.TrimSpace(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseDecimal(value)
			switch {
			case !ok:
				m.badLength = true
			case m.length >= 0 && m.length != n:
				m.badLength = true
			default:
				m.length = n
			}
		case equalFold(name, "transfer-encoding"):
			v := bytes.TrimSpace(value[bytes.LastIndexByte(value, ',')+1:])
			m.chunked = equalFold(v, "chunked")
		case equalFold(name, "host"):
			m.host = value
		case equalFold(name, "user-agent"):
			m.ua = value
		}
	}
	if m.chunked {
		m.length = -1
		m.badLength = false
	}
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
