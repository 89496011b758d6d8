package report_test

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/report"
)

// TestHTTPRowsRow: the converter that caches a connection's strings and
// shares slabs gives the rows HTTPRowOf gives, for transactions of one
// connection in either orientation, across slab and cache refills.
func TestHTTPRowsRow(t *testing.T) {
	flows := []*analyze.L7Info{
		{Ordinal: 1, FirstIndex: 4, IPProto: 6, Orig: netip.MustParseAddrPort("10.0.0.1:40000"), Resp: netip.MustParseAddrPort("10.0.0.2:80")},
		{Ordinal: 1, FirstIndex: 9, IPProto: 6, Orig: netip.MustParseAddrPort("[fd00::1]:40001"), Resp: netip.MustParseAddrPort("[fd00::2]:8080")},
		{Ordinal: 2, FirstIndex: 4, IPProto: 6, Orig: netip.MustParseAddrPort("[fe80::1%eth0]:40000"), Resp: netip.MustParseAddrPort("10.0.0.2:80")},
	}
	// More connections than the cache holds, with addresses more than its
	// address cache holds, each seen again later.
	for k := range 9000 {
		flows = append(flows, &analyze.L7Info{Ordinal: 1 + k%2, FirstIndex: int64(k/2*3 + 100), IPProto: 6,
			Orig: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(k >> 8), byte(k)}), uint16(k)),
			Resp: netip.MustParseAddrPort("10.0.0.2:80")})
	}
	var c report.HTTPRows
	for i := range 40000 {
		f := flows[i%2]
		if i%4 == 3 {
			f = flows[(i*7919)%len(flows)]
		}
		tr := &http.Transaction{
			Flow: f, FromResp: i%7 == 0, TsNs: int64(i) * 1000, TransDepth: i%3 + 1,
			Method: "GET", URI: "/a", Version: "1.1", Tags: http.Tag(i % 16),
			StatusCode: analyze.Opt{V: 200, Valid: i%5 != 0}, LatencyNs: analyze.Opt{V: int64(i), Valid: i%3 != 0},
			RequestNs: analyze.Opt{V: int64(i) + 1, Valid: true}, DurationNs: analyze.Opt{V: 7, Valid: i%2 == 0},
		}
		got := c.Row(tr, report.Identity{SrcPod: "p"}) // valid until the next Row
		if want := report.HTTPRowOf(tr, report.Identity{SrcPod: "p"}); !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d: got %+v, want %+v", i, got, want)
		}
	}
}
