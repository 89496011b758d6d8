package report_test

import (
	"io"
	"net/netip"
	"strconv"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/report"
)

// BenchmarkHTTPTable is http.parquet's writer on rows like the bench
// capture's: short connections of one to three requests for a few URIs.
func BenchmarkHTTPTable(b *testing.B) {
	var c report.HTTPRows
	uris := []string{"/", "/index.html", "/static/app.js", "/api/orders/1234"}
	rows := make([]report.HTTPRow, 4096)
	for i := range rows {
		f := &analyze.L7Info{Ordinal: 1, FirstIndex: int64(i / 2 * 7), IPProto: 6,
			Orig: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(30000+i/2)), Resp: netip.MustParseAddrPort("10.0.0.2:80")}
		rows[i] = c.Row(&http.Transaction{Flow: f, TsNs: 1e18 + int64(i)*37000, TransDepth: i%2 + 1,
			Method: "GET", URI: uris[i%len(uris)], Host: "10.0.0.2", Version: "1.0", UserAgent: "ApacheBench/2.3",
			StatusCode: analyze.Some(200), StatusMsg: "OK", ResponseBodyLen: 612 + int64(i%3),
			RequestNs: analyze.Some(1e18 + int64(i)*37000), LatencyNs: analyze.Some(int64(40000 + i%1000)),
			DurationNs: analyze.Some(int64(90000 + i%977))}, report.Identity{})
		rows[i].FlowID = "1-" + strconv.Itoa(i/2*7+1)
		// The row's optional integers point into c until the next Row.
		rows[i].StatusCode, rows[i].RequestNs = ptr(*rows[i].StatusCode), ptr(*rows[i].RequestNs)
		rows[i].LatencyNs, rows[i].DurationNs = ptr(*rows[i].LatencyNs), ptr(*rows[i].DurationNs)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := report.NewTableWriter[report.HTTPRow](io.Discard, "bench")
		for range 25 {
			for i := range rows {
				if err := w.Write(rows[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*25*len(rows)), "ns/row")
}
