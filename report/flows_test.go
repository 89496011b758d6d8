package report_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
	"github.com/parquet-go/parquet-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fullRecord has every field set, every optional one valid.
func fullRecord() analyze.Record {
	return analyze.Record{
		FlowID:            "f-1",
		CommunityID:       "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
		Capture:           "incident.pcapng",
		Proto:             "tcp",
		IPVersion:         4,
		SrcIP:             netip.MustParseAddr("128.232.110.120"),
		DstIP:             netip.MustParseAddr("66.35.250.204"),
		SrcPort:           34855,
		DstPort:           80,
		VLAN:              analyze.Some(100),
		Tunnel:            "vxlan",
		TunnelID:          analyze.Some(4242),
		TsNs:              1_700_000_000_123_456_789,
		EndNs:             1_700_000_002_987_654_321,
		State:             "SF",
		History:           "ShADadFf",
		DirectionInferred: true,
		Synthetic:         true,
		OrigPkts:          10, RespPkts: 12,
		OrigBytes: 1000, RespBytes: 20000,
		OrigIPBytes: 1520, RespIPBytes: 20624,
		OrigWireBytes: 1660, RespWireBytes: 20792,
		OrigRetransPkts: 1, RespRetransPkts: 2,
		OrigRetransBytes: 100, RespRetransBytes: 2896,
		MissedBytes: 7,
		OutOfOrder:  3, DupAcks: 4, ZeroWindows: 5,
		RTTSynSynAck:  analyze.Some(1_000_000),
		RTTSynAckAck:  analyze.Some(250_000),
		RTTHandshake:  analyze.Some(1_250_000),
		RTTFirstReply: analyze.Some(999),
		OrigRTT:       analyze.RTTStats{Samples: 5, MinNs: 900_000, P50Ns: 1_100_000, MaxNs: 4_000_000},
		RespRTT:       analyze.RTTStats{Samples: 1, MinNs: 3, P50Ns: 3, MaxNs: 3},
		SrcPod:        "frontend-7d9c", SrcNamespace: "shop", SrcService: "frontend", SrcNode: "node-a",
		DstPod: "api-5f6b", DstNamespace: "shop", DstService: "api", DstNode: "node-b",
		CrossCheck: "match",
	}
}

// nullRecord leaves every nullable field unknown or empty.
func nullRecord() analyze.Record {
	return analyze.Record{
		FlowID:    "f-2",
		Capture:   "incident.pcapng",
		Proto:     "udp",
		IPVersion: 6,
		SrcIP:     netip.MustParseAddr("2001:db8::1"),
		DstIP:     netip.MustParseAddr("2001:db8:0:0:1::53"),
		SrcPort:   54585,
		DstPort:   53,
		TsNs:      1_700_000_000_000_000_999,
		EndNs:     1_700_000_000_000_000_999,
		State:     "S0",
		OrigPkts:  1, OrigBytes: 40, OrigIPBytes: 88, OrigWireBytes: 102,
	}
}

// zeroRecord has valid optional values that are all 0: they must stay 0.
func zeroRecord() analyze.Record {
	r := nullRecord()
	r.FlowID = "f-3"
	r.VLAN = analyze.Some(0)
	r.TunnelID = analyze.Some(0)
	r.Tunnel = "geneve"
	r.RTTSynSynAck = analyze.Some(0)
	r.RTTSynAckAck = analyze.Some(0)
	r.RTTHandshake = analyze.Some(0)
	r.RTTFirstReply = analyze.Some(0)
	r.OrigRTT = analyze.RTTStats{Samples: 2} // samples, all RTTs 0
	r.RespRTT = analyze.RTTStats{Samples: 1}
	return r
}

func writeFlows(t testing.TB, path string, opts report.FlowWriterOptions, recs ...analyze.Record) {
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

func TestFlowRoundTrip(t *testing.T) {
	recs := []analyze.Record{fullRecord(), nullRecord(), zeroRecord()}
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{Version: "1.2.3"}, recs...)

	rows, err := report.ReadFlows(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rows), len(recs); got != want {
		t.Fatalf("read %d rows, want %d", got, want)
	}
	for i := range recs {
		got, err := rows[i].Record()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, recs[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, recs[i])
		}
		want, err := report.FlowRowOf(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rows[i], want) {
			t.Errorf("row %d as FlowRow:\n got %+v\nwant %+v", i, rows[i], want)
		}
	}

	full := rows[0]
	if got, want := full.Ts, int64(1_700_000_000_123_456); got != want {
		t.Errorf("ts = %d, want %d (ts_ns truncated to µs)", got, want)
	}
	if got, want := full.DurationNs, int64(2_864_197_532); got != want {
		t.Errorf("duration_ns = %d, want %d", got, want)
	}
	if got, want := rows[1].DstIP, "2001:db8::1:0:0:53"; got != want {
		t.Errorf("dst_ip = %q, want RFC 5952 %q", got, want)
	}

	zoned := fullRecord()
	zoned.SrcIP = netip.MustParseAddr("fe80::1%eth0")
	if row, err := report.FlowRowOf(&zoned); err != nil || row.SrcIP != "fe80::1" {
		t.Errorf("FlowRowOf(zoned address).SrcIP = %q, %v; want fe80::1", row.SrcIP, err)
	}

	nul := rows[1]
	for name, p := range map[string]*int64{
		"tunnel_id": nul.TunnelID, "rtt_handshake_ns": nul.RTTHandshakeNs, "rtt_first_reply_ns": nul.RTTFirstReplyNs,
		"orig_rtt_samples": nul.OrigRTTSamples, "orig_rtt_min_ns": nul.OrigRTTMinNs,
		"orig_rtt_p50_ns": nul.OrigRTTP50Ns, "orig_rtt_max_ns": nul.OrigRTTMaxNs,
		"resp_rtt_samples": nul.RespRTTSamples, "resp_rtt_max_ns": nul.RespRTTMaxNs,
	} {
		if p != nil {
			t.Errorf("null record: %s = %d, want null", name, *p)
		}
	}
	if nul.VLAN != nil {
		t.Errorf("null record: vlan = %d, want null", *nul.VLAN)
	}

	zero := rows[2]
	for name, p := range map[string]*int64{
		"tunnel_id": zero.TunnelID, "rtt_syn_synack_ns": zero.RTTSynSynAckNs, "rtt_synack_ack_ns": zero.RTTSynAckAckNs,
		"rtt_handshake_ns": zero.RTTHandshakeNs, "rtt_first_reply_ns": zero.RTTFirstReplyNs,
		"orig_rtt_min_ns": zero.OrigRTTMinNs, "orig_rtt_p50_ns": zero.OrigRTTP50Ns, "orig_rtt_max_ns": zero.OrigRTTMaxNs,
		"resp_rtt_min_ns": zero.RespRTTMinNs,
	} {
		if p == nil || *p != 0 {
			t.Errorf("zero record: %s = %v, want 0 (not null)", name, p)
		}
	}
	if zero.VLAN == nil || *zero.VLAN != 0 {
		t.Errorf("zero record: vlan = %v, want 0 (not null)", zero.VLAN)
	}
}

// TestFlowNullsInFile checks nulls at the Parquet level, independent of the
// Go mapping: the number of nulls in each column chunk.
func TestFlowNullsInFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{}, fullRecord(), nullRecord(), zeroRecord())
	pf := openParquet(t, path)
	nulls := map[string]int64{}
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			nulls[strings.Join(c.MetaData.PathInSchema, ".")] += c.MetaData.Statistics.NullCount
		}
	}
	want := map[string]int64{
		"vlan": 1, "tunnel": 1, "tunnel_id": 1, // only the null record
		"rtt_handshake_ns": 1, "orig_rtt_samples": 1, "orig_rtt_min_ns": 1, "resp_rtt_max_ns": 1,
		"src_pod": 2, "crosscheck": 2, // empty in the null and zero records
		"flow_id": 0, "ts": 0, "orig_pkts": 0,
	}
	for col, n := range want {
		if got, ok := nulls[col]; !ok || got != n {
			t.Errorf("column %s: %d nulls (present %v), want %d", col, got, ok, n)
		}
	}
}

func openParquet(t testing.TB, path string) *parquet.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

func TestFlowMetadata(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{Version: "1.2.3", Metadata: map[string]string{"flowproof.run": "abc"}}, fullRecord())
	pf := openParquet(t, path)
	for k, want := range map[string]string{"flowproof.schema": "2", "flowproof.version": "1.2.3", "flowproof.run": "abc"} {
		if got, ok := pf.Lookup(k); !ok || got != want {
			t.Errorf("metadata %s = %q (present %v), want %q", k, got, ok, want)
		}
	}
	if got, want := pf.Metadata().CreatedBy, "flowproof version 1.2.3"; got != want {
		t.Errorf("created_by = %q, want %q", got, want)
	}
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if got := c.MetaData.Codec.String(); got != "ZSTD" {
				t.Errorf("column %v codec %s, want ZSTD (a one-row file)", c.MetaData.PathInSchema, got)
			}
		}
	}
}

// TestFlowCodecs: a column whose first page zstd cannot shrink (random
// Community IDs) is stored uncompressed, in every row group (parquet-go
// reads all of a column's chunks with its first chunk's codec); others
// stay zstd; dictionary columns stay zstd whatever their indexes; the rows
// read back.
func TestFlowCodecs(t *testing.T) {
	recs := refereeRecords(40000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range recs {
		id := make([]byte, 21)
		for k := range id {
			id[k] = byte(rng.Uint32())
		}
		recs[i].CommunityID = "1:" + base64.StdEncoding.EncodeToString(id)
		recs[i].SrcIP = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{RowGroupRows: 15000}, recs...)
	pf := openParquet(t, path)
	want := map[string]string{"community_id": "UNCOMPRESSED", "src_ip": "ZSTD", "capture": "ZSTD", "orig_retrans_pkts": "ZSTD", "state": "ZSTD"}
	for g, rg := range pf.Metadata().RowGroups {
		for j, c := range rg.Columns {
			name := c.MetaData.PathInSchema[0]
			if first := pf.Metadata().RowGroups[0].Columns[j].MetaData.Codec; c.MetaData.Codec != first {
				t.Errorf("row group %d column %s: codec %v, in row group 0 %v", g, name, c.MetaData.Codec, first)
			}
			if w, ok := want[name]; ok && c.MetaData.Codec.String() != w {
				t.Errorf("row group %d column %s: codec %v, want %s", g, name, c.MetaData.Codec, w)
			}
		}
	}
	rows, err := report.ReadFlows(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(recs) {
		t.Fatalf("%d rows, want %d", len(rows), len(recs))
	}
	for i := range recs {
		want, err := report.FlowRowOf(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rows[i], want) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, rows[i], want)
		}
	}
}

// TestFlowEncodings pins the data encodings doc.go promises: they decide the
// file's size and the writer's speed, and a struct tag lost in an edit
// would change them silently.
func TestFlowEncodings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{}, fullRecord())
	pf := openParquet(t, path)
	for _, c := range pf.Metadata().RowGroups[0].Columns {
		name := strings.Join(c.MetaData.PathInSchema, ".")
		var got []string
		for _, e := range c.MetaData.Encoding {
			got = append(got, e.String())
		}
		want := "PLAIN"
		switch name {
		case "capture", "proto", "state", "history", "tunnel", "src_ip", "dst_ip",
			"src_namespace", "src_service", "src_node", "dst_namespace", "dst_service", "dst_node", "crosscheck",
			"tls_sni", "tls_alpn", "tls_version", "capture_nodes":
			want = "RLE_DICTIONARY"
		case "flow_id", "community_id", "src_pod", "dst_pod":
			want = "DELTA_LENGTH_BYTE_ARRAY"
		case "direction_inferred", "synthetic":
			want = "PLAIN"
		default: // every integer column
			want = "DELTA_BINARY_PACKED"
		}
		if !slices.Contains(got, want) {
			t.Errorf("column %s encodings %v, want %s among them", name, got, want)
		}
	}
}

func TestFlowSchemaGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{}, fullRecord())
	var buf bytes.Buffer
	if err := parquet.PrintSchema(&buf, "flows", openParquet(t, path).Schema()); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	golden := filepath.Join("testdata", "flows.schema.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("schema of flows.parquet changed (the schema is a contract; run with -update only for an added column):\n%s\nwant:\n%s", got, want)
	}
}

func TestFlowRowGroupsBounded(t *testing.T) {
	const n, per = 2500, 1000
	recs := make([]analyze.Record, n)
	for i := range recs {
		synthRecord(i, &recs[i])
	}
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{RowGroupRows: per}, recs...)
	pf := openParquet(t, path)
	var sizes []int64
	for _, rg := range pf.RowGroups() {
		sizes = append(sizes, rg.NumRows())
	}
	if want := []int64{1000, 1000, 500}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("row group sizes %v, want %v", sizes, want)
	}
	rows, err := report.ReadFlows(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		got, err := rows[i].Record()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, recs[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got, recs[i])
		}
	}
}

// TestFlowWriterDeterministic: the manifest hashes flows.parquet, so the same
// flows must give the same bytes.
func TestFlowWriterDeterministic(t *testing.T) {
	recs := make([]analyze.Record, 3000)
	for i := range recs {
		synthRecord(i, &recs[i])
	}
	opts := report.FlowWriterOptions{Version: "1", RowGroupRows: 1000, Metadata: map[string]string{"a": "1", "b": "2", "c": "3"}}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	writeFlows(t, a, opts, recs...)
	writeFlows(t, b, opts, recs...)
	ha, err := provenance.HashFile(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := provenance.HashFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if ha.SHA256 != hb.SHA256 {
		t.Errorf("two writes of the same flows differ: %s vs %s", ha.SHA256, hb.SHA256)
	}
}

func TestFlowWriterEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{})
	rows, err := report.ReadFlows(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Errorf("read %d rows from an empty file", len(rows))
	}
}

func TestFlowWriterErrors(t *testing.T) {
	if _, err := report.NewFlowWriter(nil, report.FlowWriterOptions{}); err == nil {
		t.Error("nil writer: no error")
	}
	if _, err := report.NewFlowWriter(io.Discard, report.FlowWriterOptions{RowGroupRows: -1}); err == nil {
		t.Error("negative RowGroupRows: no error")
	}
	if _, err := report.NewFlowWriter(io.Discard, report.FlowWriterOptions{Metadata: map[string]string{"flowproof.schema": "2"}}); err == nil {
		t.Error("reserved metadata key: no error")
	}

	var buf bytes.Buffer
	fw, err := report.NewFlowWriter(&buf, report.FlowWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := fullRecord()
	bad.SrcIP = netip.Addr{}
	if err := fw.Write(&bad); err == nil {
		t.Error("invalid src_ip: no error")
	}
	good := fullRecord()
	if err := fw.Write(&good); err != nil {
		t.Fatalf("write after a rejected record: %v", err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := fw.Write(&good); !errors.Is(err, report.ErrWriterClosed) {
		t.Errorf("Write after Close = %v, want ErrWriterClosed", err)
	}
	if got := fw.Count(); got != 1 {
		t.Errorf("Count = %d, want 1", got)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errDisk = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDisk
	}
	w.n -= len(p)
	return len(p), nil
}

func TestFlowWriterSinkError(t *testing.T) {
	fw, err := report.NewFlowWriter(&failWriter{n: 100}, report.FlowWriterOptions{RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var rec analyze.Record
	var werr error
	for i := 0; i < 5000 && werr == nil; i++ {
		synthRecord(i, &rec)
		werr = fw.Write(&rec)
	}
	cerr := fw.Close()
	if werr == nil && cerr == nil {
		t.Fatal("no error from a failing io.Writer")
	}
	if werr != nil && !errors.Is(werr, errDisk) {
		t.Errorf("Write error %v does not wrap the sink's error", werr)
	}
	if !errors.Is(cerr, errDisk) {
		t.Errorf("Close = %v, want the sink's error", cerr)
	}
	if err := fw.Write(&rec); err == nil {
		t.Error("Write after a failure: no error")
	}
}

var (
	synthCaptures = []string{"a.pcap", "b.pcapng"}
	synthStates   = []string{"SF", "S0", "REJ", "RSTO", "OTH"}
)

// synthRecord fills rec with flow i of a deterministic synthetic capture.
func synthRecord(i int, rec *analyze.Record) {
	v := int64(i)
	*rec = analyze.Record{
		FlowID:    "f" + strconv.Itoa(i),
		Capture:   synthCaptures[i%len(synthCaptures)],
		Proto:     "tcp",
		IPVersion: 4,
		SrcIP:     netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		DstIP:     netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), 1}),
		SrcPort:   uint16(1024 + i%60000),
		DstPort:   443,
		TsNs:      1_700_000_000_000_000_000 + v*1_000_003,
		EndNs:     1_700_000_000_000_000_000 + v*1_000_003 + v%5000*1000,
		State:     synthStates[i%len(synthStates)],
		History:   "ShADadFf",
		OrigPkts:  v % 100, RespPkts: v % 77,
		OrigBytes: v * 3, RespBytes: v * 7,
		OrigIPBytes: v*3 + 40, RespIPBytes: v*7 + 40,
		OrigWireBytes: v*3 + 54, RespWireBytes: v*7 + 54,
	}
	if i%3 != 0 {
		rec.RTTSynSynAck = analyze.Some(v % 10000)
		rec.RTTSynAckAck = analyze.Some(v % 333)
		rec.RTTHandshake = analyze.Some(v%10000 + v%333)
		rec.OrigRTT = analyze.RTTStats{Samples: v%9 + 1, MinNs: v % 100, P50Ns: v % 1000, MaxNs: v % 10000}
	}
	if i%7 == 0 {
		rec.VLAN = analyze.Some(v % 4096)
		rec.SrcNamespace = "ns" + strconv.Itoa(i%10)
	}
}

// countWriter discards what it is given, counting bytes.
type countWriter struct{ n atomic.Int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// TestFlowWriterMemoryFlat writes a million flows and checks that the heap
// stays bounded: it must not grow with the number of flows.
func TestFlowWriterMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1M flows; skipped with -short")
	}
	n := 1_000_000
	if raceEnabled {
		n = 200_000 // the race detector makes 1M slow; 200k is still 3 row groups
	}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	var out countWriter
	fw, err := report.NewFlowWriter(&out, report.FlowWriterOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var rec analyze.Record
	start := time.Now()
	for i := range n {
		synthRecord(i, &rec)
		if err := fw.Write(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	p := peak.Load()
	t.Logf("%d flows: %.1f MB of Parquet in %v; peak HeapInuse %.1f MB (%.1f MB before writing)",
		n, float64(out.n.Load())/1e6, elapsed.Round(time.Millisecond), float64(p)/(1<<20), float64(base.HeapInuse)/(1<<20))
	// The live heap is about 35 MB (one row group's pages and the column
	// buffers); the limit leaves room for GC headroom. A writer that keeps
	// every row group in memory needs several hundred MB here.
	if limit := uint64(96 << 20); p > base.HeapInuse+limit {
		t.Errorf("peak HeapInuse %d MB above the baseline, want < %d MB", (p-base.HeapInuse)>>20, limit>>20)
	}
}

// BenchmarkFlowWriter writes flows as the pipeline hands them over: in
// batches of 64 (its sink's), with WriteBatch. ns/op is per flow.
func BenchmarkFlowWriter(b *testing.B) {
	benchFlowWriter(b, func(fw *report.FlowWriter, recs []analyze.Record) error { return fw.WriteBatch(recs) })
}

// BenchmarkFlowWriterOne writes the same flows one Write at a time.
func BenchmarkFlowWriterOne(b *testing.B) {
	benchFlowWriter(b, func(fw *report.FlowWriter, recs []analyze.Record) error {
		for i := range recs {
			if err := fw.Write(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func benchFlowWriter(b *testing.B, write func(*report.FlowWriter, []analyze.Record) error) {
	const batch = 64
	recs := make([]analyze.Record, 4096)
	for i := range recs {
		synthRecord(i, &recs[i])
	}
	var out countWriter
	fw, err := report.NewFlowWriter(&out, report.FlowWriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		j := i % len(recs)
		if err := write(fw, recs[j:j+min(batch, b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(out.n.Load())/float64(b.N), "file-bytes/flow")
}

// TestFlowWriteBatch: WriteBatch writes the same bytes as Write, whatever
// the batches' sizes, mixed with Write, with row groups that are not a
// multiple of 64 rows, and skips an invalid record as Write does.
func TestFlowWriteBatch(t *testing.T) {
	recs := refereeRecords(5000)
	bad := 777
	recs[bad].DstIP = netip.Addr{}
	opts := report.FlowWriterOptions{Version: "1", RowGroupRows: 1000 + 37}
	write := func(t *testing.T, sizes []int) []byte {
		var buf bytes.Buffer
		fw, err := report.NewFlowWriter(&buf, opts)
		if err != nil {
			t.Fatal(err)
		}
		rest, k := recs, 0
		for len(rest) > 0 {
			n := min(sizes[k%len(sizes)], len(rest))
			k++
			var err error
			if n == 0 { // a record at a time
				err = fw.Write(&rest[0])
				n = 1
			} else {
				err = fw.WriteBatch(rest[:n])
			}
			holdsBad := len(recs)-len(rest) <= bad && bad < len(recs)-len(rest)+n
			if (err != nil) != holdsBad {
				t.Fatalf("records %d..%d: error %v", len(recs)-len(rest), len(recs)-len(rest)+n, err)
			}
			rest = rest[n:]
		}
		if got := fw.Count(); got != int64(len(recs)-1) {
			t.Errorf("Count = %d, want %d", got, len(recs)-1)
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	want := write(t, []int{0})
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"64", []int{64}},
		{"1", []int{1}},
		{"all", []int{len(recs)}},
		{"mixed", []int{5, 0, 0, 64, 100, 0, 1, 63, 2000, 17}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := write(t, tc.sizes); !bytes.Equal(got, want) {
				t.Errorf("%d bytes, with Write %d bytes: not the same file", len(got), len(want))
			}
		})
	}
}
