package l7_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7"
	"github.com/flowproof/flowproof/analyze/l7/dns"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/analyze/l7/tls"
	"github.com/flowproof/flowproof/ingest"
)

// TestHeldPayloads: RunConcurrent hands the engine payloads in the
// capture's read chunks, held by their batch (ingest.Hold), or copies of
// them; the rows are those of Run, which reads each packet only before the
// next. Small read buffers switch chunks every few packets and send larger
// records through the copy path.
func TestHeldPayloads(t *testing.T) {
	path := filepath.Join("testdata", "l7-v4.pcap")
	run := func(opts ingest.Options, runner func(analyze.PacketSource, *analyze.Table) error) []string {
		c, err := ingest.Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var rows []string
		eng := l7.New(l7.Config{
			HTTP: func(x *http.Transaction) {
				y := *x
				y.Flow = nil
				rows = append(rows, fmt.Sprintf("%+v %+v", *x.Flow, y))
			},
			DNS: func(q *dns.Query) { y := *q; y.Flow = nil; rows = append(rows, fmt.Sprintf("%+v %+v", *q.Flow, y)) },
			TLS: func(h *tls.Hello) { y := *h; y.Flow = nil; rows = append(rows, fmt.Sprintf("%+v %+v", *h.Flow, y)) },
		})
		tbl := analyze.NewTable(analyze.Config{L7: eng}, "l7", 1, func(*analyze.Record) {})
		if err := runner(c, tbl); err != nil {
			t.Fatal(err)
		}
		tbl.Flush()
		return append(rows, fmt.Sprintf("%+v", eng.Stats()))
	}
	want := run(ingest.Options{}, analyze.Run)
	if len(want) < 10 {
		t.Fatalf("only %d rows: the capture should have HTTP, DNS and TLS", len(want))
	}
	for _, buf := range []int{0, 4096, 1500, 64} {
		got := run(ingest.Options{ReadBufferBytes: buf}, analyze.RunConcurrent)
		if len(got) != len(want) {
			t.Fatalf("read buffer %d: %d rows, want %d", buf, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("read buffer %d: row %d:\n got %s\nwant %s", buf, i, got[i], want[i])
			}
		}
	}
}
