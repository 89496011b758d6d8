package report_test

import (
	"fmt"
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
