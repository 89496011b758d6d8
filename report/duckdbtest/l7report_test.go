package duckdbtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

var l7Tables = []string{"http-status", "http-slowest", "http-errors", "dns-rcodes", "dns-failing", "dns-slowest"}

// TestL7ReportQueriesGiveReportNumbers: every statement of the HTTP and DNS
// sections gives, over http.parquet and dns.parquet, exactly the rows of
// its table: on the project's recordings analyzed with L7, and on
// synthetic tables with errors, ids in paths, workloads, unanswered and
// failed queries.
func TestL7ReportQueriesGiveReportNumbers(t *testing.T) {
	t.Run("recordings", func(t *testing.T) {
		out := t.TempDir()
		in := []string{"../../testdata/rec/http-v4.pcap", "../../testdata/rec/http-v6.pcapng", "../../testdata/rec/dns-udp.pcap"}
		if _, err := pipeline.Analyze(context.Background(), in, pipeline.Options{Out: out, L7: true}); err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(out, "flows.parquet")
		checked := checkReportTables(t, openFlows(t, path), path, string(md), false)
		for _, id := range []string{"http-status", "http-slowest", "dns-rcodes", "dns-failing", "dns-slowest"} {
			if !checked[id] {
				t.Errorf("table %s was not checked against DuckDB", id)
			}
		}
	})
	t.Run("synthetic", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "flows.parquet")
		writeParquet(t, path, report.FlowWriterOptions{Version: "test"}, nil)
		s := report.NewSummary(report.SummaryOptions{TopN: 5})
		l := s.L7()
		writeTable(t, filepath.Join(dir, report.HTTPFile), syntheticHTTP(), l.AddHTTP)
		writeTable(t, filepath.Join(dir, report.DNSFile), syntheticDNS(), l.AddDNS)
		m := &report.Manifest{
			Tool:    provenance.Tool{Name: "flowproof", Version: "test"},
			Command: []string{"flowproof", "analyze", "--l7", "-o", dir, "in.pcap"},
			Started: provenance.Time{Time: time.Unix(1_767_225_600, 0)}, Finished: provenance.Time{Time: time.Unix(1_767_225_601, 0)},
		}
		md := string(report.RenderReport(s, m)[report.ReportFile])
		checked := checkReportTables(t, openFlows(t, path), path, md, false)
		for _, id := range l7Tables {
			if !checked[id] {
				t.Errorf("table %s was not checked against DuckDB", id)
			}
		}
		if t.Failed() || os.Getenv("FLOWPROOF_KEEP_REPORT") != "" {
			os.WriteFile(filepath.Join(os.TempDir(), "flowproof-l7-report.md"), []byte(md), 0o644)
		}
	})
}

func writeTable[T any](t *testing.T, path string, rows []T, add func(*T)) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := report.NewTableWriter[T](f, "test")
	for i := range rows {
		add(&rows[i])
		if err := w.Write(rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func syntheticHTTP() []report.HTTPRow {
	i32 := func(v int32) *int32 { return &v }
	i64 := func(v int64) *int64 { return &v }
	paths := []string{"/orders/%d", "/orders/%d/items/7?q=1", "/users/3f2504e0-4f89-11d3-9a0c-0305e82c33%02d", "/static/app.js", "/blob/deadbeefdeadbeef%02x", "/health"}
	var rows []report.HTTPRow
	for i := range 3000 {
		r := report.HTTPRow{FlowID: fmt.Sprintf("1-%d", 1+i/3), TransDepth: int32(1 + i%3),
			TsNs: 1_767_225_600e9 + int64(i)*97_000_000 + int64(i%7)*13, SrcIP: fmt.Sprintf("10.0.0.%d", 1+i%5), SrcPort: int32(40000 + i/3),
			DstIP: "10.0.1.1", DstPort: 8080, Method: []string{"GET", "POST", "GET", "PUT"}[i%4],
			URI: paths[i%len(paths)], Version: "1.1"}
		if strings.Contains(r.URI, "%") {
			r.URI = fmt.Sprintf(r.URI, i%97)
		}
		r.Ts = r.TsNs / 1000
		switch {
		case i%11 == 0: // no response
		case i >= 1200 && i < 1500 && i%2 == 0:
			r.StatusCode = i32(503) // a burst
		case i%13 == 0:
			r.StatusCode = i32(404)
		case i%17 == 0:
			r.StatusCode = i32(500)
		case i%19 == 0:
			r.StatusCode = i32(302)
		case i%23 == 0:
			r.StatusCode = i32(101)
		case i%29 == 0:
			r.StatusCode = i32(999)
		default:
			r.StatusCode = i32(200)
		}
		if r.StatusCode != nil {
			lat := int64(100_000 + (i*i*31)%5_000_000)
			if i%37 == 0 {
				lat = 1_500_000_000 + int64(i%5)*1000
			}
			if i%41 == 0 {
				lat = 2_000_000 // ties
			}
			r.RequestNs, r.LatencyNs = i64(r.TsNs+1000), i64(lat)
			if i%3 != 0 {
				r.DurationNs = i64(lat + 5000)
			}
		}
		if i%4 != 0 {
			r.SrcNamespace, r.SrcPod = "shop", fmt.Sprintf("web-%d", i%3)
			r.DstNamespace = "data"
			if i%8 == 1 {
				r.DstPod = "api-0"
			} else {
				r.DstService = "api"
			}
		}
		if i%53 == 0 { // a response without its request
			r.Method, r.URI = "", ""
		}
		rows = append(rows, r)
	}
	return rows
}

func syntheticDNS() []report.DNSRow {
	i32 := func(v int32) *int32 { return &v }
	i64 := func(v int64) *int64 { return &v }
	names := []string{"api.internal", "db.internal", "missing.example", "ref.example", "broken.example", ""}
	var rows []report.DNSRow
	for i := range 700 {
		r := report.DNSRow{FlowID: fmt.Sprintf("2-%d", 1+i), TsNs: 1_767_225_600e9 + int64(i)*1_000_003, SrcIP: "10.0.0.9", SrcPort: int32(30000 + i),
			DstIP: "10.0.0.53", DstPort: 53, Proto: "udp", TransID: int32(i), Query: names[i%len(names)], QType: 1, QTypeName: "A"}
		r.Ts = r.TsNs / 1000
		switch {
		case i%9 == 0: // unanswered
		case r.Query == "missing.example":
			r.Rcode, r.RcodeName = i32(3), "NXDOMAIN"
		case r.Query == "ref.example":
			r.Rcode, r.RcodeName = i32(5), "REFUSED"
		case r.Query == "broken.example" && i%2 == 0:
			r.Rcode, r.RcodeName = i32(2), "SERVFAIL"
		case i%31 == 0:
			r.Rcode = i32(11) // no name
		default:
			r.Rcode, r.RcodeName = i32(0), "NOERROR"
		}
		if r.Rcode != nil {
			r.Answered = true
			r.RTTNs = i64(int64(20_000 + (i*i*7)%900_000))
			if i%43 == 0 {
				r.RTTNs = i64(500_000) // ties
			}
		}
		rows = append(rows, r)
	}
	return rows
}
