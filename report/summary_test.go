package report_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/report"
)

// TestSummaryMemoryBounded adds a million flows (a million clients, 256
// servers, two thirds with a handshake) and checks the heap the Summary
// keeps: caps and histograms, not the flows. A second run with ten times
// fewer exact values shows the budget at work.
func TestSummaryMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("adds 1M flows; skipped with -short")
	}
	n := 1_000_000
	if raceEnabled {
		n = 200_000
	}
	for _, exact := range []int{0, 100_000} {
		t.Run(fmt.Sprintf("MaxExactRTT=%d", exact), func(t *testing.T) {
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			s := report.NewSummary(report.SummaryOptions{MaxExactRTT: exact})
			var rec analyze.Record
			start := time.Now()
			for i := range n {
				synthRecord(i, &rec)
				rec.FlowID = fmt.Sprintf("%d-%d", 1+i%2, i+1)
				s.Add(&rec)
			}
			elapsed := time.Since(start)
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			held := int64(after.HeapAlloc) - int64(base.HeapAlloc)
			md := report.RenderReport(s, &report.Manifest{})[report.ReportFile]
			runtime.KeepAlive(s)
			t.Logf("%d flows: Summary holds %.1f MB after GC; %.0f ns per Add; report.md %d bytes",
				n, float64(held)/(1<<20), float64(elapsed.Nanoseconds())/float64(n), len(md))
			// 65,536 conversations (~7 MB with map overhead), 2 x 1M exact
			// handshake values (16 MB) and the port tables (2 MB).
			if limit := int64(48 << 20); held > limit {
				t.Errorf("Summary holds %d MB, want < %d MB", held>>20, limit>>20)
			}
		})
	}
}

func BenchmarkSummaryAdd(b *testing.B) {
	recs := make([]analyze.Record, 4096)
	for i := range recs {
		synthRecord(i, &recs[i])
		recs[i].FlowID = fmt.Sprintf("1-%d", i+1)
	}
	s := report.NewSummary(report.SummaryOptions{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(&recs[i%len(recs)])
		i++
	}
}

// TestAddBatch: AddBatch (hashes and prefetches first) renders the same
// report as Add, on normal flows mixed with a spoofed flood, repeated
// probing sources, synthetic rows, batches of odd sizes, and a talkers map
// that fills up in the middle of a batch.
func TestAddBatch(t *testing.T) {
	probe := func(i int, src, dst netip.Addr, port uint16) analyze.Record {
		return analyze.Record{FlowID: fmt.Sprintf("1-%d", i+1), Proto: "tcp", IPVersion: 4, SrcIP: src, DstIP: dst,
			SrcPort: 40000, DstPort: port, TsNs: int64(i), EndNs: int64(i), OrigPkts: 1, State: "S0", History: "S"}
	}
	victim := netip.MustParseAddr("10.50.0.1")
	var recs []analyze.Record
	for i := range 5000 {
		var r analyze.Record
		switch {
		case i%5 == 0:
			synthRecord(i, &r)
		case i%13 == 0: // a few sources probing many ports: scans
			r = probe(i, netip.AddrFrom4([4]byte{11, 9, 9, byte(i % 7)}), victim, uint16(i%40))
			r.State, r.History, r.RespPkts = "REJ", "Sr", 1
		default: // one SYN per source: the flood
			r = probe(i, netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), victim, 80)
		}
		r.Synthetic = i%97 == 0
		recs = append(recs, r)
	}
	for _, maxTalkers := range []int{0, 100} {
		opts := report.SummaryOptions{MaxTalkers: maxTalkers}
		one, batched := report.NewSummary(opts), report.NewSummary(opts)
		for i := range recs {
			one.Add(&recs[i])
		}
		for b, n := recs, 1; len(b) > 0; n = n%150 + 7 {
			k := min(n, len(b))
			batched.AddBatch(b[:k])
			b = b[k:]
		}
		m := &report.Manifest{}
		want, got := report.RenderReport(one, m), report.RenderReport(batched, m)
		if len(want) == 0 {
			t.Fatal("no files rendered")
		}
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("MaxTalkers %d: %s differs with AddBatch", maxTalkers, name)
			}
		}
	}
}
