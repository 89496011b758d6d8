package mcpserver_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowproof/flowproof/pipeline/mcpserver"
	"github.com/flowproof/flowproof/report"
)

// writeManyFlows writes an output directory whose flows.parquet holds n
// rows (copies of testdata/gen's flows with new ids, ports and times) and
// a manifest.
func writeManyFlows(t *testing.T, dir string, n int) {
	t.Helper()
	tmpl, err := report.ReadFlows(filepath.Join(dir, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	fw, err := report.NewFlowWriter(f, report.FlowWriterOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		row := tmpl[i%len(tmpl)]
		row.FlowID = fmt.Sprintf("%d-%d", 1+i/1000, i)
		row.SrcPort = int32(1024 + i%60000)
		row.OrigBytes = int64(i)
		row.TsNs += int64(i) * 1000
		row.EndNs += int64(i) * 1000
		row.Ts = row.TsNs / 1000
		row.SrcPod = fmt.Sprintf("pod-%d", i%5000)
		rec, err := row.Record()
		if err != nil {
			t.Fatal(err)
		}
		if err := fw.Write(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// peakHeap runs f and returns the largest heap in use seen while it ran,
// above what was in use before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// TestQueryFlowsMemory: query_flows streams flows.parquet and keeps only
// the rows it returns, so its heap does not follow the file: on 300,000
// rows (about 250 MB as FlowRow values; 50,000 under the race detector) a
// query sorting them all stays within 64 MiB, and gives the right top rows.
func TestQueryFlowsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300,000 flows")
	}
	root := newRoot(t)
	s := newServer(t, mcpserver.Options{Roots: []string{root}})
	cs := connectHTTP(t, s, newClient(nil), "")
	ctx := context.Background()
	if text, isErr := callTool(t, ctx, cs, "analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "out"}, nil); isErr {
		t.Fatal(text)
	}
	rows := 300_000
	if raceEnabled {
		rows = 50_000 // the race detector makes decoding ten times slower
	}
	writeManyFlows(t, filepath.Join(root, "out"), rows)
	var text string
	var isErr bool
	peak := peakHeap(func() {
		text, isErr = callTool(t, ctx, cs, "query_flows", map[string]any{"output_dir": "out", "sort_by": "bytes", "limit": 500, "src_pod": "pod-*"}, nil)
	})
	q := decodeAnswer[queryAnswer](t, text)
	if isErr || q.Scanned != int64(rows) || q.Matched != int64(rows) || q.Returned == 0 || q.Rows[0].OrigBytes+q.Rows[0].RespBytes < int64(rows-1) {
		t.Fatalf("query: scanned %d matched %d returned %d: %.300s", q.Scanned, q.Matched, q.Returned, text)
	}
	t.Logf("peak heap %.1f MiB over %d rows (returned %d, %s)", float64(peak)/(1<<20), rows, q.Returned, q.Note)
	if peak > 64<<20 {
		t.Errorf("peak heap %d MiB: query_flows holds more than its rows", peak>>20)
	}
}
