package http

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
)

// recordedPayloads returns the TCP payloads of a recording, in order, for
// fuzz seeds (nil when the file is absent).
func recordedPayloads(name string, max int) [][]byte {
	c, err := ingest.Open(filepath.Join("..", "..", "..", "testdata", "rec", name), ingest.Options{})
	if err != nil {
		return nil
	}
	defer c.Close()
	var out [][]byte
	var p ingest.Packet
	var d analyze.Decoded
	for len(out) < max && c.Next(&p) == nil {
		analyze.Decode(&p, &d)
		if b := d.PayloadBytes(p.Data); len(b) > 0 {
			out = append(out, append([]byte(nil), b...))
		}
	}
	return out
}

// FuzzConn feeds a request stream and a response stream, cut into pieces
// of a fuzzed size, through a connection: no panic, bounded state, and a
// transaction per request at most.
func FuzzConn(f *testing.F) {
	pay := recordedPayloads("http-v4.pcap", 40)
	for i := 0; i+1 < len(pay); i += 2 {
		f.Add(pay[i], pay[i+1], uint8(7))
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 204 x\r\n\r\n"), uint8(3))
	f.Add([]byte("HEAD / HTTP/1.0\r\n\r\n"), []byte("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\nab"), uint8(0))
	f.Fuzz(func(t *testing.T, reqs, resps []byte, piece uint8) {
		var st Stats
		n := 0
		c := NewConn(&analyze.L7Info{}, Limits{MaxHeaderBytes: 256, MaxPending: 8}, &st, func(*Transaction) { n++ })
		size := int(piece)%64 + 1
		for i := 0; i < len(reqs) || i < len(resps); i += size {
			if i < len(reqs) {
				c.Requests().Data(reqs[i:min(i+size, len(reqs))], int64(i))
			}
			if i < len(resps) {
				c.Responses().Data(resps[i:min(i+size, len(resps))], int64(i))
			}
			if i%(3*size) == 0 {
				c.Responses().Gap(int64(piece), int64(i))
			}
			if len(c.pending) > 8 || cap(c.req.hdr) > 4<<10 || cap(c.resp.hdr) > 4<<10 {
				t.Fatalf("state over its bounds: %d pending, heads %d/%d", len(c.pending), cap(c.req.hdr), cap(c.resp.hdr))
			}
		}
		c.End()
		if int64(n) > st.Requests+st.Responses+int64(len(reqs)) {
			t.Fatalf("%d rows from %d requests and %d responses", n, st.Requests, st.Responses)
		}
	})
}

// FuzzLastHead feeds the same connection twice through connections sharing
// an Interner (the second time its heads are the last ones, taken
// unparsed) and once without: the transactions and counts are the same.
func FuzzLastHead(f *testing.F) {
	pay := recordedPayloads("http-v4.pcap", 40)
	for i := 0; i+1 < len(pay); i += 2 {
		f.Add(pay[i], pay[i+1], uint8(200))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), uint8(255))
	f.Add([]byte("HEAD / HTTP/1.0\r\n\r\n"), []byte("HTTP/1.0 101 Switching\r\n\r\nxx"), uint8(5))
	f.Fuzz(func(t *testing.T, reqs, resps []byte, piece uint8) {
		conn := func(in *Interner) ([]string, Stats) {
			var out []string
			var st Stats
			c := NewConn(&analyze.L7Info{}, Limits{MaxHeaderBytes: 512}, &st, func(t *Transaction) { out = append(out, show(t)) })
			c.Strings = in
			size := int(piece) + 1
			for i := 0; i < len(reqs) || i < len(resps); i += size {
				if i < len(reqs) {
					c.Requests().Data(reqs[i:min(i+size, len(reqs))], int64(i))
				}
				if i < len(resps) {
					c.Responses().Data(resps[i:min(i+size, len(resps))], int64(i))
				}
			}
			c.End()
			return out, st
		}
		want, wantSt := conn(nil)
		in := new(Interner)
		for range 2 {
			got, st := conn(in)
			if strings.Join(got, "\n") != strings.Join(want, "\n") || st != wantSt {
				t.Fatalf("with the last heads:\n\t%s\n\t%+v\nparsed:\n\t%s\n\t%+v", strings.Join(got, "\n\t"), st, strings.Join(want, "\n\t"), wantSt)
			}
		}
	})
}
