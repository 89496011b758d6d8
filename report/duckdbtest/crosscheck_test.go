package duckdbtest

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/ingest/kubeshark/l4"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// TestCrossCheckParquet: DuckDB reads crosscheck.parquet with the intended
// types, values and nulls.
func TestCrossCheckParquet(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("203.0.113.1")
	chk := crosscheck.New([]l4.Flow{{
		Proto: "tcp", Client: l4.Endpoint{IP: a}, Server: l4.Endpoint{IP: b, Port: 80}, TimeNs: t0 + 1_000_000_000,
		ClientStats: l4.Side{Present: true, TxPkts: 2, RxPkts: 4, TxBytes: 300, RxBytes: 2_600, HandshakeUs: [3]int64{400, 500, 600}},
	}}, nil, crosscheck.DefaultTolerances())
	chk.Add(&analyze.Record{Proto: "tcp", SrcIP: a, DstIP: b, SrcPort: 40000, DstPort: 80, TsNs: t0, EndNs: t0 + 1e7, History: "ShADadFf", State: "SF",
		OrigPkts: 4, RespPkts: 2, OrigBytes: 300, RespBytes: 1_200, MissedBytes: 1_400, RTTSynSynAck: analyze.Some(400_000)})
	chk.Add(&analyze.Record{Proto: "udp", SrcIP: a, DstIP: c, SrcPort: 5000, DstPort: 53, TsNs: t0, EndNs: t0, OrigPkts: 1, OrigBytes: 40})
	res := chk.Finish(t0, t0+2e9, true)
	var rows []report.CrossCheckRow
	for i := range res {
		rows = append(rows, report.CrossCheckRowOf(&res[i], crosscheck.Identity{Pod: "web-1", Namespace: "shop"}, crosscheck.Identity{}))
	}
	path := filepath.Join(t.TempDir(), report.CrossCheckFile)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.WriteCrossCheck(f, rows, "test"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := openFlows(t, path) // the view is named flows
	types := map[string]string{}
	for _, s := range queryStrings(t, db, `SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM flows)`) {
		var n, ty string
		fmt.Sscanf(s, "%s %s", &n, &ty)
		types[n] = s[len(n)+1:]
	}
	for col, want := range map[string]string{
		"proto": "VARCHAR", "server_port": "INTEGER", "verdict": "VARCHAR", "ks_ts": "TIMESTAMP WITH TIME ZONE",
		"ks_client_tx_bytes": "BIGINT", "cap_c2s_bytes": "BIGINT", "delta_s2c_bytes": "BIGINT", "pkt_ratio_c2s": "DOUBLE",
		"ks_client_rtt_p50_ns": "BIGINT", "worst_rel": "DOUBLE", "client_pod": "VARCHAR",
	} {
		if types[col] != want {
			t.Errorf("%s: DuckDB sees %q, want %s", col, types[col], want)
		}
	}
	got := queryStrings(t, db, `SELECT concat_ws('|', verdict, server_port, client_pod, coalesce(server_pod, 'NULL'), coalesce(CAST(ks_client_rx_bytes AS VARCHAR), 'NULL'),
		cap_s2c_bytes, coalesce(CAST(delta_s2c_bytes AS VARCHAR), 'NULL'), coalesce(CAST(ks_client_rtt_p50_ns AS VARCHAR), 'NULL'),
		coalesce(strftime(ks_ts AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S'), 'NULL')) FROM flows ORDER BY proto`)
	want := []string{
		"bytes_mismatch|80|web-1|NULL|2600|1200|1400|400000|2025-10-09T08:53:21",
		"pcap_only|53|web-1|NULL|NULL|0|NULL|NULL|NULL",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows\n got %q\nwant %q", got, want)
	}
}

// TestDeferredVerdictsInDuckDB: a flows.parquet whose crosscheck column was
// written after the row groups (FlowWriter.CloseWithVerdicts) reads in
// DuckDB like any other: every row's verdict, over several row groups, with
// the column's statistics usable in a filter.
func TestDeferredVerdictsInDuckDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := report.NewFlowWriter(f, report.FlowWriterOptions{RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	verdicts := []string{crosscheck.Match, crosscheck.BytesMismatch, crosscheck.PcapOnly}
	const n = 4_321
	for i := range n {
		r := analyze.Record{FlowID: fmt.Sprint(i), Proto: "tcp", IPVersion: 4, SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
			SrcPort: uint16(i), DstPort: 80, TsNs: t0 + int64(i), EndNs: t0 + int64(i), State: "SF", History: "ShADadFf"}
		ref := int32(i % 4)
		if ref == 3 {
			ref = report.NoAggregate
		}
		if err := fw.WriteDeferred(&r, ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.CloseWithVerdicts(func(ref int32) string { return verdicts[ref] }); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := openFlows(t, path)
	got := queryStrings(t, db, `SELECT concat_ws('|', coalesce(crosscheck, 'NULL'), count(*), min(CAST(flow_id AS INTEGER)) % 4) FROM flows GROUP BY crosscheck ORDER BY 1`)
	want := []string{"NULL|1080|3", "bytes_mismatch|1080|1", "match|1081|0", "pcap_only|1080|2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verdicts\n got %q\nwant %q", got, want)
	}
	got = queryStrings(t, db, `SELECT CAST(count(*) AS VARCHAR) FROM flows WHERE crosscheck = 'pcap_only' AND CAST(flow_id AS INTEGER) % 4 = 2`)
	if fmt.Sprint(got) != "[1080]" {
		t.Errorf("filtered count %q", got)
	}
}

// TestCrossCheckL7InDuckDB: the stand-in's cluster capture analyzed with
// its list_api_calls (every L7 verdict occurs): DuckDB reads
// crosscheck_l7.parquet with the intended types, and the report's L7
// cross-check tables are what their Reproduce statements give.
func TestCrossCheckL7InDuckDB(t *testing.T) {
	// The stand-in's testdata, kept in step with it by its TestTestdata.
	const sd = "../../ingest/kubeshark/standin/testdata/"
	capPath, callsPath := sd+"cluster.pcap", sd+"api_calls.json"
	out := t.TempDir()
	if _, err := pipeline.Analyze(context.Background(), []string{capPath}, pipeline.Options{Out: out, L7: true, APICalls: callsPath}); err != nil {
		t.Fatal(err)
	}
	db := openFlows(t, filepath.Join(out, report.CrossCheckL7File))
	types := map[string]string{}
	for _, s := range queryStrings(t, db, `SELECT column_name || '|' || column_type FROM (DESCRIBE SELECT * FROM flows)`) {
		n, ty, _ := strings.Cut(s, "|")
		types[n] = ty
	}
	for col, want := range map[string]string{
		"client": "VARCHAR", "server": "VARCHAR", "method": "VARCHAR", "path": "VARCHAR", "status": "INTEGER", "verdict": "VARCHAR",
		"ks_calls": "BIGINT", "cap_requests": "BIGINT", "ks_first_ts": "TIMESTAMP WITH TIME ZONE", "cap_last_ts": "TIMESTAMP WITH TIME ZONE",
		"ks_latency_p50_ns": "BIGINT", "cap_latency_p50_ns": "BIGINT", "ks_req_bytes": "BIGINT", "cap_resp_body_bytes": "BIGINT",
		"delta_calls": "BIGINT", "delta_latency_ns": "BIGINT", "sizes_agree": "BOOLEAN", "worst_rel": "DOUBLE", "server_pod": "VARCHAR",
	} {
		if types[col] != want {
			t.Errorf("%s: DuckDB sees %q, want %s", col, types[col], want)
		}
	}
	got := queryStrings(t, db, `SELECT concat_ws('|', verdict, path, coalesce(CAST(status AS VARCHAR), 'NULL'), ks_calls, cap_requests,
		coalesce(CAST(sizes_agree AS VARCHAR), 'NULL')) FROM flows WHERE verdict <> 'outside_window' ORDER BY path, status`)
	want := []string{
		"match|/api/cart|200|1|1|true",
		"count_mismatch|/api/checkout|200|2|1|NULL", // sizes are compared only when the counts agree
		"kubeshark_only|/api/stock/42|500|1|0|NULL",
		"capture_only|/api/stock/42|503|0|1|NULL",
		"kubeshark_only|/healthz|200|1|0|NULL",
		"latency_mismatch|/v1/charges|201|1|1|true",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows\n got %q\nwant %q", got, want)
	}
	md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "flows.parquet")
	checked := checkReportTables(t, openFlows(t, path), path, string(md), false)
	for _, id := range []string{"crosscheck-l7", "crosscheck-l7-worst"} {
		if !checked[id] {
			t.Errorf("table %s was not checked against DuckDB", id)
		}
	}
}
