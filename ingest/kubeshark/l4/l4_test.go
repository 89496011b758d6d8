package l4_test

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/l4"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

func TestParseL4Flows(t *testing.T) {
	// The compact form of kubeshark-mcp.md §4, with an all-zero server side.
	compact := `{"flows":[{"proto":"tcp",
 "client":{"ip":"10.0.0.1","pod":"frontend-abc123","ns":"default","svc":"frontend","node":"node-1"},
 "server":{"ip":"::ffff:10.0.0.2","port":8080},
 "client_stats":{"tx_pkts":1000,"rx_pkts":800,"tx_bytes":102400,"rx_bytes":81920,
                 "tcp_handshake_p50_us":1250,"tcp_handshake_p90_us":2100,"tcp_handshake_p99_us":4500},
 "server_stats":{"tx_pkts":0,"rx_pkts":0,"tx_bytes":0,"rx_bytes":0},
 "totals":{"pkts":3600,"bytes":368640,"pps":100.5,"bps":8388608}}],"total":42,"truncated":true}`
	f, err := l4.ParseFlows([]byte(compact))
	if err != nil {
		t.Fatal(err)
	}
	if f.Total != 42 || !f.Truncated || len(f.Flows) != 1 {
		t.Fatalf("%+v", f)
	}
	l := f.Flows[0]
	if l.Client.Pod != "frontend-abc123" || l.Client.Service != "frontend" || l.Server.IP.String() != "10.0.0.2" || l.Server.Port != 8080 ||
		!l.ClientStats.Present || l.ClientStats.RxBytes != 81920 || l.ClientStats.HandshakeUs != [3]int64{1250, 2100, 4500} || l.ServerStats.Present || l.TimeNs != 0 {
		t.Errorf("%+v", l)
	}
	// The stand-in's full records, as a bare array.
	f, err = l4.ParseFlows(standin.L4Flows())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Flows) != 5 || f.Flows[0].TimeNs == 0 || f.Flows[0].Proto != "udp" {
		t.Errorf("%d flows, first %+v", len(f.Flows), f.Flows[0])
	}
	if f, err := l4.ParseFlows([]byte(`{"flows":null,"total":0,"truncated":false}`)); err != nil || len(f.Flows) != 0 {
		t.Errorf("null flows: %+v %v", f, err)
	}
	if _, err := l4.ParseFlows([]byte(`{"calls":[]}`)); err == nil {
		t.Error("an answer without flows parsed")
	}
}

func TestParseWorkloads(t *testing.T) {
	w, err := l4.ParseWorkloads([]byte(`{"workloads":[{"name":"p","namespace":"n","kind":"Pod","labels":{},"ips":[{"ip":"10.1.1.1","timestamp":1706745000000}]}],"total":1}`))
	if err != nil || len(w) != 1 || w[0].Kind != "pod" || w[0].TimeNs != 1706745000000*1e6 || w[0].IP.String() != "10.1.1.1" {
		t.Errorf("%+v %v", w, err)
	}
	w, err = l4.ParseWorkloads([]byte(`{"ips":[{"ip":"10.1.1.2","records":[{"name":"a","namespace":"n","timestamp":"2024-02-01T00:00:00Z"},{"name":"b","namespace":"n","timestamp":1706745600}]}],"total":1}`))
	if err != nil || len(w) != 2 || w[0].Name != "a" || w[0].TimeNs != 1706745600*1e9 || w[1].TimeNs != 1706745600*1e9 {
		t.Errorf("%+v %v", w, err)
	}
}

func TestParseTolerant(t *testing.T) {
	f, err := l4.ParseFlows([]byte(`{"l4_flows":[{"proto":"udp","client":{"ip":"10.0.0.1"},"server":{"ip":"10.0.0.2","port":53},"client_stats":{"tx_bytes":40}},
		{"proto":"tcp","client":{"ip":""},"server":{"ip":"10.0.0.2","port":80}}],"total":2}`))
	if err != nil || len(f.Flows) != 1 || f.Skipped != 1 || f.FirstSkip == "" || f.Flows[0].ClientStats.TxBytes != 40 {
		t.Errorf("%+v %v", f, err)
	}
	w, err := l4.ParseWorkloads([]byte(`{"workloads":[{"name":"a","namespace":"n","kind":"pod","node":"w1","ips":["10.0.0.7"]},{"name":"s","namespace":"n","kind":"service","ip":"10.96.0.1"}]}`))
	if err != nil || len(w) != 2 || w[0].TimeNs != 0 || w[0].Node != "w1" || w[1].Kind != "service" {
		t.Errorf("%+v %v", w, err)
	}
}

// TestParseInvalidCounters: counters that are not exact integers in
// 0 .. 2^53 mark the record, with the first reason.
func TestParseInvalidCounters(t *testing.T) {
	f, err := l4.ParseFlows([]byte(`{"flows":[
		{"proto":"tcp","client":{"ip":"10.0.0.1"},"server":{"ip":"10.0.0.2","port":80},"client_stats":{"tx_bytes":100,"rx_bytes":9223372036854775807}},
		{"proto":"tcp","client":{"ip":"10.0.0.1"},"server":{"ip":"10.0.0.3","port":80},"client_stats":{"tx_bytes":-5}},
		{"proto":"tcp","client":{"ip":"10.0.0.1"},"server":{"ip":"10.0.0.4","port":80},"server_stats":{"rx_pkts":1.5}},
		{"proto":"tcp","client":{"ip":"10.0.0.1"},"server":{"ip":"10.0.0.5","port":80},"client_stats":{"tx_bytes":9007199254740992}}]}`))
	if err != nil || len(f.Flows) != 4 {
		t.Fatalf("%+v %v", f, err)
	}
	for i, want := range []string{"client_stats.rx_bytes: above 2^53", "client_stats.tx_bytes: negative", "server_stats.rx_pkts: not an integer", ""} {
		if got := f.Flows[i].Invalid; !strings.HasPrefix(got, want) || (want == "" && got != "") {
			t.Errorf("record %d: Invalid %q, want %q...", i, got, want)
		}
	}
}

// TestParseFlowsMemory: a large answer is read record by record: the live
// heap at its peak grows by less than three times the answer (2.3 times
// measured; the whole tree of maps kept 5.8 times it), and what is kept is
// the records alone.
func TestParseFlowsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20 MB answer")
	}
	var b bytes.Buffer
	b.WriteString(`{"flows":[`)
	const n = 50_000
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"proto":"tcp","client":{"ip":"10.%d.%d.%d","pod":"client-%d","ns":"shop","svc":"frontend","node":"node-1"},"server":{"ip":"10.9.0.1","port":8080,"pod":"server-0","ns":"shop","svc":"api","node":"node-2"},"client_stats":{"tx_pkts":%d,"rx_pkts":4,"tx_bytes":1200,"rx_bytes":5000,"tcp_handshake_p50_us":350,"tcp_handshake_p90_us":500,"tcp_handshake_p99_us":900},"server_stats":{"tx_pkts":4,"rx_pkts":5,"tx_bytes":5000,"rx_bytes":1200}}`, i>>16, (i>>8)&255, i&255, i, i)
	}
	b.WriteString(`],"total":50000,"truncated":false}`)
	doc := b.Bytes()
	// Collect often, so that the peak is what is live, not garbage waiting.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f, err := l4.ParseFlows(doc)
	close(stop)
	<-done
	if err != nil || len(f.Flows) != n || f.Total != n {
		t.Fatalf("%d flows, total %d, %v", len(f.Flows), f.Total, err)
	}
	grew := int64(peak.Load()) - int64(base.HeapAlloc)
	if grew > 3*int64(len(doc)) {
		t.Errorf("the heap grew by %d MB at its peak for a %d MB answer", grew>>20, len(doc)>>20)
	}
	runtime.KeepAlive(doc)
}
