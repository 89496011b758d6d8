package report_test

import (
	"io"
	"net/netip"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/report"
)

func BenchmarkZZSink(b *testing.B) {
	uris := []string{"/", "/index.html", "/static/app.js", "/api/orders/1234"}
	txs := make([]http.Transaction, 4096)
	flows := make([]analyze.L7Info, 2048)
	for i := range flows {
		flows[i] = analyze.L7Info{Ordinal: 1, FirstIndex: int64(i * 7), IPProto: 6,
			Orig: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(30000+i)), Resp: netip.MustParseAddrPort("10.0.0.2:80")}
	}
	for i := range txs {
		txs[i] = http.Transaction{Flow: &flows[i/2], TsNs: 1e18 + int64(i)*37000, TransDepth: i%2 + 1,
			Method: "GET", URI: uris[i%len(uris)], Host: "10.0.0.2", Version: "1.0", UserAgent: "ApacheBench/2.3",
			StatusCode: analyze.Some(200), StatusMsg: "OK", ResponseBodyLen: 612 + int64(i%3),
			RequestNs: analyze.Some(1e18 + int64(i)*37000), LatencyNs: analyze.Some(int64(40000 + i%1000)),
			DurationNs: analyze.Some(int64(90000 + i%977))}
	}
	b.ReportAllocs()
	for b.Loop() {
		var c report.HTTPRows
		sum := report.NewSummary(report.SummaryOptions{}).L7()
		w := report.NewTableWriter[report.HTTPRow](io.Discard, "bench")
		for k := range 25 {
			for i := range txs {
				t := &txs[i]
				t.TsNs += int64(k)
				row := c.Row(t, report.Identity{})
				sum.AddHTTP(&row)
				if err := w.Write(row); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*25*len(txs)), "ns/row")
}
