package duckdbtest

import (
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/report"
)

const t0 = int64(1_760_000_000_000_000_000) // 2025-10-09T08:53:20Z

// knownRecords is a small capture whose analyst answers are known.
func knownRecords() []analyze.Record {
	a := netip.MustParseAddr
	return []analyze.Record{
		{
			FlowID: "f1", CommunityID: "1:aaaa", Capture: "a.pcap", Proto: "tcp", IPVersion: 4,
			SrcIP: a("10.0.0.1"), DstIP: a("10.0.0.2"), SrcPort: 40000, DstPort: 443,
			TsNs: t0 + 123_456_789, EndNs: t0 + 5_000_000_000,
			State: "SF", History: "ShADadFf",
			OrigPkts: 10, RespPkts: 40, OrigBytes: 1_000, RespBytes: 50_000,
			OrigIPBytes: 1_520, RespIPBytes: 52_080, OrigWireBytes: 1_660, RespWireBytes: 52_640,
			RTTSynSynAck: analyze.Some(1_000_000), RTTSynAckAck: analyze.Some(500_000), RTTHandshake: analyze.Some(1_500_000),
			OrigRTT: analyze.RTTStats{Samples: 3, MinNs: 900_000, P50Ns: 1_000_000, MaxNs: 2_000_000},
			SrcPod:  "web-1", SrcNamespace: "shop", DstService: "api", CrossCheck: "match", CaptureNodes: "worker-1,worker-2",
		},
		{
			FlowID: "f2", Capture: "a.pcap", Proto: "tcp", IPVersion: 4,
			SrcIP: a("10.0.0.3"), DstIP: a("192.168.1.10"), SrcPort: 40001, DstPort: 80,
			TsNs: t0 + 1_000, EndNs: t0 + 2_001_999,
			State: "REJ", History: "Sr", OrigPkts: 1, RespPkts: 1,
			OrigIPBytes: 60, RespIPBytes: 40, OrigWireBytes: 74, RespWireBytes: 54,
			RTTSynSynAck: analyze.Some(2_000_999),
		},
		{
			FlowID: "f3", Capture: "a.pcap", Proto: "udp", IPVersion: 4,
			SrcIP: a("172.16.0.5"), DstIP: a("10.0.0.2"), SrcPort: 5353, DstPort: 53,
			TsNs: t0 + 999, EndNs: t0 + 3_000_999,
			State: "SF", OrigPkts: 1, RespPkts: 1, OrigBytes: 40, RespBytes: 200,
			RTTFirstReply: analyze.Some(3_000_000),
		},
		{
			FlowID: "f4", Capture: "b.pcapng", Proto: "tcp", IPVersion: 6,
			SrcIP: a("2001:db8::1"), DstIP: a("2001:db8::2"), SrcPort: 50000, DstPort: 443,
			TsNs: t0 + 7_000_000_000, EndNs: t0 + 9_000_000_000,
			State: "SF", History: "ShADadFf", DirectionInferred: true,
			OrigPkts: 2_000, RespPkts: 8_000, OrigBytes: 100_000, RespBytes: 10_000_000,
			RTTSynSynAck: analyze.Some(15_000_000), RTTSynAckAck: analyze.Some(5_000_000), RTTHandshake: analyze.Some(20_000_000),
			RespRTT: analyze.RTTStats{Samples: 100, MinNs: 19_000_000, P50Ns: 20_000_000, MaxNs: 90_000_000},
		},
		{
			FlowID: "f5", Capture: "b.pcapng", Proto: "udp", IPVersion: 4,
			SrcIP: a("10.1.2.3"), DstIP: a("8.8.8.8"), SrcPort: 33333, DstPort: 53,
			VLAN: analyze.Some(0), Tunnel: "vxlan", TunnelID: analyze.Some(0),
			TsNs: t0 - 1, EndNs: t0 - 1, // µs truncation below a whole second
			State: "S0", OrigPkts: 1, OrigBytes: 30,
		},
		{
			FlowID: "f6", Capture: "b.pcapng", Proto: "tcp", IPVersion: 4,
			SrcIP: a("10.0.0.1"), DstIP: a("10.0.0.9"), SrcPort: 40002, DstPort: 22,
			TsNs: t0 + 10_000_000_000, EndNs: t0 + 11_000_000_000,
			State: "SF", History: "ShADadfF", Synthetic: true,
			OrigBytes: 4_000, RespBytes: 4_000,
			RTTSynSynAck: analyze.Some(0), RTTSynAckAck: analyze.Some(0), RTTHandshake: analyze.Some(0), // valid zero
			OrigRTT: analyze.RTTStats{Samples: 1},
		},
	}
}

func writeParquet(t *testing.T, path string, opts report.FlowWriterOptions, recs []analyze.Record) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := report.NewFlowWriter(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := fw.Write(&recs[i]); err != nil {
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

// openFlows opens an in-memory DuckDB with a view "flows" over path.
func openFlows(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1) // one connection: the view and settings live in it
	for _, q := range []string{
		// Never reach for the network: extensions come from the local install only.
		`SET autoinstall_known_extensions = false`,
		fmt.Sprintf(`CREATE VIEW flows AS SELECT * FROM read_parquet(%s)`, quote(path)),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func TestDuckDBReadsFlows(t *testing.T) {
	recs := knownRecords()
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeParquet(t, path, report.FlowWriterOptions{Version: "9.9.9"}, recs)
	db := openFlows(t, path)

	var version string
	if err := db.QueryRow(`SELECT version()`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("DuckDB %s", version)

	t.Run("types", func(t *testing.T) { checkTypes(t, db) })
	t.Run("values", func(t *testing.T) { checkValues(t, db, recs) })
	t.Run("metadata", func(t *testing.T) { checkMetadata(t, db, path) })

	t.Run("top talkers", func(t *testing.T) {
		got := queryStrings(t, db, `
			SELECT src_ip || ' ' || sum(orig_bytes + resp_bytes)
			FROM flows GROUP BY src_ip ORDER BY sum(orig_bytes + resp_bytes) DESC, src_ip LIMIT 3`)
		want := []string{"2001:db8::1 10100000", "10.0.0.1 59000", "172.16.0.5 240"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("top talkers %q, want %q", got, want)
		}
	})

	t.Run("slowest handshakes", func(t *testing.T) {
		got := queryStrings(t, db, `
			SELECT flow_id || ' ' || rtt_handshake_ns
			FROM flows WHERE rtt_handshake_ns IS NOT NULL ORDER BY rtt_handshake_ns DESC, flow_id`)
		want := []string{"f4 20000000", "f1 1500000", "f6 0"} // f6's 0 is a measured 0, not a null
		if !reflect.DeepEqual(got, want) {
			t.Errorf("slowest handshakes %q, want %q", got, want)
		}
	})

	t.Run("count by state", func(t *testing.T) {
		got := queryStrings(t, db, `SELECT state || ' ' || count(*) FROM flows GROUP BY state ORDER BY state`)
		want := []string{"REJ 1", "S0 1", "SF 4"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("count by state %q, want %q", got, want)
		}
	})

	t.Run("ts is ts_ns truncated to µs", func(t *testing.T) {
		var bad int
		if err := db.QueryRow(`SELECT count(*) FROM flows WHERE epoch_us(ts) <> ts_ns // 1000`).Scan(&bad); err != nil {
			t.Fatal(err)
		}
		if bad != 0 {
			t.Errorf("%d rows where ts is not ts_ns truncated to µs", bad)
		}
	})

	t.Run("inet subnet filter", func(t *testing.T) {
		if _, err := db.Exec(`LOAD inet`); err != nil {
			t.Skipf("inet extension not installed locally, and extensions download from the internet: %v", firstLine(err))
		}
		got := queryStrings(t, db, `SELECT flow_id FROM flows WHERE ip_version = 4 AND src_ip::INET <<= '10.0.0.0/8'::INET ORDER BY flow_id`)
		want := []string{"f1", "f2", "f5", "f6"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("flows from 10.0.0.0/8: %q, want %q", got, want)
		}
	})
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantTypes is the schema as DuckDB must see it, in column order.
var wantTypes = func() [][2]string {
	var cols [][2]string
	add := func(typ string, names ...string) {
		for _, n := range names {
			cols = append(cols, [2]string{n, typ})
		}
	}
	add("VARCHAR", "flow_id", "community_id", "capture", "proto")
	add("INTEGER", "ip_version")
	add("VARCHAR", "src_ip", "dst_ip")
	add("INTEGER", "src_port", "dst_port", "vlan")
	add("VARCHAR", "tunnel")
	add("BIGINT", "tunnel_id")
	add("TIMESTAMP WITH TIME ZONE", "ts")
	add("BIGINT", "ts_ns", "end_ns", "duration_ns")
	add("VARCHAR", "state", "history")
	add("BOOLEAN", "direction_inferred", "synthetic")
	add("BIGINT", "orig_pkts", "resp_pkts", "orig_bytes", "resp_bytes", "orig_ip_bytes", "resp_ip_bytes",
		"orig_wire_bytes", "resp_wire_bytes", "orig_retrans_pkts", "resp_retrans_pkts",
		"orig_retrans_bytes", "resp_retrans_bytes", "missed_bytes", "out_of_order", "dup_acks", "zero_windows",
		"rtt_syn_synack_ns", "rtt_synack_ack_ns", "rtt_handshake_ns", "rtt_first_reply_ns",
		"orig_rtt_samples", "orig_rtt_min_ns", "orig_rtt_p50_ns", "orig_rtt_max_ns",
		"resp_rtt_samples", "resp_rtt_min_ns", "resp_rtt_p50_ns", "resp_rtt_max_ns")
	add("VARCHAR", "src_pod", "src_namespace", "src_service", "src_node",
		"dst_pod", "dst_namespace", "dst_service", "dst_node")
	add("BIGINT", "dup_pkts")
	add("INTEGER", "vantages")
	add("BIGINT", "orig_transit_p50_ns", "resp_transit_p50_ns")
	add("VARCHAR", "tls_sni", "tls_alpn", "tls_version", "capture_nodes", "crosscheck")
	return cols
}()

func checkTypes(t *testing.T, db *sql.DB) {
	rows, err := db.Query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM flows)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][2]string
	for rows.Next() {
		var c [2]string
		if err := rows.Scan(&c[0], &c[1]); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(wantTypes) {
		t.Fatalf("DuckDB sees %d columns, want %d: %v", len(got), len(wantTypes), got)
	}
	for i := range got {
		if got[i] != wantTypes[i] {
			t.Errorf("column %d: DuckDB sees %s %s, want %s %s", i, got[i][0], got[i][1], wantTypes[i][0], wantTypes[i][1])
		}
	}
}

// laterColumns were added after schema v1; checkValues checks them apart.
var laterColumns = []string{"dup_pkts", "vantages", "orig_transit_p50_ns", "resp_transit_p50_ns", "tls_sni", "tls_alpn", "tls_version", "capture_nodes"}

func checkValues(t *testing.T, db *sql.DB, recs []analyze.Record) {
	var cols []string
	for _, c := range wantTypes {
		if !slices.Contains(laterColumns, c[0]) {
			cols = append(cols, c[0])
		}
	}
	checkLaterValues(t, db, recs)
	rows, err := db.Query(`SELECT ` + strings.Join(cols, ", ") + ` FROM flows ORDER BY flow_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var (
			r                 report.FlowRow
			vlan              sql.NullInt32
			ts                time.Time
			opt               [13]sql.NullInt64
			strs              [10]sql.NullString // tunnel + 9 identity/crosscheck
			srcPort, dstPort  int32
			ipVersion         int32
			direction, synthe bool
		)
		dest := []any{&r.FlowID, &r.CommunityID, &r.Capture, &r.Proto, &ipVersion, &r.SrcIP, &r.DstIP,
			&srcPort, &dstPort, &vlan, &strs[0], &opt[0], &ts, &r.TsNs, &r.EndNs, &r.DurationNs,
			&r.State, &r.History, &direction, &synthe,
			&r.OrigPkts, &r.RespPkts, &r.OrigBytes, &r.RespBytes, &r.OrigIPBytes, &r.RespIPBytes,
			&r.OrigWireBytes, &r.RespWireBytes, &r.OrigRetransPkts, &r.RespRetransPkts,
			&r.OrigRetransBytes, &r.RespRetransBytes, &r.MissedBytes, &r.OutOfOrder, &r.DupAcks, &r.ZeroWindows}
		for k := 1; k < len(opt); k++ {
			dest = append(dest, &opt[k])
		}
		for k := 1; k < len(strs); k++ {
			dest = append(dest, &strs[k])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		if i >= len(recs) {
			t.Fatalf("more rows than the %d written", len(recs))
		}
		want, err := report.FlowRowOf(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		want.CaptureNodes = "" // a later column: checkLaterValues

		r.IPVersion, r.SrcPort, r.DstPort = ipVersion, srcPort, dstPort
		r.DirectionInferred, r.Synthetic = direction, synthe
		if vlan.Valid {
			v := vlan.Int32
			r.VLAN = &v
		}
		optPtrs := []**int64{&r.TunnelID, &r.RTTSynSynAckNs, &r.RTTSynAckAckNs, &r.RTTHandshakeNs, &r.RTTFirstReplyNs,
			&r.OrigRTTSamples, &r.OrigRTTMinNs, &r.OrigRTTP50Ns, &r.OrigRTTMaxNs,
			&r.RespRTTSamples, &r.RespRTTMinNs, &r.RespRTTP50Ns, &r.RespRTTMaxNs}
		for k, p := range optPtrs {
			if opt[k].Valid {
				v := opt[k].Int64
				*p = &v
			}
		}
		strPtrs := []*string{&r.Tunnel, &r.SrcPod, &r.SrcNamespace, &r.SrcService, &r.SrcNode,
			&r.DstPod, &r.DstNamespace, &r.DstService, &r.DstNode, &r.CrossCheck}
		for k, p := range strPtrs {
			if strs[k].Valid {
				if strs[k].String == "" {
					t.Errorf("row %s: optional string column %d is an empty string, want null", r.FlowID, k)
				}
				*p = strs[k].String
			}
		}
		r.Ts = ts.UnixMicro()
		if wantTs := time.Unix(0, recs[i].TsNs).Truncate(time.Microsecond); !ts.Equal(wantTs) {
			t.Errorf("row %s: ts = %v, want ts_ns truncated to µs %v", r.FlowID, ts, wantTs)
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("row %d from DuckDB:\n got %s\nwant %s", i, show(r), show(want))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(recs) {
		t.Errorf("DuckDB returned %d rows, want %d", i, len(recs))
	}
}

// show prints a row with its pointers dereferenced.
func show(r report.FlowRow) string {
	v := reflect.ValueOf(r)
	var b strings.Builder
	for i := range v.NumField() {
		f := v.Field(i)
		fmt.Fprintf(&b, "%s=", v.Type().Field(i).Name)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				b.WriteString("null ")
				continue
			}
			f = f.Elem()
		}
		fmt.Fprintf(&b, "%v ", f.Interface())
	}
	return b.String()
}

func checkMetadata(t *testing.T, db *sql.DB, path string) {
	rows, err := db.Query(fmt.Sprintf(`SELECT decode(key), decode(value) FROM parquet_kv_metadata(%s)`, quote(path)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		got[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got[report.MetaSchema] != "2" || got[report.MetaVersion] != "9.9.9" {
		t.Errorf("key-value metadata %v, want flowproof.schema=2 and flowproof.version=9.9.9", got)
	}
}

// TestDuckDBManyRowGroups reads a file of many row groups, dictionary pages
// and nulls, and checks aggregates computed in Go.
func TestDuckDBManyRowGroups(t *testing.T) {
	const n = 20_000
	recs := make([]analyze.Record, n)
	var wantBytes, wantHandshakes, wantHandshakeSum int64
	states := []string{"SF", "S0", "REJ", "RSTO"}
	for i := range recs {
		v := int64(i)
		recs[i] = analyze.Record{
			FlowID: fmt.Sprint("g", i), Capture: fmt.Sprint("c", i%3, ".pcap"), Proto: "tcp", IPVersion: 4,
			SrcIP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), DstIP: netip.AddrFrom4([4]byte{10, 1, 0, 1}),
			SrcPort: uint16(1024 + i), DstPort: 443,
			TsNs: t0 + v*1_000_001, EndNs: t0 + v*1_000_001 + v,
			State: states[i%len(states)], OrigBytes: v, RespBytes: 2 * v,
		}
		wantBytes += 3 * v
		if i%5 == 0 {
			recs[i].RTTHandshake = analyze.Some(v % 1000)
			wantHandshakes++
			wantHandshakeSum += v % 1000
		}
	}
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeParquet(t, path, report.FlowWriterOptions{RowGroupRows: 3000}, recs)
	db := openFlows(t, path)

	var count, bytes, handshakes, handshakeSum, rowGroups int64
	if err := db.QueryRow(`SELECT count(*), sum(orig_bytes + resp_bytes), count(rtt_handshake_ns), sum(rtt_handshake_ns) FROM flows`).
		Scan(&count, &bytes, &handshakes, &handshakeSum); err != nil {
		t.Fatal(err)
	}
	if count != n || bytes != wantBytes || handshakes != wantHandshakes || handshakeSum != wantHandshakeSum {
		t.Errorf("count %d, bytes %d, handshakes %d (sum %d); want %d, %d, %d (sum %d)",
			count, bytes, handshakes, handshakeSum, n, wantBytes, wantHandshakes, wantHandshakeSum)
	}
	if err := db.QueryRow(fmt.Sprintf(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(%s)`, quote(path))).Scan(&rowGroups); err != nil {
		t.Fatal(err)
	}
	if rowGroups != 7 {
		t.Errorf("%d row groups, want 7", rowGroups)
	}
}

// TestDuckDBUncompressedColumns: columns zstd cannot shrink (random
// Community IDs, jittered nanosecond times) are stored uncompressed, the
// others zstd, and DuckDB reads every value of both back, over several row
// groups.
func TestDuckDBUncompressedColumns(t *testing.T) {
	const n = 20_000
	recs := make([]analyze.Record, n)
	x := uint64(1)
	next := func() uint64 { // xorshift: a deterministic stream of bits
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	for i := range recs {
		ts := t0 + int64(i)*1_000_000 + int64(next()%1_000_000)
		recs[i] = analyze.Record{
			FlowID: fmt.Sprint("u", i), CommunityID: fmt.Sprintf("1:%016x%016x", next(), next()), Capture: "u.pcap", Proto: "udp", IPVersion: 4,
			SrcIP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), DstIP: netip.AddrFrom4([4]byte{10, 1, 0, 1}),
			SrcPort: uint16(next()), DstPort: 53, TsNs: ts, EndNs: ts + int64(next()%1_000_000), State: "SF",
		}
	}
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeParquet(t, path, report.FlowWriterOptions{RowGroupRows: 7000}, recs)
	db := openFlows(t, path)

	codecs := map[string]string{}
	rows, err := db.Query(fmt.Sprintf(`SELECT DISTINCT path_in_schema, compression FROM parquet_metadata(%s)`, quote(path)))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var col, codec string
		if err := rows.Scan(&col, &codec); err != nil {
			t.Fatal(err)
		}
		if prev, ok := codecs[col]; ok && prev != codec {
			t.Errorf("column %s: codecs %s and %s in different row groups", col, prev, codec)
		}
		codecs[col] = codec
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for col, want := range map[string]string{"community_id": "UNCOMPRESSED", "ts_ns": "UNCOMPRESSED", "capture": "ZSTD", "orig_pkts": "ZSTD"} {
		if codecs[col] != want {
			t.Errorf("column %s: codec %q, want %s", col, codecs[col], want)
		}
	}

	rows, err = db.Query(`SELECT flow_id, community_id, ts_ns, end_ns, src_port FROM flows ORDER BY ts_ns`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var id, cid string
		var ts, end int64
		var port int32
		if err := rows.Scan(&id, &cid, &ts, &end, &port); err != nil {
			t.Fatal(err)
		}
		r := &recs[i]
		if id != r.FlowID || cid != r.CommunityID || ts != r.TsNs || end != r.EndNs || port != int32(r.SrcPort) {
			t.Fatalf("row %d: %s %s %d %d %d, want %s %s %d %d %d", i, id, cid, ts, end, port, r.FlowID, r.CommunityID, r.TsNs, r.EndNs, r.SrcPort)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Errorf("%d rows, want %d", i, n)
	}
}

// TestDuckDBEmptyFile reads a file without flows (no row groups).
func TestDuckDBEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeParquet(t, path, report.FlowWriterOptions{}, nil)
	db := openFlows(t, path)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM flows`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("count(*) = %d, want 0", n)
	}
	checkTypes(t, db)
}

// checkLaterValues compares the columns added after schema v1 with the
// rows the writer was given.
func checkLaterValues(t *testing.T, db *sql.DB, recs []analyze.Record) {
	rows, err := db.Query(`SELECT flow_id, dup_pkts, vantages, orig_transit_p50_ns, resp_transit_p50_ns,
		coalesce(tls_sni, ''), coalesce(tls_alpn, ''), coalesce(tls_version, ''), coalesce(capture_nodes, '') FROM flows ORDER BY flow_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		var id, sni, alpn, ver, nodes string
		var dups int64
		var vant int32
		var ot, rt sql.NullInt64
		if err := rows.Scan(&id, &dups, &vant, &ot, &rt, &sni, &alpn, &ver, &nodes); err != nil {
			t.Fatal(err)
		}
		w := recs[i]
		if id != w.FlowID || dups != w.DupPkts || vant != w.Vantages || ot.Valid != w.OrigTransitP50Ns.Valid || ot.Int64 != w.OrigTransitP50Ns.V ||
			rt.Valid != w.RespTransitP50Ns.Valid || rt.Int64 != w.RespTransitP50Ns.V || sni != w.TLSSNI || alpn != w.TLSALPN || ver != w.TLSVersion || nodes != w.CaptureNodes {
			t.Errorf("row %d (%s): %d %d %v %v %q %q %q %q, want %+v", i, id, dups, vant, ot, rt, sni, alpn, ver, nodes, w)
		}
	}
}
