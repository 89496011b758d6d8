package duckdbtest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// TestL7TablesInDuckDB: DuckDB reads http.parquet and dns.parquet of the
// project's recordings with the intended types (ts TIMESTAMPTZ, integers
// BIGINT/INTEGER, tags and answers LISTs), and an analyst's join of
// http.parquet to flows.parquet by flow_id finds every row's flow.
func TestL7TablesInDuckDB(t *testing.T) {
	out := t.TempDir()
	if _, err := pipeline.Analyze(context.Background(), []string{"../../testdata/rec/http-v4.pcap", "../../testdata/rec/dns-udp.pcap"}, pipeline.Options{Out: out, L7: true}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file  string
		types map[string]string
	}{
		{report.HTTPFile, map[string]string{"ts": "TIMESTAMP WITH TIME ZONE", "ts_ns": "BIGINT", "trans_depth": "INTEGER", "status_code": "INTEGER",
			"latency_ns": "BIGINT", "response_body_len": "BIGINT", "tags": "VARCHAR[]", "method": "VARCHAR", "src_pod": "VARCHAR", "synthetic": "BOOLEAN"}},
		{report.DNSFile, map[string]string{"ts": "TIMESTAMP WITH TIME ZONE", "rtt_ns": "BIGINT", "rcode": "INTEGER", "answers": "VARCHAR[]",
			"ttls": "BIGINT[]", "answered": "BOOLEAN", "qtype_name": "VARCHAR"}},
	} {
		db := openFlows(t, filepath.Join(out, tt.file))
		got := map[string]string{}
		for _, s := range queryStrings(t, db, `SELECT column_name || '|' || column_type FROM (DESCRIBE SELECT * FROM flows)`) {
			var n, ty string
			for i := range s {
				if s[i] == '|' {
					n, ty = s[:i], s[i+1:]
					break
				}
			}
			got[n] = ty
		}
		for col, want := range tt.types {
			if got[col] != want {
				t.Errorf("%s %s: DuckDB sees %q, want %s", tt.file, col, got[col], want)
			}
		}
	}
	db := openFlows(t, filepath.Join(out, report.HTTPFile))
	got := queryStrings(t, db, fmt.Sprintf(`SELECT concat_ws('|', count(*), count(f.flow_id), sum(CASE WHEN h.status_code = 200 THEN 1 ELSE 0 END))
		FROM flows h LEFT JOIN read_parquet(%s) f USING (flow_id)`, quote(filepath.Join(out, "flows.parquet"))))
	if fmt.Sprint(got) != "[25|25|25]" {
		t.Errorf("http rows | joined | 200s: %q", got)
	}
}
