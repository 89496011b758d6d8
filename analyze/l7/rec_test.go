package l7_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowproof/flowproof/analyze/l7/http"
)

// TestL7Recording checks, on testdata/l7-v4.pcap (testdata/record.sh),
// what the tshark comparison cannot: body lengths, tags, depths, TLS names
// and DNS codes. Where a value is not obvious, the comment says how it was
// derived from the capture with tshark.
func TestL7Recording(t *testing.T) {
	r := runEngine(t, filepath.Join("testdata", "l7-v4.pcap"))
	byURI := map[string][]*http.Transaction{}
	for _, x := range r.http {
		byURI[x.Method+" "+x.URI] = append(byURI[x.Method+" "+x.URI], x)
	}
	one := func(key string, i int) *http.Transaction {
		t.Helper()
		if len(byURI[key]) <= i {
			t.Fatalf("no transaction %d for %s", i, key)
		}
		return byURI[key][i]
	}
	for _, tt := range []struct {
		name             string
		tx               *http.Transaction
		status           int64
		reqBody, resBody int64
		depth            int
		tags             http.Tag
	}{
		{"one request", one("GET /small.txt", 0), 200, 0, 100, 1, 0},
		{"keep-alive, first", one("GET /small.txt", 1), 200, 0, 100, 1, 0},
		{"keep-alive, 404", one("GET /missing", 0), 404, 0, 146, 2, 0}, // nginx's 404 page: Content-Length 146
		{"keep-alive, third", one("GET /medium.txt", 0), 200, 0, 10000, 3, 0},
		{"HEAD: no body whatever Content-Length says", one("HEAD /small.txt", 0), 200, 0, 0, 1, 0},
		{"204", one("GET /status/204", 0), 204, 0, 0, 1, 0},
		{"500", one("GET /status/500", 0), 500, 0, 170, 1, 0},
		{"503", one("GET /status/503", 0), 503, 0, 190, 1, 0},
		{"301", one("GET /redirect", 0), 301, 0, 162, 1, 0},
		{"304", one("GET /small.txt", 2), 304, 0, 0, 1, 0},
		// tshark -Y 'tcp.stream==8 && http.response' -e http.chunk_size: 9416,0
		{"chunked (gzip), decoded length", one("GET /chunk.txt", 0), 200, 0, 9416, 1, 0},
		// HTTP/1.0: no length, the body ends with the connection: 9627 payload
		// bytes from the server (sum of tcp.len, stream 9) minus a 211-byte head.
		{"close-delimited", one("GET /chunk.txt", 1), 200, 0, 9416, 1, 0},
		// 5000-byte file: Content-Length 5000, then chunked (http.chunk_size 5000,0)
		{"upload, 100-continue", one("POST /upload", 0), 201, 5000, 5, 1, 0},
		{"chunked upload", one("POST /upload", 1), 201, 5000, 5, 1, 0},
		{"slow answer", one("GET /slow", 0), 200, 0, 5, 1, 0},
		{"pipelined, first", one("GET /small.txt", 3), 200, 0, 100, 1, 0},
		{"pipelined, second", one("GET /missing", 1), 404, 0, 146, 2, http.TagPipelined},
		{"pipelined, third", one("GET /medium.txt", 1), 200, 0, 10000, 3, http.TagPipelined},
		{"port 8080", one("GET /small.txt", 4), 200, 0, 100, 1, 0},
	} {
		x := tt.tx
		if x.StatusCode.V != tt.status || x.RequestBodyLen != tt.reqBody || x.ResponseBodyLen != tt.resBody ||
			x.TransDepth != tt.depth || x.Tags != tt.tags || !x.LatencyNs.Valid || !x.DurationNs.Valid || x.DurationNs.V < x.LatencyNs.V {
			t.Errorf("%s: %s %s status %d body %d/%d depth %d tags %q latency %v duration %v", tt.name, x.Method, x.URI,
				x.StatusCode.V, x.RequestBodyLen, x.ResponseBodyLen, x.TransDepth, x.Tags, x.LatencyNs, x.DurationNs)
		}
	}
	if x := one("GET /slow", 0); x.LatencyNs.V < 300e6 {
		t.Errorf("slow answer: latency %d ns, the backend waits 300 ms", x.LatencyNs.V)
	}
	if x := one("GET /small.txt", 4); x.Flow.Resp.Port() != 8080 {
		t.Errorf("port 8080 request on %v", x.Flow.Resp)
	}
	if len(r.http) != 19 {
		t.Errorf("%d transactions, want 19", len(r.http))
	}

	var tlsGot []string
	for _, h := range r.tls {
		tlsGot = append(tlsGot, h.SNI+" "+h.ALPNList()+" "+h.Version())
	}
	if want := []string{"www.flowproof.test h2,http/1.1 TLSv13", "www.flowproof.test h2,http/1.1 TLSv12"}; !slices.Equal(tlsGot, want) {
		t.Errorf("TLS %q, want %q", tlsGot, want)
	}

	var dnsGot []string
	for _, q := range r.dns {
		s := q.Proto + " " + q.Query + " " + q.QTypeName + " " + q.RcodeName
		for _, a := range q.Answers {
			s += " " + a
		}
		dnsGot = append(dnsGot, s)
	}
	slices.Sort(dnsGot)
	want := []string{
		"tcp a.flowproof.test A NOERROR 10.79.0.10", // two queries on one connection (dig +keepopen)
		"tcp www.flowproof.test A NOERROR 10.79.0.2",
		"udp a.flowproof.test AAAA NOERROR fd79::10",
		"udp example.com A REFUSED",
		"udp missing.flowproof.test A NXDOMAIN",
		"udp www.flowproof.test A ", // nobody answers: dig's two tries, from two ports
		"udp www.flowproof.test A ",
		"udp www.flowproof.test A NOERROR 10.79.0.2",
	}
	if !slices.Equal(dnsGot, want) {
		t.Errorf("DNS\n got %q\nwant %q", dnsGot, want)
	}
}
