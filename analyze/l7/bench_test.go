package l7_test

import (
	"cmp"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7"
	"github.com/flowproof/flowproof/analyze/l7/dns"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/analyze/l7/tls"
	"github.com/flowproof/flowproof/ingest"
)

// benchCapture is `make bench`'s recorded capture (150 k HTTP/1.0
// connections); the benchmarks skip without it.
func benchCapture(b *testing.B) string {
	p := filepath.Join(cmp.Or(os.Getenv("FLOWPROOF_BENCH_DIR"), "/var/tmp/flowproof-bench"), "bench.pcap")
	if _, err := os.Stat(p); err != nil {
		b.Skipf("no recorded bench capture (make bench records it): %v", err)
	}
	return p
}

// newEngine counts the rows; its transactions go back to it once
// counted, as the pipeline's writer gives them back.
func newEngine(rows *int) *l7.Engine {
	rec := new(http.Recycled)
	var back [1]*http.Transaction
	return l7.New(l7.Config{
		HTTP: func(t *http.Transaction) {
			*rows++
			back[0] = t
			rec.Put(back[:])
		},
		Recycled: rec,
		DNS:      func(*dns.Query) { *rows++ },
		TLS:      func(*tls.Hello) { *rows++ },
	})
}

// BenchmarkTableL7 is analyze's BenchmarkTableRecorded with L7 off and on:
// the flow table alone on the first 400,000 packets of the bench capture,
// decoded beforehand (payloads copied out), strings deferred as the CLI
// runs it.
func BenchmarkTableL7(b *testing.B) {
	c, err := ingest.Open(benchCapture(b), ingest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const packets = 400_000
	ds := make([]analyze.Decoded, 0, packets)
	pay := make([][]byte, 0, packets)
	var p ingest.Packet
	for len(ds) < packets && c.Next(&p) == nil {
		ds = ds[:len(ds)+1]
		d := &ds[len(ds)-1]
		analyze.Decode(&p, d)
		pay = append(pay, append([]byte(nil), d.PayloadBytes(p.Data)...))
	}
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				cfg := analyze.Config{DeferStrings: true}
				if on {
					cfg.L7 = newEngine(&rows)
				}
				tbl := analyze.NewTable(cfg, "bench", 1, func(*analyze.Record) {})
				for i := range ds {
					tbl.AddPayload(&ds[i], int64(i), pay[i])
				}
				tbl.Flush()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds)), "ns/packet")
			b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
		})
	}
}

// BenchmarkRunL7 reads, decodes and analyses the whole bench capture with
// RunConcurrent, as the CLI does, with L7 off and on (the bar: on
// costs at most 1.3x off). Run it with -benchtime 1x or 3x.
func BenchmarkRunL7(b *testing.B) {
	path := benchCapture(b)
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			rows := 0
			for b.Loop() {
				c, err := ingest.Open(path, ingest.Options{})
				if err != nil {
					b.Fatal(err)
				}
				cfg := analyze.Config{DeferStrings: true}
				if on {
					cfg.L7 = newEngine(&rows)
				}
				tbl := analyze.NewTable(cfg, "bench", 1, func(*analyze.Record) {})
				if err := analyze.RunConcurrent(c, tbl); err != nil {
					b.Fatal(err)
				}
				tbl.Flush()
				c.Close()
			}
			b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
		})
	}
}
