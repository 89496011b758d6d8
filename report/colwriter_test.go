package report_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/report"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// refereeRecords mixes the synthetic flows with the edge records: nulls,
// valid zeros, IPv6 and zoned addresses, strings longer than the column
// index's 16-byte bounds, negative times.
func refereeRecords(n int) []analyze.Record {
	recs := make([]analyze.Record, n)
	for i := range recs {
		synthRecord(i, &recs[i])
		switch i % 97 {
		case 1:
			recs[i] = fullRecord()
		case 2:
			recs[i] = nullRecord()
		case 3:
			recs[i] = zeroRecord()
		case 4:
			recs[i].SrcIP = netip.MustParseAddr("fe80::1%eth0")
			recs[i].DstIP = netip.MustParseAddr("::ffff:10.0.0.1")
			recs[i].TsNs, recs[i].EndNs = -1_500, 2_000
		case 5:
			recs[i].SrcPod = strings.Repeat("p", 40) + fmt.Sprint(i)
			recs[i].TLSSNI = strings.Repeat("\xff", 20) + "x"
			recs[i].CrossCheck = "count_mismatch"
		}
		recs[i].FlowID = fmt.Sprintf("1-%d", i+1)
	}
	return recs
}

// TestFlowStatsAgainstParquetGo: the column chunk statistics FlowWriter
// computes are those parquet-go's own writer computes for the same rows
// (FlowRowOf) and row groups: value and null counts, min and max.
func TestFlowStatsAgainstParquetGo(t *testing.T) {
	const n, per = 5000, 1500
	recs := refereeRecords(n)
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.parquet")
	writeFlows(t, ours, report.FlowWriterOptions{RowGroupRows: per}, recs...)

	var ref bytes.Buffer
	w := parquet.NewGenericWriter[report.FlowRow](&ref)
	for i := range recs {
		row, err := report.FlowRowOf(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]report.FlowRow{row}); err != nil {
			t.Fatal(err)
		}
		if (i+1)%per == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rf, err := parquet.OpenFile(bytes.NewReader(ref.Bytes()), int64(ref.Len()))
	if err != nil {
		t.Fatal(err)
	}
	sameChunkStats(t, openParquet(t, ours).Metadata(), rf.Metadata())
}

// sameChunkStats compares two files' row groups and column chunks: rows,
// values, nulls, min and max.
func sameChunkStats(t *testing.T, got, want *format.FileMetaData) {
	t.Helper()
	if len(got.RowGroups) != len(want.RowGroups) {
		t.Fatalf("%d row groups, parquet-go %d", len(got.RowGroups), len(want.RowGroups))
	}
	for g := range want.RowGroups {
		if a, b := got.RowGroups[g].NumRows, want.RowGroups[g].NumRows; a != b {
			t.Errorf("row group %d: %d rows, parquet-go %d", g, a, b)
		}
		for j, wc := range want.RowGroups[g].Columns {
			gc := got.RowGroups[g].Columns[j]
			name := strings.Join(wc.MetaData.PathInSchema, ".")
			if strings.Join(gc.MetaData.PathInSchema, ".") != name || gc.MetaData.Type != wc.MetaData.Type {
				t.Fatalf("column %d: %v %v, parquet-go %v %v", j, gc.MetaData.PathInSchema, gc.MetaData.Type, wc.MetaData.PathInSchema, wc.MetaData.Type)
			}
			gs, ws := gc.MetaData.Statistics, wc.MetaData.Statistics
			if gc.MetaData.NumValues != wc.MetaData.NumValues || gs.NullCount != ws.NullCount ||
				!bytes.Equal(gs.MinValue, ws.MinValue) || !bytes.Equal(gs.MaxValue, ws.MaxValue) ||
				(gs.MinValue == nil) != (ws.MinValue == nil) || (gs.MaxValue == nil) != (ws.MaxValue == nil) {
				t.Errorf("row group %d column %s: values %d nulls %d min %q max %q; parquet-go %d %d %q %q", g, name,
					gc.MetaData.NumValues, gs.NullCount, gs.MinValue, gs.MaxValue,
					wc.MetaData.NumValues, ws.NullCount, ws.MinValue, ws.MaxValue)
			}
		}
	}
}

// TestFlowPageIndex checks the column index and offset index against the
// pages themselves, as parquet-go's reader decodes them: each page's null
// count, and bounds that hold its values.
func TestFlowPageIndex(t *testing.T) {
	recs := refereeRecords(20000) // several pages per column
	path := filepath.Join(t.TempDir(), "flows.parquet")
	writeFlows(t, path, report.FlowWriterOptions{RowGroupRows: 12000}, recs...)
	if checkPageIndex(t, path) == 0 {
		t.Error("no column chunk has more than one page: the test checks nothing")
	}
}

// checkPageIndex checks a file's column and offset indexes against its
// pages and returns how many column chunks have more than one page.
func checkPageIndex(t *testing.T, path string) (multi int) {
	t.Helper()
	pf := openParquet(t, path)
	cis, ois := pf.ColumnIndexes(), pf.OffsetIndexes()
	ncol := len(pf.Metadata().RowGroups[0].Columns)
	for g, rg := range pf.RowGroups() {
		for j, cc := range rg.ColumnChunks() {
			ci, oi := cis[g*ncol+j], ois[g*ncol+j]
			typ := pf.Metadata().RowGroups[g].Columns[j].MetaData.Type
			name := strings.Join(pf.Metadata().RowGroups[g].Columns[j].MetaData.PathInSchema, ".")
			pages := cc.Pages()
			k, row := 0, int64(0)
			for {
				p, err := pages.ReadPage()
				if err != nil {
					break
				}
				if k >= len(ci.NullPages) || k >= len(oi.PageLocations) {
					t.Fatalf("row group %d column %s: more pages than index entries", g, name)
				}
				if oi.PageLocations[k].FirstRowIndex != row {
					t.Errorf("row group %d column %s page %d: first row %d, want %d", g, name, k, oi.PageLocations[k].FirstRowIndex, row)
				}
				if p.NumNulls() != ci.NullCounts[k] {
					t.Errorf("row group %d column %s page %d: %d nulls, index says %d", g, name, k, p.NumNulls(), ci.NullCounts[k])
				}
				lo, hi, ok := p.Bounds()
				if ok == ci.NullPages[k] {
					t.Errorf("row group %d column %s page %d: has values %v, null page %v", g, name, k, ok, ci.NullPages[k])
				}
				if ok && (cmpPlain(typ, ci.MinValues[k], plainOf(lo)) > 0 || cmpPlain(typ, ci.MaxValues[k], plainOf(hi)) < 0) {
					t.Errorf("row group %d column %s page %d: index bounds [%q, %q] do not hold [%q, %q]", g, name, k,
						ci.MinValues[k], ci.MaxValues[k], plainOf(lo), plainOf(hi))
				}
				row += p.NumRows()
				k++
				parquet.Release(p)
			}
			pages.Close()
			if k != len(ci.NullPages) || row != rg.NumRows() {
				t.Errorf("row group %d column %s: %d pages of %d rows, index %d pages, group %d rows", g, name, k, row, len(ci.NullPages), rg.NumRows())
			}
			if k > 1 {
				multi++
			}
		}
	}
	return multi
}

func plainOf(v parquet.Value) []byte {
	switch v.Kind() {
	case parquet.Int64:
		return binary.LittleEndian.AppendUint64(nil, uint64(v.Int64()))
	case parquet.Int32:
		return binary.LittleEndian.AppendUint32(nil, uint32(v.Int32()))
	case parquet.Boolean:
		if v.Boolean() {
			return []byte{1}
		}
		return []byte{0}
	}
	return v.ByteArray()
}

// cmpPlain compares two PLAIN-encoded values in the column's order.
func cmpPlain(typ format.Type, a, b []byte) int {
	switch typ {
	case format.Int64:
		x, y := int64(binary.LittleEndian.Uint64(a)), int64(binary.LittleEndian.Uint64(b))
		return cmpInt(x, y)
	case format.Int32:
		x, y := int64(int32(binary.LittleEndian.Uint32(a))), int64(int32(binary.LittleEndian.Uint32(b)))
		return cmpInt(x, y)
	}
	return bytes.Compare(a, b)
}

func cmpInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
