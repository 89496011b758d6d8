package report_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/report"
	"github.com/parquet-go/parquet-go"
)

func ptr[T any](v T) *T { return &v }

// refereeHTTP: rows with nulls, valid zeros, every tag set, strings longer
// than the column index's 16-byte bounds, negative times, identities.
func refereeHTTP(n int) []report.HTTPRow {
	rows := make([]report.HTTPRow, n)
	for i := range rows {
		r := &rows[i]
		r.FlowID = fmt.Sprintf("1-%d", i/3+1)
		r.CommunityID = fmt.Sprintf("1:%028d", i/3)
		r.TsNs = 1_700_000_000_000_000_000 + int64(i)*37_011
		r.Ts = r.TsNs / 1000
		r.SrcIP, r.DstIP = fmt.Sprintf("10.0.%d.%d", i/250%250, i%250), "10.1.0.2"
		r.SrcPort, r.DstPort, r.TransDepth = int32(30000+i%30000), 80, int32(i%3+1)
		r.Method, r.Host, r.URI, r.Version = "GET", "svc.local", fmt.Sprintf("/orders/%d", i%977), "1.1"
		r.UserAgent = "curl/8.5.0"
		r.StatusCode, r.StatusMsg = ptr(int32(200+i%4*100)), "OK"
		r.RequestBodyLen, r.ResponseBodyLen = int64(i%5), int64(612+i%1000)
		r.RequestNs, r.LatencyNs, r.DurationNs = ptr(r.TsNs+10), ptr(int64(40_000+i%1000)), ptr(int64(90_000+i%977))
		r.Tags = http.Tag(i % 32).Strings()
		r.Synthetic = i%11 == 0
		switch i % 97 {
		case 1: // a response without its request
			r.Method, r.Host, r.URI, r.Version, r.UserAgent = "", "", "", "", ""
			r.RequestNs, r.LatencyNs, r.DurationNs = nil, nil, nil
		case 2: // no response
			r.StatusCode, r.StatusMsg, r.LatencyNs, r.DurationNs = nil, "", nil, nil
		case 3: // valid zeros and negatives
			r.StatusCode, r.LatencyNs, r.DurationNs, r.RequestNs = ptr(int32(0)), ptr(int64(0)), ptr(int64(-5)), ptr(int64(-1_500))
			r.TsNs, r.Ts, r.SrcPort = -1_500, -2, 0
			r.SrcIP = "fe80::1"
		case 4:
			r.URI = "/" + strings.Repeat("\xff", 20) + "x"
			r.UserAgent = strings.Repeat("u", 40) + fmt.Sprint(i)
			r.Identity = report.Identity{SrcPod: "client-" + fmt.Sprint(i), SrcNamespace: "shop", SrcService: "web", SrcNode: "n1",
				DstPod: "payments-0", DstNamespace: "pay", DstService: "payments", DstNode: "n2"}
		case 5:
			r.Tags = []string{} // empty, not nil: the same empty list
		}
	}
	return rows
}

// refereeDNS: answered and unanswered queries, empty and long answer lists.
func refereeDNS(n int) []report.DNSRow {
	rows := make([]report.DNSRow, n)
	for i := range rows {
		r := &rows[i]
		r.FlowID = fmt.Sprintf("2-%d", i+1)
		r.TsNs = 1_700_000_000_000_000_000 + int64(i)*1_001
		r.Ts = r.TsNs / 1000
		r.SrcIP, r.DstIP = "10.0.0.5", fmt.Sprintf("10.96.0.%d", i%3+10)
		r.SrcPort, r.DstPort, r.Proto = int32(40000+i%20000), 53, "udp"
		r.TransID, r.Query, r.QType, r.QTypeName = int32(i%65536), fmt.Sprintf("svc%d.ns.svc.cluster.local", i%50), 1, "A"
		r.Rcode, r.RcodeName, r.RTTNs = ptr(int32(0)), "NOERROR", ptr(int64(200_000+i%5000))
		r.Answered, r.AA, r.RD, r.RA = true, i%2 == 0, true, true
		for k := range i % 7 {
			r.Answers = append(r.Answers, fmt.Sprintf("10.244.%d.%d", k, i%250))
			r.TTLs = append(r.TTLs, int64(30+k*i%600))
		}
		switch i % 89 {
		case 1: // unanswered, a retry
			r.Rcode, r.RcodeName, r.RTTNs, r.Answered, r.Answers, r.TTLs = nil, "", nil, false, nil, nil
			r.Retry = true
		case 2:
			r.Proto, r.TC, r.Rcode, r.RcodeName, r.QType, r.QTypeName = "tcp", true, ptr(int32(3)), "NXDOMAIN", 28, "AAAA"
			r.Query = strings.Repeat("a", 63) + ".example"
		case 3:
			r.Query, r.QTypeName = "", "" // a malformed question
			r.Answers, r.TTLs = []string{strings.Repeat("\xff", 20)}, []int64{-1}
		case 4:
			for k := range 300 { // a long list
				r.Answers = append(r.Answers, fmt.Sprint("a", k))
				r.TTLs = append(r.TTLs, int64(k))
			}
		}
	}
	return rows
}

// writeTables writes rows with TableWriter (the column writer) and with
// parquet-go's own writer in the same row groups, and returns both files.
func writeTables[T any](t *testing.T, rows []T) (ours, ref string) {
	t.Helper()
	dir := t.TempDir()
	ours, ref = filepath.Join(dir, "ours.parquet"), filepath.Join(dir, "ref.parquet")
	var b bytes.Buffer
	w := report.NewTableWriter[T](&b, "test")
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int(w.Count()) != len(rows) {
		t.Fatalf("Count %d, wrote %d", w.Count(), len(rows))
	}
	if err := os.WriteFile(ours, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var rb bytes.Buffer
	pw := parquet.NewGenericWriter[T](&rb)
	for i := range rows {
		if _, err := pw.Write(rows[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if (i+1)%report.DefaultRowGroupRows == 0 {
			if err := pw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ref, rb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return ours, ref
}

// checkTable: the column writer's file has parquet-go's schema, column
// chunk statistics and values, a page index that holds its pages, and the
// same bytes when written again.
func checkTable[T any](t *testing.T, rows []T) {
	ours, ref := writeTables(t, rows)
	po, pr := openParquet(t, ours), openParquet(t, ref)
	if a, b := po.Schema().String(), pr.Schema().String(); a != b {
		t.Fatalf("schema:\n%s\nparquet-go:\n%s", a, b)
	}
	sameChunkStats(t, po.Metadata(), pr.Metadata())
	got, err := report.ReadTable[T](ours)
	if err != nil {
		t.Fatal(err)
	}
	want, err := report.ReadTable[T](ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != len(rows) {
		t.Fatalf("%d rows, parquet-go %d, wrote %d", len(got), len(want), len(rows))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if checkPageIndex(t, ours) == 0 {
		t.Error("no column chunk has more than one page: the test checks nothing")
	}
	again, _ := writeTables(t, rows)
	a, _ := os.ReadFile(ours)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("the same rows gave different bytes")
	}
	for _, kv := range []string{report.MetaSchema, report.MetaVersion} {
		if v, _ := po.Lookup(kv); v == "" {
			t.Errorf("no %s in the footer", kv)
		}
	}
}

// TestHTTPTableAgainstParquetGo: http.parquet from the column writer
// against parquet-go's row writer on the same rows.
func TestHTTPTableAgainstParquetGo(t *testing.T) { checkTable(t, refereeHTTP(40000)) }

// TestDNSTableAgainstParquetGo: the same for dns.parquet (two list columns).
func TestDNSTableAgainstParquetGo(t *testing.T) { checkTable(t, refereeDNS(40000)) }

// TestTableWriterEmpty: no rows still make a valid file.
func TestTableWriterEmpty(t *testing.T) {
	checkEmpty[report.HTTPRow](t)
	checkEmpty[report.DNSRow](t)
}

func checkEmpty[T any](t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := report.NewTableWriter[T](f, "test")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rows, err := report.ReadTable[T](path)
	if err != nil || len(rows) != 0 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
}

// TestTableWriterAllocs: writing a row allocates nothing once the pages
// have grown.
func TestTableWriterAllocs(t *testing.T) {
	rows := refereeHTTP(4096)
	w := report.NewTableWriter[report.HTTPRow](&bytes.Buffer{}, "test")
	for _, r := range rows {
		w.Write(r)
	}
	i := 0
	if n := testing.AllocsPerRun(2000, func() {
		w.Write(rows[i%len(rows)])
		i++
	}); n > 0.05 {
		t.Errorf("%.2f allocations per row", n)
	}
}
