package mcpserver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/pipeline/mcpserver"
)

type queryL7Answer struct {
	Table    string           `json:"table"`
	Scanned  int64            `json:"scanned"`
	Matched  int64            `json:"matched"`
	Returned int              `json:"returned"`
	More     int64            `json:"more"`
	Note     string           `json:"note"`
	Rows     []map[string]any `json:"rows"`
}

// TestQueryL7: with L7 on, query_l7 answers over http.parquet and
// dns.parquet with query_flows' bounds: filters (exact, glob, status
// class, latency), sort, limit and the "more" count; a filter of the other
// table, or a table the analysis did not write, is an error that says so.
func TestQueryL7(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"http-v4.pcap", "dns-udp.pcap"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/rec", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, "rec"), 0o755)
		if err := os.WriteFile(filepath.Join(root, "rec", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyDir(t, genDir, filepath.Join(root, "gen"))
	s := newServer(t, mcpserver.Options{Roots: []string{root}, Analysis: pipeline.Options{Jobs: 1, L7: true}})
	cs := transports[0].connect(t, s, newClient(newProgressLog()), "")
	ctx := context.Background()
	if text, isErr := callTool(t, ctx, cs, "analyze", map[string]any{"inputs": []string{"rec"}, "output_dir": "out"}, nil); isErr {
		t.Fatalf("analyze: %s", text)
	}
	out := filepath.Join(root, "out")
	for _, q := range []struct {
		args     map[string]any
		scanned  int64
		matched  int64
		returned int
		check    func(rows []map[string]any) bool
	}{
		{map[string]any{"table": "http"}, 25, 25, 25, nil},
		{map[string]any{"table": "http", "status_class": "2xx", "limit": 3, "sort_by": "latency"}, 25, 25, 3, func(rows []map[string]any) bool {
			return rows[0]["latency_ms"].(float64) >= rows[1]["latency_ms"].(float64) && rows[1]["latency_ms"].(float64) >= rows[2]["latency_ms"].(float64)
		}},
		{map[string]any{"table": "http", "status_class": "5xx"}, 25, 0, 0, nil},
		{map[string]any{"table": "http", "method": "GET", "uri": "/*", "synthetic": false, "limit": 1}, 25, 25, 1, func(rows []map[string]any) bool {
			return rows[0]["method"] == "GET" && rows[0]["synthetic"] == false
		}},
		{map[string]any{"table": "dns", "answered": false}, 6, 1, 1, func(rows []map[string]any) bool { return rows[0]["answered"] == false }},
		{map[string]any{"table": "dns", "rcode_name": "NXDOMAIN"}, 6, -1, -1, func(rows []map[string]any) bool {
			for _, r := range rows {
				if r["rcode_name"] != "NXDOMAIN" {
					return false
				}
			}
			return len(rows) > 0
		}},
	} {
		q.args["output_dir"] = out
		text, isErr := callTool(t, ctx, cs, "query_l7", q.args, nil)
		if isErr {
			t.Errorf("query_l7 %v: %s", q.args, text)
			continue
		}
		qa := decodeAnswer[queryL7Answer](t, text)
		if qa.Scanned != q.scanned || (q.matched >= 0 && qa.Matched != q.matched) || (q.returned >= 0 && qa.Returned != q.returned) || qa.More != qa.Matched-int64(qa.Returned) || len(qa.Rows) != qa.Returned {
			t.Errorf("query_l7 %v: scanned %d matched %d returned %d more %d", q.args, qa.Scanned, qa.Matched, qa.Returned, qa.More)
		}
		if q.check != nil && (len(qa.Rows) == 0 || !q.check(qa.Rows)) {
			t.Errorf("query_l7 %v: rows %v", q.args, qa.Rows)
		}
	}
	for _, bad := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"table": "dns", "method": "GET"}, "use table http"},
		{map[string]any{"table": "http", "query": "x"}, "use table dns"},
		{map[string]any{"table": "http", "uri": "["}, "bad pattern"},
		{map[string]any{"table": "dns", "sort_by": "duration"}, "sort_by"},
		{map[string]any{"table": "smtp"}, ""},
	} {
		bad.args["output_dir"] = out
		if text, isErr := callTool(t, ctx, cs, "query_l7", bad.args, nil); !isErr || !strings.Contains(text, bad.want) {
			t.Errorf("query_l7 %v: %v %s", bad.args, isErr, text)
		}
	}
	// An analysis without L7 has no http.parquet.
	s2 := newServer(t, mcpserver.Options{Roots: []string{root}, Analysis: pipeline.Options{Jobs: 1}})
	cs2 := transports[0].connect(t, s2, newClient(newProgressLog()), "")
	if text, isErr := callTool(t, ctx, cs2, "analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "out2"}, nil); isErr {
		t.Fatalf("analyze: %s", text)
	}
	if text, isErr := callTool(t, ctx, cs2, "query_l7", map[string]any{"output_dir": filepath.Join(root, "out2"), "table": "http"}, nil); !isErr || !strings.Contains(text, "--no-l7") {
		t.Errorf("query_l7 without L7: %v %s", isErr, text)
	}
}
