package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/report"
)

// TestFlowVerdictsDeferred: a file written with WriteDeferred and
// CloseWithVerdicts reads back row for row like one written with the
// verdicts known up front, over several row groups, a last partial one, rows
// without a verdict, and an empty file; the page index of the crosscheck
// column points at the rewritten chunks.
func TestFlowVerdictsDeferred(t *testing.T) {
	verdicts := []string{"match", "bytes_mismatch", "pcap_only"}
	verdict := func(ref int32) string { return verdicts[ref] }
	refOf := func(i int) int32 {
		if i%5 == 4 {
			return report.NoAggregate
		}
		return int32(i % 3)
	}
	for _, tt := range []struct {
		name          string
		rows, perRG   int
		wantRowGroups int
	}{
		{"empty", 0, 100, 0},
		{"one partial group", 37, 100, 1},
		{"exact groups", 300, 100, 3},
		{"groups and a partial one", 2_345, 1000, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := report.FlowWriterOptions{Version: "1.2.3", RowGroupRows: tt.perRG}
			var recs []analyze.Record
			for i := range tt.rows {
				var r analyze.Record
				synthRecord(i, &r)
				recs = append(recs, r)
			}
			// The reference: verdicts set on the records, written at once.
			want := make([]analyze.Record, len(recs))
			for i := range recs {
				want[i] = recs[i]
				if ref := refOf(i); ref != report.NoAggregate {
					want[i].CrossCheck = verdict(ref)
				}
			}
			wantPath := filepath.Join(dir, "want.parquet")
			writeFlows(t, wantPath, opts, want...)

			var buf bytes.Buffer
			fw, err := report.NewFlowWriter(&buf, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				recs[i].CrossCheck = "ignored"
				if err := fw.WriteDeferred(&recs[i], refOf(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := fw.CloseWithVerdicts(verdict); err != nil {
				t.Fatal(err)
			}
			gotPath := filepath.Join(dir, "got.parquet")
			if err := os.WriteFile(gotPath, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := report.ReadFlows(gotPath)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := report.ReadFlows(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(exp) {
				t.Fatalf("%d rows, want %d", len(got), len(exp))
			}
			for i := range got {
				g, e := got[i], exp[i]
				if g.CrossCheck != e.CrossCheck || g.FlowID != e.FlowID || g.OrigBytes != e.OrigBytes {
					t.Fatalf("row %d: crosscheck %q flow %s, want %q %s", i, g.CrossCheck, g.FlowID, e.CrossCheck, e.FlowID)
				}
			}
			pf := openParquet(t, gotPath)
			if n := len(pf.RowGroups()); n != tt.wantRowGroups {
				t.Errorf("%d row groups, want %d", n, tt.wantRowGroups)
			}
			// The page index of the last column must lead to its own pages.
			oi := pf.OffsetIndexes()
			md := pf.Metadata()
			for i, rg := range md.RowGroups {
				cc := rg.Columns[len(rg.Columns)-1].MetaData
				if len(oi) == 0 {
					break
				}
				loc := oi[i*len(rg.Columns)+len(rg.Columns)-1].PageLocations
				if len(loc) == 0 || loc[0].Offset != cc.DataPageOffset {
					t.Errorf("row group %d: crosscheck offset index %+v, data page at %d", i, loc, cc.DataPageOffset)
				}
			}
			if v, ok := pf.Lookup(report.MetaSchema); !ok || v != strconv.Itoa(report.FlowSchemaVersion) {
				t.Errorf("schema metadata %q", v)
			}
		})
	}
}

func TestFlowVerdictsMixedCalls(t *testing.T) {
	var buf bytes.Buffer
	fw, err := report.NewFlowWriter(&buf, report.FlowWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := fullRecord()
	if err := fw.Write(&r); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteDeferred(&r, 0); err == nil {
		t.Error("WriteDeferred after Write succeeded")
	}
	if err := fw.CloseWithVerdicts(func(int32) string { return "" }); err == nil {
		t.Error("CloseWithVerdicts after Write succeeded")
	}
}
