package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/internal/s3test"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// shardS3Inputs stores testdata/gen and, when the public corpus is there,
// its wireshark-wiki captures under s3://caps/in/ (keys gen/NAME and
// wiki/NAME), and copies them into a local directory of the same layout,
// which a single local Analyze reads in the same order. It returns it.
func shardS3Inputs(t *testing.T, srv *s3test.Server) string {
	t.Helper()
	srv.Bucket(t, "caps")
	local := t.TempDir()
	dirs := map[string]string{"gen": genDir}
	if _, err := os.Stat(shardCorpus); err != nil {
		t.Logf("public corpus absent (%v): sharding only testdata/gen", err)
	} else {
		dirs["wiki"] = shardCorpus
	}
	for to, from := range dirs {
		err := filepath.WalkDir(from, func(f string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(from, f)
			rel = to + "/" + filepath.ToSlash(rel)
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			p := filepath.Join(local, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			srv.Put(t, "caps", "in/"+rel, b)
			return os.WriteFile(p, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return local
}

// readS3Parts reads every part of a table stored under the prefix.
func readS3Parts(t *testing.T, srv *s3test.Server, bucket, prefix, table string) []report.FlowRow {
	t.Helper()
	var rows []report.FlowRow
	for _, k := range srv.Keys(t, bucket) {
		if !strings.HasPrefix(k, prefix+table+"/date=") {
			continue
		}
		r, err := report.ReadFlows(getFile(t, srv, bucket, k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		rows = append(rows, r...)
	}
	if len(rows) == 0 {
		t.Fatalf("no %s parts under s3://%s/%s", table, bucket, prefix)
	}
	return rows
}

// TestShardedJobS3 is TestShardedJob over object storage (a real
// versitygw): captures read from s3://caps/in/, n shards into
// s3://out/job/, one shard canceled midway and rerun, merge reading the
// shards from the bucket and writing there. The merged flows, read back
// from the stored parts, are a single local Analyze's row for row, and the
// merged report's tables are its tables. Then a shard manifest edited in
// the bucket: merge names it and writes nothing.
func TestShardedJobS3(t *testing.T) {
	srv := s3test.Start(t)
	local := shardS3Inputs(t, srv)
	srv.Bucket(t, "out")
	ctx := context.Background()
	opts := pipeline.Options{Version: "test", Jobs: 2, S3: srv.Config()}
	inputs := []string{"s3://caps/in/"}

	single, sres, want := singleRun(t, []string{local}, opts)

	// The shards are keyed by the object key below the prefix, as the
	// local files are by their path below the directory.
	const n = 3
	for i := range n {
		sh := pipeline.Shard{Index: i, Count: n}
		fromS3, total, _, err := pipeline.SelectShard(ctx, inputs, opts, sh)
		if err != nil {
			t.Fatal(err)
		}
		fromDir, dtotal, _, _ := pipeline.SelectShard(ctx, []string{local}, opts, sh)
		if !reflect.DeepEqual(fromS3, fromDir) || total != dtotal || total != sres.Captures {
			t.Fatalf("shard %d: from S3 %v of %d, from the directory %v of %d", i, fromS3, total, fromDir, dtotal)
		}
	}

	st, closeStore, err := pipeline.OpenStore(ctx, "s3://out/job", opts.S3)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	// Shard 1 is canceled at its second capture: it writes nothing.
	cctx, cancel := context.WithCancel(ctx)
	o := opts
	o.Progress = cancelAt{at: 1, cancel: cancel}
	if _, err := pipeline.AnalyzeShard(cctx, inputs, o, pipeline.Shard{Index: 1, Count: n}, st); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled shard: %v", err)
	}
	if keys := srv.Keys(t, "out"); len(keys) != 0 {
		t.Fatalf("a canceled shard stored %v", keys)
	}
	// Each shard in a store of its own, as pods are.
	for i := range n {
		st, closeStore, err := pipeline.OpenStore(ctx, "s3://out/job/", opts.S3)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.AnalyzeShard(ctx, inputs, opts, pipeline.Shard{Index: i, Count: n}, st); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		closeStore()
	}
	// A rerun of shard 2 replaces its objects and no other's, and adds an
	// entry to its audit trail.
	before := map[string][]byte{}
	for _, k := range srv.Keys(t, "out") {
		before[k], _ = srv.Get(t, "out", k)
	}
	if _, err := pipeline.AnalyzeShard(ctx, inputs, opts, pipeline.Shard{Index: 2, Count: n}, st); err != nil {
		t.Fatal(err)
	}
	after := srv.Keys(t, "out")
	if len(after) != len(before) {
		t.Errorf("the rerun changed the keys: %d, before %d", len(after), len(before))
	}
	for _, k := range after {
		b, _ := srv.Get(t, "out", k)
		if strings.Contains(k, "shard=0002") {
			if strings.HasSuffix(k, "/audit.jsonl") && bytes.Count(b, []byte("\n")) != 2 {
				t.Errorf("%s: %d entries after two runs, want 2", k, bytes.Count(b, []byte("\n")))
			}
			continue
		}
		if !bytes.Equal(b, before[k]) {
			t.Errorf("a rerun of shard 2 changed %s", k)
		}
	}

	ms, closeMerge, err := pipeline.OpenStore(ctx, "s3://out/job", opts.S3)
	if err != nil {
		t.Fatal(err)
	}
	defer closeMerge()
	mres, err := pipeline.MergeShards(ctx, ms, pipeline.MergeOptions{Version: "test", Command: []string{"flowproof", "merge", "s3://out/job"}})
	if err != nil {
		t.Fatal(err)
	}
	if mres.Flows != sres.Flows || mres.Shards != n {
		t.Errorf("merged %d flows of %d shards, single run %d flows", mres.Flows, mres.Shards, sres.Flows)
	}
	sameRows(t, readS3Parts(t, srv, "out", "job/", "flows"), want)
	t.Logf("%d captures, %d flows in %d shards, merged from S3", sres.Captures, sres.Flows, n)
	merged := getFile(t, srv, "out", "job/report.md")
	rep, _ := os.ReadFile(merged)
	// The inputs table names each capture's source: s3 here, file there.
	os.WriteFile(merged, bytes.ReplaceAll(rep, []byte(" | s3 | "), []byte(" | file | ")), 0o644)
	compareReportTables(t, filepath.Join(single, "report.md"), merged)
	m := getManifest(t, srv, "out", "job")
	for _, f := range m.Outputs {
		b, ok := srv.Get(t, "out", "job/"+f.Name)
		if !ok || sha256Hex(b) != f.SHA256 {
			t.Errorf("%s: stored %v, not with the manifest's SHA-256", f.Name, ok)
		}
	}
	if ups := srv.Uploads(t, "out"); len(ups) > 0 {
		t.Errorf("uploads left in progress: %v", ups)
	}

	// A shard manifest edited in the bucket: merge names it, and nothing
	// under the prefix changes.
	key := "job/shards/shard=0001/manifest.json"
	b, _ := srv.Get(t, "out", key)
	srv.Put(t, "out", key, bytes.Replace(b, []byte(`"shards": 3`), []byte(`"shards": 3 `), 1))
	before = map[string][]byte{}
	for _, k := range srv.Keys(t, "out") {
		before[k], _ = srv.Get(t, "out", k)
	}
	ms2, closeMerge2, err := pipeline.OpenStore(ctx, "s3://out/job", opts.S3)
	if err != nil {
		t.Fatal(err)
	}
	defer closeMerge2()
	_, err = pipeline.MergeShards(ctx, ms2, pipeline.MergeOptions{Version: "test"})
	var se *pipeline.ShardError
	if !errors.As(err, &se) || se.Shard != 1 || !strings.Contains(err.Error(), "shards/shard=0001/manifest.json: its SHA-256 is") {
		t.Fatalf("merge of an edited manifest: %v", err)
	}
	for _, k := range srv.Keys(t, "out") {
		if b, _ := srv.Get(t, "out", k); !bytes.Equal(b, before[k]) {
			t.Errorf("a failed merge changed %s", k)
		}
	}
}

// TestOpenStoreS3Errors: a missing bucket and wrong credentials are found
// when the store is opened, before any work.
func TestOpenStoreS3Errors(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	if _, _, err := pipeline.OpenStore(ctx, "s3://nobucket/out", srv.Config()); err == nil || !strings.Contains(err.Error(), `"nobucket" does not exist`) {
		t.Errorf("missing bucket: %v", err)
	}
	srv.Bucket(t, "out")
	cfg := srv.Config()
	cfg.SecretAccessKey = "wrong-secret-value-1234"
	if _, _, err := pipeline.OpenStore(ctx, "s3://out/x", cfg); err == nil || strings.Contains(err.Error(), cfg.SecretAccessKey) || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("wrong secret: %v", err)
	}
}

// TestShardS3ObjectDeleted: a capture deleted between the listing that cut
// the shards and the shard's read of it is skipped, named in the shard's
// manifest, and the shard is partial (ErrPartial); merge then says so too.
func TestShardS3ObjectDeleted(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "caps")
	srv.Bucket(t, "out")
	files, err := filepath.Glob(filepath.Join(genDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		srv.Put(t, "caps", "in/"+filepath.Base(f), b)
	}
	ctx := context.Background()
	st, closeStore, err := pipeline.OpenStore(ctx, "s3://out/del", srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	sh := pipeline.Shard{Index: 0, Count: 1}
	prog := &hookProgress{hook: func() { srv.Delete(t, "caps", "in/tcp-sf.pcap") }}
	res, err := pipeline.AnalyzeShard(ctx, []string{"s3://caps/in/"}, pipeline.Options{Version: "test", S3: srv.Config(), Progress: prog}, sh, st)
	if !errors.Is(err, pipeline.ErrPartial) || res == nil {
		t.Fatalf("AnalyzeShard = %+v, %v; want ErrPartial", res, err)
	}
	if s := strings.Join(res.Manifest.Skipped, "\n"); !strings.Contains(s, "s3://caps/in/tcp-sf.pcap") || !strings.Contains(s, "deleted after it was listed") {
		t.Errorf("skipped: %q", s)
	}
	if _, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: "test"}); !errors.Is(err, pipeline.ErrPartial) {
		t.Errorf("merge: %v, want ErrPartial", err)
	}
}

// TestObjectStoreConditional: a file read through the store and written
// back fails when another writer changed it in between (two pods of one
// shard index appending to its audit trail at once), and a file found
// missing fails when another writer created it; the other's version stays.
func TestObjectStoreConditional(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "out")
	ctx := context.Background()
	st, closeStore, err := pipeline.OpenStore(ctx, "s3://out/c/", srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	write := func(name, data string) error {
		w, err := st.Create(ctx, name)
		if err != nil {
			return err
		}
		w.Write([]byte(data))
		_, err = w.Commit()
		return err
	}
	for _, tc := range []struct{ name, before string }{{"changed.jsonl", "one\n"}, {"created.jsonl", ""}} {
		if tc.before != "" {
			srv.Put(t, "out", "c/"+tc.name, []byte(tc.before))
		}
		f, err := st.Open(ctx, tc.name)
		if tc.before == "" && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: open of a missing object: %v", tc.name, err)
		}
		if err == nil {
			f.Close()
		}
		srv.Put(t, "out", "c/"+tc.name, []byte("the other writer's\n"))
		if err := write(tc.name, tc.before+"mine\n"); err == nil || !strings.Contains(err.Error(), "another run wrote it") {
			t.Errorf("%s: write after another writer: %v", tc.name, err)
		}
		if b, _ := srv.Get(t, "out", "c/"+tc.name); string(b) != "the other writer's\n" {
			t.Errorf("%s: now %q", tc.name, b)
		}
	}
	// A name never read is written whatever is there; a name written is
	// written again on the condition of its own version.
	for range 2 {
		if err := write("plain.json", "{}"); err != nil {
			t.Fatal(err)
		}
	}
	if ents, err := st.List(ctx, ""); err != nil || len(ents) != 3 {
		t.Errorf("List = %v, %v", ents, err)
	}
}
