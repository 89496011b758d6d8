package pipeline

import (
	"context"
	"github.com/flowproof/flowproof/internal/testcaptures"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/internal/reporttables"
)

// TestMergeFewOpenParts: with only two parts open at a time, merge sets
// parts aside and reopens them where they stopped, and its report is still
// a single run's.
func TestMergeFewOpenParts(t *testing.T) {
	defer func(n int) { maxOpenParts = n }(maxOpenParts)
	maxOpenParts = 2
	inputs, err := testcaptures.TwoDays("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	single := t.TempDir()
	if _, err := Analyze(ctx, inputs, Options{Out: single, Version: "test", L7: true}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	st := DirStore{Dir: out}
	const n = 3
	for i := range n {
		if _, err := AnalyzeShard(ctx, inputs, Options{Version: "test", L7: true}, Shard{Index: i, Count: n}, st); err != nil {
			t.Fatal(err)
		}
	}
	res, err := MergeShards(ctx, st, MergeOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Parts <= 2*maxOpenParts {
		t.Fatalf("only %d parts: the test needs more than %d", res.Parts, 2*maxOpenParts)
	}
	w, _ := os.ReadFile(filepath.Join(single, "report.md"))
	g, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, d := range reporttables.Diff(reporttables.Tables(string(w), "outputs"), reporttables.Tables(string(g), "outputs")) {
		t.Error(d)
	}
}
