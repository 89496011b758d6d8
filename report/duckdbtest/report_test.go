package duckdbtest

import (
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// captureRecords runs every capture under the project's testdata through the
// real reader and flow table, as "flowproof analyze" does.
func captureRecords(t *testing.T) []analyze.Record {
	t.Helper()
	var paths []string
	for _, dir := range []string{"gen", "rec"} {
		matches, err := filepath.Glob(filepath.Join("..", "..", "testdata", dir, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if ext := filepath.Ext(m); ext == ".pcap" || ext == ".pcapng" || ext == ".gz" {
				paths = append(paths, m)
			}
		}
	}
	sort.Strings(paths)
	if len(paths) < 20 {
		t.Fatalf("found %d testdata captures, want at least 20", len(paths))
	}
	var recs []analyze.Record
	for i, p := range paths {
		c, err := ingest.Open(p, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tbl := analyze.NewTable(analyze.Config{}, filepath.Base(p), i+1, func(r *analyze.Record) { recs = append(recs, *r) })
		if err := analyze.Run(c, tbl); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		tbl.Flush()
		c.Close()
	}
	return recs
}

// spreadRecords are synthetic flows that reach what the captures do not:
// Kubernetes identity, cross-check verdicts, synthetic twins, heavy
// retransmission, slow handshakes, many handshakes per server (percentiles
// over many values), ties, IPv6 servers, and a few hours of time.
func spreadRecords(n int) []analyze.Record {
	const t0 = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z
	a := netip.MustParseAddr
	servers := []netip.Addr{a("10.1.0.10"), a("10.1.0.11"), a("10.1.0.9"), a("fd00::10"), a("10.1.0.12"), a("192.168.7.1")}
	ports := []uint16{443, 5432, 443, 8443, 80, 53}
	states := []string{"SF", "SF", "SF", "SF", "REJ", "S0", "RSTO", "RSTR", "SF", "S1"}
	verdicts := []string{"match", "match", "match", "bytes-differ", "missing-in-kubeshark"}
	var recs []analyze.Record
	for i := range n {
		v := int64(i)
		si := i % len(servers)
		if i%7 == 0 {
			si = 0 // one busy server
		}
		proto := "tcp"
		if ports[si] == 53 {
			proto = "udp"
		}
		r := analyze.Record{
			FlowID:    fmt.Sprintf("%d-%d", 90+i%3, i+1),
			Capture:   fmt.Sprintf("k8s-%d.pcap", i%3),
			Proto:     proto,
			IPVersion: 4,
			SrcIP:     netip.AddrFrom4([4]byte{10, 2, byte(i % 5), byte(1 + i%13)}),
			DstIP:     servers[si],
			SrcPort:   uint16(30000 + i),
			DstPort:   ports[si],
			TsNs:      t0 + v*v*997_000_000%(4*3600e9) + v,
			State:     states[i%len(states)],
			History:   "ShADadFf",
			OrigPkts:  3 + v%17, RespPkts: 2 + v%11,
			OrigBytes: v * 1013 % 50_000, RespBytes: v * 7919 % 900_000,
			OrigWireBytes: v*1013%50_000 + 66*(3+v%17), RespWireBytes: v*7919%900_000 + 66*(2+v%11),
		}
		if servers[si].Is6() {
			r.IPVersion = 6
			r.SrcIP = a(fmt.Sprintf("fd00::2:%x", 1+i%13))
		}
		r.EndNs = r.TsNs + v%9_000_000_000
		if proto == "tcp" {
			if r.State != "S0" && r.State != "REJ" {
				// Handshakes from 30 µs to ~1.5 s, a long tail, repeated values (ties).
				hs := 30_000 + (v*v*31)%400_000
				if i%11 == 0 {
					hs = 50_000_000 + v%5*300_000_000
				}
				if i%19 == 0 {
					hs = 1_000_000 // ties
				}
				r.RTTHandshake = analyze.Some(hs)
				r.RTTSynSynAck = analyze.Some(hs / 3)
				r.RTTSynAckAck = analyze.Some(hs - hs/3)
				if i%23 == 0 {
					r.RTTSynAckAck = analyze.Opt{} // halves unknown
					r.RTTSynSynAck = analyze.Opt{}
				}
			}
			if i%13 == 0 {
				r.OrigRetransPkts, r.RespRetransPkts = 2+v%4, 1
				r.OrigRetransBytes = 1448 * (2 + v%4)
			}
			if i%29 == 0 {
				r.ZeroWindows = 1 + v%3
			}
			if i%31 == 0 {
				r.MissedBytes = 1448 * (1 + v%5)
			}
			r.OutOfOrder, r.DupAcks = v%2, v%3
		}
		if i%4 != 0 {
			r.SrcNamespace, r.SrcPod = "shop", fmt.Sprintf("web-%d", i%3)
			r.DstNamespace = "data"
			if i%8 == 1 {
				r.DstPod = "pg-0"
			} else {
				r.DstService = "api"
			}
			r.CrossCheck = verdicts[i%len(verdicts)]
		}
		recs = append(recs, r)
		if i%17 == 0 { // its Kubeshark plaintext twin
			tw := r
			tw.FlowID += "s"
			tw.Synthetic = true
			tw.OrigBytes, tw.RespBytes = 1e9, 1e9
			tw.RTTHandshake = analyze.Some(1)
			recs = append(recs, tw)
		}
	}
	return recs
}

// buildReport writes flows.parquet and renders the report for recs.
func buildReport(t *testing.T, dir string, opts report.SummaryOptions, recs []analyze.Record) (path, md string) {
	t.Helper()
	path = filepath.Join(dir, "flows.parquet")
	writeParquet(t, path, report.FlowWriterOptions{Version: "test"}, recs)
	s := report.NewSummary(opts)
	for i := range recs {
		s.Add(&recs[i])
	}
	m := &report.Manifest{
		Tool:    provenance.Tool{Name: "flowproof", Version: "test"},
		Command: []string{"flowproof", "analyze", "-o", dir, "in.pcap"},
		Started: provenance.Time{Time: time.Unix(1_767_225_600, 0)}, Finished: provenance.Time{Time: time.Unix(1_767_225_601, 0)},
	}
	files := report.RenderReport(s, m)
	return path, string(files[report.ReportFile])
}

// TestReportQueriesGiveReportNumbers runs every DuckDB statement of the
// report's Reproduce section against flows.parquet and checks that it gives
// exactly the rows of its table.
func TestReportQueriesGiveReportNumbers(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs func(t *testing.T) []analyze.Record
		opts report.SummaryOptions
	}{
		{"testdata captures", captureRecords, report.SummaryOptions{}},
		{"testdata captures top 3", captureRecords, report.SummaryOptions{TopN: 3}},
		{"synthetic spread", func(*testing.T) []analyze.Record { return spreadRecords(5000) }, report.SummaryOptions{}},
		{"captures and spread", func(t *testing.T) []analyze.Record { return append(captureRecords(t), spreadRecords(700)...) }, report.SummaryOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, md := buildReport(t, dir, tc.opts, tc.recs(t))
			db := openFlows(t, path)
			checked := checkReportTables(t, db, path, md, false)
			want := []string{"summary", "protocols", "states", "ports", "traffic", "talkers-bytes", "talkers-flows", "rtt", "rtt-buckets", "rtt-servers", "rtt-slowest", "tcp-health", "failed-servers", "failed-first"}
			if tc.name != "testdata captures" && tc.name != "testdata captures top 3" {
				want = append(want, "workloads", "crosscheck", "retrans-heavy", "zero-windows", "missed-bytes")
			}
			for _, id := range want {
				if !checked[id] {
					t.Errorf("table %s was not checked against DuckDB", id)
				}
			}
			if t.Failed() {
				os.WriteFile(filepath.Join(os.TempDir(), "flowproof-report-"+strings.ReplaceAll(tc.name, " ", "-")+".md"), []byte(md), 0o644)
			}
		})
	}
}

// TestReportBoundsHit: past the exact budget, percentiles are marked ≈ and
// are within 1/32 of DuckDB's exact value; with the server and talker caps
// hit, tables the untracked flows could change are marked incomplete, the
// Method section says which bound was reached, and every other table is
// still exact.
func TestReportBoundsHit(t *testing.T) {
	t.Run("exact budget", func(t *testing.T) {
		path, md := buildReport(t, t.TempDir(), report.SummaryOptions{MaxExactRTT: 300}, spreadRecords(3000))
		db := openFlows(t, path)
		checked := checkReportTables(t, db, path, md, false)
		for _, id := range []string{"rtt", "rtt-servers", "rtt-buckets", "rtt-slowest"} {
			if !checked[id] {
				t.Errorf("table %s was not checked", id)
			}
		}
		for _, id := range []string{"rtt", "rtt-servers"} {
			if !strings.Contains(strings.Join(flatten(tableRows(t, md, id)), " "), "≈") {
				t.Errorf("no percentile of table %s is marked ≈ although the exact budget was exceeded", id)
			}
		}
		if !strings.Contains(md, "kept as histograms") {
			t.Error("the Method section does not say that the exact budget was reached")
		}
	})
	t.Run("caps", func(t *testing.T) {
		opts := report.SummaryOptions{TopN: 5, MaxServers: 3, MaxTalkers: 20}
		path, md := buildReport(t, t.TempDir(), opts, spreadRecords(3000))
		db := openFlows(t, path)
		checked := checkReportTables(t, db, path, md, true)
		for _, id := range []string{"summary", "rtt", "rtt-slowest", "ports"} {
			if !checked[id] {
				t.Errorf("table %s was not checked", id)
			}
		}
		for _, id := range []string{"talkers-bytes", "rtt-servers"} {
			if !strings.Contains(md, "<!-- table: "+id+" incomplete -->") {
				t.Errorf("table %s is not marked incomplete although its cap was hit", id)
			}
		}
		if !strings.Contains(md, "**Incomplete:**") || !strings.Contains(md, "reached more than 3 TCP servers") {
			t.Error("the report does not say which bound was reached")
		}
	})
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// TestQuantileMatchesDuckDB: the report's exact percentiles are DuckDB's
// quantile_disc for every count of values from 1 to 130 and a few larger
// ones (the floating-point rank rule must agree exactly).
func TestQuantileMatchesDuckDB(t *testing.T) {
	ns := []int{}
	for n := 1; n <= 130; n++ {
		ns = append(ns, n)
	}
	ns = append(ns, 199, 200, 201, 999, 1000, 1001)
	dir := t.TempDir()
	for _, n := range ns {
		var recs []analyze.Record
		for i := range n {
			recs = append(recs, analyze.Record{
				FlowID: fmt.Sprintf("1-%d", i+1), Capture: "q.pcap", Proto: "tcp", IPVersion: 4,
				SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"), SrcPort: uint16(1000 + i), DstPort: 443,
				TsNs: 1e18, EndNs: 1e18, State: "SF",
				RTTHandshake: analyze.Some(int64((i*7919)%n)*1000 + 1000), // a permutation, in µs
			})
		}
		sub := filepath.Join(dir, strconv.Itoa(n))
		os.Mkdir(sub, 0o755)
		path, md := buildReport(t, sub, report.SummaryOptions{}, recs)
		db := openFlows(t, path)
		got := tableRows(t, md, "rtt")
		want := queryRows(t, db, path, queryOf(t, md, "rtt"))
		if len(got) != 1 || strings.Join(got[0], "|") != strings.Join(want[0][:len(want[0])], "|") {
			t.Errorf("n=%d: report %v, DuckDB %v", n, got, want)
		}
		db.Close()
	}
}

// TestReadmeReportQueries: the README's report queries are the report's own
// statements and give the report's numbers.
func TestReadmeReportQueries(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, md := buildReport(t, dir, report.SummaryOptions{}, append(captureRecords(t), spreadRecords(300)...))
	db := openFlows(t, path)
	n := 0
	for _, b := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		id, ok := tableID(b[1])
		if !ok {
			continue
		}
		n++
		readmeSQL := strings.ReplaceAll(b[1], "'flowproof-out/flows.parquet'", "'flows.parquet'")
		if strings.TrimSpace(readmeSQL) != strings.TrimSpace(queryOf(t, md, id)) {
			t.Errorf("README query for table %s differs from the report's:\n%s\nreport:\n%s", id, readmeSQL, queryOf(t, md, id))
			continue
		}
		compareTable(t, db, path, md, id, readmeSQL)
	}
	if n < 3 {
		t.Errorf("README has %d report queries (-- table: ID), want at least 3", n)
	}
}

// ---- helpers ----

var tableMark = regexp.MustCompile(`(?m)^<!-- table: ([a-z0-9-]+)( incomplete)? -->$`)

// checkReportTables compares every table with a query to DuckDB and returns
// the ids checked. Incomplete tables are skipped when allowIncomplete, else
// they fail the test.
func checkReportTables(t *testing.T, db *sql.DB, path, md string, allowIncomplete bool) map[string]bool {
	t.Helper()
	checked := map[string]bool{}
	manifestTables := map[string]bool{"inputs": true, "inputs-not-read": true, "outputs": true}
	for _, m := range tableMark.FindAllStringSubmatch(md, -1) {
		id := m[1]
		if manifestTables[id] {
			continue
		}
		if m[2] != "" {
			if !allowIncomplete {
				t.Errorf("table %s is marked incomplete", id)
			}
			continue
		}
		compareTable(t, db, path, md, id, queryOf(t, md, id))
		checked[id] = true
	}
	return checked
}

func compareTable(t *testing.T, db *sql.DB, path, md, id, q string) {
	t.Helper()
	got := tableRows(t, md, id)
	want := queryRows(t, db, path, q)
	if len(got) != len(want) {
		t.Errorf("table %s: %d rows in the report, %d from DuckDB\nreport: %q\nduckdb: %q", id, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if len(got[i]) < len(want[i]) {
			t.Errorf("table %s row %d: %d cells, query has %d columns", id, i+1, len(got[i]), len(want[i]))
			continue
		}
		for j, w := range want[i] {
			g := got[i][j]
			if approx, ok := strings.CutPrefix(g, "≈"); ok {
				if !withinRatio(approx, w, 1.0/32) {
					t.Errorf("table %s row %d col %d: report %s, DuckDB %s: more than 1/32 apart", id, i+1, j+1, g, w)
				}
				continue
			}
			if g != w {
				t.Errorf("table %s row %d col %d: report %q, DuckDB %q", id, i+1, j+1, g, w)
			}
		}
	}
}

func withinRatio(a, b string, ratio float64) bool {
	fa, err1 := strconv.ParseFloat(strings.ReplaceAll(a, ",", ""), 64)
	fb, err2 := strconv.ParseFloat(strings.ReplaceAll(b, ",", ""), 64)
	if err1 != nil || err2 != nil {
		return false
	}
	// ms with three decimals: allow the display rounding too.
	return math.Abs(fa-fb) <= ratio*math.Max(fa, fb)+0.0005
}

// tableID returns the id of a "-- table: ID" statement.
func tableID(sqlText string) (string, bool) {
	first, _, _ := strings.Cut(strings.TrimSpace(sqlText), "\n")
	return strings.CutPrefix(first, "-- table: ")
}

// queryOf returns the Reproduce statement for table id.
func queryOf(t *testing.T, md, id string) string {
	t.Helper()
	for _, b := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(md, -1) {
		if got, ok := tableID(b[1]); ok && got == id {
			return b[1]
		}
	}
	t.Fatalf("report has no query for table %s", id)
	return ""
}

// tableRows returns the cells of table id, as a reader sees them: links,
// code spans and backslash escapes removed.
func tableRows(t *testing.T, md, id string) [][]string {
	t.Helper()
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		if l != "<!-- table: "+id+" -->" && l != "<!-- table: "+id+" incomplete -->" {
			continue
		}
		var rows [][]string
		for _, row := range lines[i+3:] {
			if !strings.HasPrefix(row, "|") {
				break
			}
			rows = append(rows, splitRow(row))
		}
		return rows
	}
	t.Fatalf("report has no table %s", id)
	return nil
}

var mdLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

func splitRow(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(strings.TrimSuffix(row, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		c := row[i]
		if c == '\\' && i+1 < len(row) {
			cur.WriteByte(row[i+1])
			i++
			continue
		}
		if c == '|' {
			cells = append(cells, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	cells = append(cells, cur.String())
	for i, c := range cells {
		c = strings.TrimSpace(c)
		c = mdLink.ReplaceAllString(c, "$1")
		cells[i] = strings.Trim(c, "`")
	}
	return cells
}

// queryRows runs q against path and formats each value the way the report
// does, by the column's name: *_ns in ms with three decimals, *_time epoch ns
// as RFC 3339 UTC, other integers with thousands separators, NULL as "-".
// This is written independently of the report's own formatting code.
func queryRows(t *testing.T, db *sql.DB, path, q string) [][]string {
	t.Helper()
	q = strings.ReplaceAll(q, "'flows.parquet'", quote(path))
	for _, f := range []string{report.HTTPFile, report.DNSFile, report.CrossCheckL7File} { // beside flows.parquet
		q = strings.ReplaceAll(q, "'"+f+"'", quote(filepath.Join(filepath.Dir(path), f)))
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = formatValue(t, cols[i], v)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func formatValue(t *testing.T, col string, v any) string {
	var n int64
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		return x
	case int64:
		n = x
	case int32:
		n = int64(x)
	case int16:
		n = int64(x)
	case int8:
		n = int64(x)
	case uint64:
		n = int64(x)
	case uint32:
		n = int64(x)
	case *big.Int:
		n = x.Int64()
	default:
		t.Fatalf("column %s: unexpected type %T", col, v)
	}
	switch {
	case strings.HasSuffix(col, "_ns"):
		us := (n + 500) / 1000
		return groupDigits(us/1000) + "." + fmt.Sprintf("%03d", us%1000)
	case strings.HasSuffix(col, "_time"):
		return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
	case col == "port":
		return strconv.FormatInt(n, 10)
	}
	return groupDigits(n)
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, parts...), ",")
}
