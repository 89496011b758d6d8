package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/reporttables"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// shardCorpus is a directory of the shared public corpus the sharded tests
// add to testdata's captures: many captures, of many days.
var shardCorpus = filepath.Join(corpusDir, "wireshark-wiki")

// shardInputs are the inputs of the sharded tests: testdata's generated
// captures, and a directory of the public corpus when it is there.
func shardInputs(t *testing.T) []string {
	in := []string{genDir}
	if _, err := os.Stat(shardCorpus); err != nil {
		t.Logf("public corpus absent (%v): sharding only testdata/gen", err)
	} else {
		in = append(in, shardCorpus)
	}
	return in
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want pipeline.Shard
		err  string
	}{
		{"0/1", pipeline.Shard{Index: 0, Count: 1}, ""},
		{"3/4", pipeline.Shard{Index: 3, Count: 4}, ""},
		{"9999/10000", pipeline.Shard{Index: 9999, Count: 10000}, ""},
		{"4/4", pipeline.Shard{}, "index must be 0 to 3"},
		{"-1/4", pipeline.Shard{}, "index must be"},
		{"0/0", pipeline.Shard{}, "must be 1 to 10000"},
		{"0/10001", pipeline.Shard{}, "must be 1 to 10000"},
		{"1", pipeline.Shard{}, "want i/n"},
		{"a/b", pipeline.Shard{}, "want i/n"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := pipeline.ParseShard(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// TestShardOf checks the rule against values computed independently
// (Python's hashlib: int.from_bytes(sha256(key).digest()[:8], 'big') % n).
func TestShardOf(t *testing.T) {
	for _, tc := range []struct {
		key         string
		n4, n7, n1k int
	}{
		{"a.pcap", 1, 1, 197},
		{"captures/2026-12-03/node-1.pcap.gz", 2, 0, 766},
		{"evidence-2026-12-03T10:00", 1, 1, 789},
		{"tcp-sf.pcap", 0, 3, 220},
	} {
		if a, b, c := pipeline.ShardOf(tc.key, 4), pipeline.ShardOf(tc.key, 7), pipeline.ShardOf(tc.key, 1000); a != tc.n4 || b != tc.n7 || c != tc.n1k {
			t.Errorf("ShardOf(%q) = %d, %d, %d for n = 4, 7, 1000; want %d, %d, %d", tc.key, a, b, c, tc.n4, tc.n7, tc.n1k)
		}
	}
}

// TestShardSelectionStable: adding inputs never moves a capture to another
// shard, and the order of the inputs does not matter.
func TestShardSelectionStable(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(genDir, "tcp-sf.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const n = 5
	assigned := func() map[string]int {
		t.Helper()
		got := map[string]int{}
		for i := range n {
			sel, _, _, err := pipeline.SelectShard(context.Background(), []string{dir}, pipeline.Options{}, pipeline.Shard{Index: i, Count: n})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range sel {
				if prev, ok := got[u.Key]; ok {
					t.Fatalf("%s in shards %d and %d", u.Key, prev, i)
				}
				got[u.Key] = i
			}
		}
		return got
	}
	for i := range 12 {
		write(fmt.Sprintf("day1/c%02d.pcap", i))
	}
	before := assigned()
	if len(before) != 12 {
		t.Fatalf("%d units assigned, want 12", len(before))
	}
	for i := range 30 { // more, sorting before and after the first ones
		write(fmt.Sprintf("day0/b%02d.pcap", i))
		write(fmt.Sprintf("day1/d%02d.pcap", i))
	}
	after := assigned()
	if len(after) != 72 {
		t.Fatalf("%d units assigned, want 72", len(after))
	}
	counts := make([]int, n)
	for k, s := range after {
		counts[s]++
		if b, ok := before[k]; ok && b != s {
			t.Errorf("%s moved from shard %d to %d when inputs were added", k, b, s)
		}
		if s != pipeline.ShardOf(k, n) {
			t.Errorf("%s in shard %d, ShardOf says %d", k, s, pipeline.ShardOf(k, n))
		}
	}
	for i, c := range counts {
		if c == 0 {
			t.Errorf("shard %d got no unit of 72: %v", i, counts)
		}
	}
	// Listing order: the same files given one by one, sorted and shuffled,
	// land in the same shards.
	files, err := ingest.Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	byFile := func(files []string) map[string]int {
		got := map[string]int{}
		for i := range n {
			sel, _, _, err := pipeline.SelectShard(context.Background(), files, pipeline.Options{}, pipeline.Shard{Index: i, Count: n})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range sel {
				got[u.Key] = i // a file given by itself is keyed by its name
			}
		}
		return got
	}
	sorted := byFile(files)
	rand.New(rand.NewSource(1)).Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	if shuffled := byFile(files); len(sorted) != 72 || !reflect.DeepEqual(sorted, shuffled) {
		t.Errorf("the order of the inputs moved units: %v against %v", sorted, shuffled)
	}
}

// cancelAt cancels the run when capture at (0-based) starts.
type cancelAt struct {
	at     int
	cancel context.CancelFunc
}

func (p cancelAt) Run(int) {}
func (p cancelAt) Start(i int, _ string, c *ingest.Capture) analyze.PacketSource {
	if i == p.at {
		p.cancel()
	}
	return c
}
func (cancelAt) Finish(int)  {}
func (cancelAt) Warn(string) {}
func (cancelAt) Stop()       {}

// failingStore fails the creation of the failAt-th file (1-based),
// as a shard killed while writing its parts would stop.
type failingStore struct {
	pipeline.DirStore
	failAt, n int
}

func (s *failingStore) Create(ctx context.Context, name string) (pipeline.StoreWriter, error) {
	if s.n++; s.n == s.failAt {
		return nil, errors.New("killed")
	}
	return s.DirStore.Create(ctx, name)
}

// TestShardedJob runs the Indexed Job's contract: n shards over the same
// inputs, one shard killed before it wrote anything and one killed while
// writing its parts, both rerun; then merge. The merged flows are a single
// Analyze's, row for row, and the merged report's tables are its tables.
func TestShardedJob(t *testing.T) {
	ctx := context.Background()
	inputs := shardInputs(t)
	// L7 off here (the race detector makes it slow over the corpus):
	// TestMergeFewOpenParts and report/duckdbtest cover the http and dns parts.
	opts := pipeline.Options{Version: "test", Jobs: 2}

	single, sres, want := singleRun(t, inputs, opts)

	const n = 3
	out := t.TempDir()
	st := pipeline.DirStore{Dir: out}
	// Shard 1 is killed (canceled) at its second capture: nothing written.
	cctx, cancel := context.WithCancel(ctx)
	o := opts
	o.Progress = cancelAt{at: 1, cancel: cancel}
	if _, err := pipeline.AnalyzeShard(cctx, inputs, o, pipeline.Shard{Index: 1, Count: n}, st); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled shard: %v", err)
	}
	if ents, _ := st.List(ctx, ""); len(ents) != 0 {
		t.Fatalf("a canceled shard wrote %v", ents)
	}
	for i := range n {
		if _, err := pipeline.AnalyzeShard(ctx, inputs, opts, pipeline.Shard{Index: i, Count: n}, st); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	// Shard 2's rerun is killed after its first new part: merge refuses
	// the mix of new and old, naming the shard; a rerun settles it.
	if _, err := pipeline.AnalyzeShard(ctx, inputs, opts, pipeline.Shard{Index: 2, Count: n}, &failingStore{DirStore: st, failAt: 2}); err == nil {
		t.Fatal("a shard whose store fails succeeded")
	}
	_, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: "test"})
	var se *pipeline.ShardError
	if !errors.As(err, &se) || se.Shard != 2 || !strings.Contains(err.Error(), "rerun shard 2") {
		// The first part is rewritten with the same bytes: the killed
		// rerun may leave nothing changed, then merge is right to pass.
		if err != nil {
			t.Fatalf("merge after a killed rerun: %v", err)
		}
	}
	if _, err := pipeline.AnalyzeShard(ctx, inputs, opts, pipeline.Shard{Index: 2, Count: n}, st); err != nil {
		t.Fatal(err)
	}
	mres, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: "test", Command: []string{"flowproof", "merge", out}})
	if err != nil {
		t.Fatal(err)
	}
	if mres.Flows != sres.Flows || mres.Shards != n {
		t.Errorf("merged %d flows of %d shards, single run %d flows", mres.Flows, mres.Shards, sres.Flows)
	}

	sameRows(t, readParts(t, out, "flows"), want)
	compareReportTables(t, filepath.Join(single, "report.md"), filepath.Join(out, "report.md"))

	v, err := report.Verify(out)
	if err != nil || !v.OK() {
		t.Errorf("verify of the merged output: %+v, %v", v, err)
	}
}

// readParts reads every part of a table.
func readParts(t *testing.T, out, table string) []report.FlowRow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(out, table, "date=*", "shard=*", "part-*.parquet"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s parts: %v", table, err)
	}
	var rows []report.FlowRow
	for _, p := range paths {
		r, err := report.ReadFlows(p)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	return rows
}

// singleRun analyzes the inputs in one Analyze into a new directory, and
// returns it, the result and its flows.
func singleRun(t *testing.T, inputs []string, opts pipeline.Options) (string, *pipeline.Result, []report.FlowRow) {
	t.Helper()
	single := t.TempDir()
	opts.Out = single
	res, err := pipeline.Analyze(context.Background(), inputs, opts)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := report.ReadFlows(filepath.Join(single, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	return single, res, rows
}

// sameRows checks that the sharded flows are the single run's, row for
// row, order aside.
func sameRows(t *testing.T, got, want []report.FlowRow) {
	t.Helper()
	sortRows(want)
	sortRows(got)
	if len(got) != len(want) {
		t.Fatalf("merged parts hold %d flows, the single run %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("flow %d differs:\nsharded %+v\nsingle  %+v", i, got[i], want[i])
		}
	}
}

func sortRows(rows []report.FlowRow) {
	slices.SortFunc(rows, func(a, b report.FlowRow) int { return strings.Compare(a.FlowID, b.FlowID) })
}

func compareReportTables(t *testing.T, single, merged string) {
	t.Helper()
	w, err := os.ReadFile(single)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	want := reporttables.Tables(string(w), "outputs") // a sharded run has other files
	if len(want) < 10 {
		t.Fatalf("the single run's report has only %d tables", len(want))
	}
	for _, d := range reporttables.Diff(want, reporttables.Tables(string(g), "outputs")) {
		t.Error(d)
	}
}

// shardedOutput runs n shards of testdata/gen into a new directory.
func shardedOutput(t *testing.T, n int) string {
	t.Helper()
	out := t.TempDir()
	for i := range n {
		if _, err := pipeline.AnalyzeShard(context.Background(), []string{genDir}, pipeline.Options{Version: "test"}, pipeline.Shard{Index: i, Count: n}, pipeline.DirStore{Dir: out}); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	return out
}

// firstPart is the first flows part of shard s.
func firstPart(t *testing.T, out string, s int) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(out, "flows", "date=*", fmt.Sprintf("shard=%04d", s), "part-0.parquet"))
	if len(paths) == 0 {
		t.Fatalf("shard %d has no flows part", s)
	}
	return paths[0]
}

// TestMergeBadInput: every way a sharded output can be wrong is an error
// naming the file, and merge writes nothing.
func TestMergeBadInput(t *testing.T) {
	const n = 3
	good := shardedOutput(t, n)
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, out string)
		want  string
	}{
		{"shard missing", func(t *testing.T, out string) {
			os.RemoveAll(filepath.Join(out, "shards", "shard=0001"))
		}, "shards/shard=0001/manifest.json: missing: shard(s) 1 of 3"},
		{"manifest edited", func(t *testing.T, out string) {
			p := filepath.Join(out, "shards", "shard=0002", "manifest.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"flows": `, `"flows": 1`, 1)), 0o644)
		}, "shards/shard=0002/manifest.json: its SHA-256 is"},
		{"manifest not json", func(t *testing.T, out string) {
			os.WriteFile(filepath.Join(out, "shards", "shard=0000", "manifest.json"), []byte("{"), 0o644)
		}, "shards/shard=0000/manifest.json: not a shard manifest"},
		{"part deleted", func(t *testing.T, out string) {
			os.Remove(firstPart(t, out, 1))
		}, "listed by shard 1's manifest, but unreadable"},
		{"part changed", func(t *testing.T, out string) {
			p := firstPart(t, out, 0)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o644)
		}, "shard 0's manifest lists"},
		{"part added", func(t *testing.T, out string) {
			b, _ := os.ReadFile(firstPart(t, out, 0))
			p := filepath.Join(out, "flows", "date=2001-01-01", "shard=0001", "part-0.parquet")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, b, 0o644)
		}, "flows/date=2001-01-01/shard=0001/part-0.parquet: not listed by any shard's manifest"},
		{"n disagrees", func(t *testing.T, out string) {
			if _, err := pipeline.AnalyzeShard(context.Background(), []string{genDir}, pipeline.Options{Version: "test"}, pipeline.Shard{Index: 1, Count: 2}, pipeline.DirStore{Dir: out}); err != nil {
				t.Fatal(err)
			}
		}, "shard 1 ran as one of 2 shards, shard 0 as one of 3"},
		{"settings disagree", func(t *testing.T, out string) {
			if _, err := pipeline.AnalyzeShard(context.Background(), []string{genDir}, pipeline.Options{Version: "test", Table: analyze.Config{TCPTimeoutNs: 1e9}}, pipeline.Shard{Index: 2, Count: 3}, pipeline.DirStore{Dir: out}); err != nil {
				t.Fatal(err)
			}
		}, "setting tcp_timeout is \"1s\", shard 0's is \"5m0s\""},
		{"inputs disagree", func(t *testing.T, out string) {
			if _, err := pipeline.AnalyzeShard(context.Background(), []string{filepath.Join(genDir, "tcp-sf.pcap"), genDir}, pipeline.Options{Version: "test"}, pipeline.Shard{Index: 2, Count: 3}, pipeline.DirStore{Dir: out}); err != nil {
				t.Fatal(err)
			}
		}, "shard 2 read another input list than shard 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			if err := os.CopyFS(out, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, out)
			before, _ := pipeline.DirStore{Dir: out}.List(context.Background(), "")
			_, err := pipeline.MergeShards(context.Background(), pipeline.DirStore{Dir: out}, pipeline.MergeOptions{Version: "test"})
			var se *pipeline.ShardError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("merge: %v, want a *ShardError with %q", err, tc.want)
			}
			after, _ := pipeline.DirStore{Dir: out}.List(context.Background(), "")
			if !reflect.DeepEqual(before, after) {
				t.Errorf("a failed merge changed the output")
			}
		})
	}
}

// TestShardRerun: a rerun replaces exactly the shard's own outputs (a day
// it no longer has goes away), and never touches another shard's.
func TestShardRerun(t *testing.T) {
	ctx := context.Background()
	out := shardedOutput(t, 2)
	st := pipeline.DirStore{Dir: out}
	stale := filepath.Join(out, "flows", "date=1999-01-01", "shard=0001", "part-0.parquet")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("stale"), 0o644)
	hashes := func(s string) map[string]string {
		m := map[string]string{}
		ents, _ := st.List(ctx, "")
		for _, e := range ents {
			if strings.Contains(e.Name, s) {
				f, _ := provenance.HashFile(filepath.Join(out, e.Name))
				m[e.Name] = f.SHA256
			}
		}
		return m
	}
	other := hashes("shard=0000")
	res, err := pipeline.AnalyzeShard(ctx, []string{genDir}, pipeline.Options{Version: "test"}, pipeline.Shard{Index: 1, Count: 2}, st)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Removed, "flows/date=1999-01-01/shard=0001/part-0.parquet") {
		t.Errorf("removed %v", res.Removed)
	}
	if _, err := os.Stat(filepath.Dir(stale)); !os.IsNotExist(err) {
		t.Errorf("the emptied partition stays: %v", err)
	}
	if got := hashes("shard=0000"); !reflect.DeepEqual(got, other) {
		t.Errorf("shard 0's files changed")
	}
	trail, err := provenance.ReadAudit(filepath.Join(out, "shards", "shard=0001"))
	if err != nil || len(trail) != 2 {
		t.Errorf("shard 1's audit trail: %d entries, %v; want 2", len(trail), err)
	}
	if _, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
}

// TestShardEmpty: a shard with nothing to do writes a manifest without
// inputs, which merge accepts.
func TestShardEmpty(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	st := pipeline.DirStore{Dir: out}
	in := filepath.Join(genDir, "tcp-sf.pcap")
	n := 4
	empty := -1
	for i := range n {
		res, err := pipeline.AnalyzeShard(ctx, []string{in}, pipeline.Options{Version: "test"}, pipeline.Shard{Index: i, Count: n}, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Manifest.Selected) == 0 {
			empty = i
			if res.Flows != 0 || len(res.Manifest.Manifest.Inputs) != 0 {
				t.Errorf("empty shard %d: %+v", i, res)
			}
		}
	}
	if empty < 0 {
		t.Fatal("no shard was empty")
	}
	b, err := os.ReadFile(filepath.Join(out, "shards", fmt.Sprintf("shard=%04d", empty), "manifest.json"))
	if err != nil || !strings.Contains(string(b), `"selected": []`) || !strings.Contains(string(b), `"manifest_version": 1,`) {
		t.Errorf("empty shard's manifest: %v\n%s", err, b)
	}
	res, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: "test"})
	if err != nil || res.Flows != 1 {
		t.Fatalf("merge: %+v, %v", res, err)
	}
}

// TestShardPartial: a bad capture makes its shard, and then merge, a
// partial result (ErrPartial, exit 3) with everything good written.
func TestShardPartial(t *testing.T) {
	ctx := context.Background()
	bad := filepath.Join(t.TempDir(), "notes.pcap")
	if err := os.WriteFile(bad, []byte("not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := []string{genDir, bad}
	out := t.TempDir()
	st := pipeline.DirStore{Dir: out}
	const n = 2
	partial := 0
	for i := range n {
		res, err := pipeline.AnalyzeShard(ctx, inputs, pipeline.Options{Version: "test"}, pipeline.Shard{Index: i, Count: n}, st)
		switch {
		case errors.Is(err, pipeline.ErrPartial):
			partial++
			if len(res.Manifest.Skipped) != 1 || !strings.Contains(res.Manifest.Skipped[0], "notes.pcap: failed") {
				t.Errorf("shard %d skipped %q", i, res.Manifest.Skipped)
			}
		case err != nil:
			t.Fatal(err)
		}
	}
	if partial != 1 {
		t.Fatalf("%d partial shards, want the one with notes.pcap", partial)
	}
	res, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: "test"})
	if !errors.Is(err, pipeline.ErrPartial) || res == nil || len(res.Manifest.Inputs) != 22 {
		t.Fatalf("merge: %v, %+v", err, res)
	}
	if last := res.Manifest.Inputs[21]; last.Name != "notes.pcap" || last.Status != report.StatusFailed {
		t.Errorf("last input %+v", last)
	}
}
