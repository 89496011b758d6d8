package pipeline_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/flowproof/flowproof/internal/s3test"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// corpusPicks are public captures the object storage tests add to the
// generated ones: pcap, pcapng and a gzip-compressed pcap.
var corpusPicks = []string{"ndpi/netflix.pcap", "wireshark-wiki/http_capture.pcap", "wireshark-wiki/pcapng-example.pcapng", "zeek/echo-connections.pcap.gz"}

// corpusDir is the shared public corpus beside the project checkout.
var corpusDir = cmp.Or(os.Getenv("FLOWPROOF_CORPUS"), filepath.Join("..", "..", "shared", "corpus", "public"))

// s3Inputs copies the generated captures and, when the shared corpus is
// there, corpusPicks into one flat local directory, and uploads the same
// files under s3://caps/in/. It returns the directory.
func s3Inputs(t *testing.T, srv *s3test.Server) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(genDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(corpusDir); err == nil {
		for _, p := range corpusPicks {
			files = append(files, filepath.Join(corpusDir, p))
		}
	} else {
		t.Logf("%s is missing: only the generated captures are stored", corpusDir)
	}
	srv.Bucket(t, "caps")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		srv.Put(t, "caps", "in/"+name, b)
	}
	return dir
}

// getFile copies a stored object into a new local file, and returns its
// path.
func getFile(t *testing.T, srv *s3test.Server, bucket, key string) string {
	t.Helper()
	b, ok := srv.Get(t, bucket, key)
	if !ok {
		t.Fatalf("no s3://%s/%s", bucket, key)
	}
	p := filepath.Join(t.TempDir(), path.Base(key))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// getManifest reads the manifest stored under prefix.
func getManifest(t *testing.T, srv *s3test.Server, bucket, prefix string) *report.Manifest {
	t.Helper()
	m, err := report.ReadManifest(getFile(t, srv, bucket, prefix+"/"+report.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAnalyzeS3 runs analyze from s3:// into s3:// and checks it against
// the same captures analyzed from local files: the same flows.parquet
// bytes, the same input hashes, every stored output with the hash the
// manifest gives it, the audit trail appended to on a second run, and no
// credential anywhere in the outputs.
func TestAnalyzeS3(t *testing.T) {
	srv := s3test.Start(t)
	local := s3Inputs(t, srv)
	srv.Bucket(t, "out")
	ctx := context.Background()
	localOut := t.TempDir()
	want, err := pipeline.Analyze(ctx, []string{local}, pipeline.Options{Out: localOut, Version: "test", Command: []string{"test"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := pipeline.Options{Out: "s3://out/runs/one", S3: srv.Config(), Version: "test", Command: []string{"test"}}
	for run := 1; run <= 2; run++ {
		got, err := pipeline.Analyze(ctx, []string{"s3://caps/in/"}, opts)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if got.Dir != "s3://out/runs/one" || got.Flows != want.Flows || got.Packets != want.Packets || got.Captures != want.Captures {
			t.Fatalf("run %d: result %+v, local %+v", run, got, want)
		}
	}
	t.Logf("%d captures, %d flows, %d packets, from S3 as from local files", want.Captures, want.Flows, want.Packets)
	m := getManifest(t, srv, "out", "runs/one")
	if len(m.Inputs) != len(want.Manifest.Inputs) {
		t.Fatalf("%d inputs, local %d", len(m.Inputs), len(want.Manifest.Inputs))
	}
	for i, in := range m.Inputs {
		w := want.Manifest.Inputs[i]
		if in.Path != "s3://caps/in/"+w.Name || in.Name != w.Name || in.SHA256 != w.SHA256 || in.Size != w.Size ||
			in.Packets != w.Packets || in.Format != w.Format || in.ETag == "" || in.Source != "s3" || in.Status != report.StatusOK {
			t.Errorf("input %d: %+v\nlocal: %+v", i, in, w)
		}
	}
	localHash := map[string]string{}
	for _, o := range want.Manifest.Outputs {
		localHash[o.Name] = o.SHA256
	}
	for _, o := range m.Outputs {
		b, ok := srv.Get(t, "out", "runs/one/"+o.Name)
		if !ok || sha256Hex(b) != o.SHA256 || int64(len(b)) != o.Size {
			t.Errorf("%s: stored %d bytes that do not hash to the manifest's %s", o.Name, len(b), o.SHA256)
		}
		if o.Name == "flows.parquet" && o.SHA256 != localHash[o.Name] {
			t.Errorf("flows.parquet from S3 differs from the local run's")
		}
	}
	trail, _ := srv.Get(t, "out", "runs/one/"+provenance.AuditFileName)
	if n := bytes.Count(trail, []byte("\n")); n != 2 {
		t.Errorf("the audit trail has %d entries after two runs, want 2", n)
	}
	// The stored outputs verify as a local directory would.
	dl := t.TempDir()
	for _, k := range srv.Keys(t, "out") {
		b, _ := srv.Get(t, "out", k)
		p := filepath.Join(dl, filepath.FromSlash(strings.TrimPrefix(k, "runs/one/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{s3test.SecretKey, s3test.AccessKey} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds a credential", k)
			}
		}
		if bytes.Contains(b, []byte("flowproof-out-")) {
			t.Errorf("%s names the local staging directory", k)
		}
	}
	if v, err := report.Verify(dl); err != nil || !v.OK() {
		t.Errorf("verify the downloaded outputs: %+v %v", v, err)
	}
	if ups := srv.Uploads(t, "out"); len(ups) > 0 {
		t.Errorf("uploads left in progress: %v", ups)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// hookProgress runs hook once, when the inputs are listed and before any
// capture is opened.
type hookProgress struct {
	hook  func()
	mu    sync.Mutex
	warns []string
}

func (p *hookProgress) Run(int) { p.hook() }
func (p *hookProgress) Start(_ int, _ string, c *ingest.Capture) analyze.PacketSource {
	return c
}
func (p *hookProgress) Finish(int) {}
func (p *hookProgress) Warn(msg string) {
	p.mu.Lock()
	p.warns = append(p.warns, msg)
	p.mu.Unlock()
}
func (p *hookProgress) Stop() {}

// TestAnalyzeS3BadInput: a missing bucket, an object deleted between the
// listing and its read, wrong credentials, and an output bucket that does
// not exist each give a clear error naming the address; the other inputs
// are still analyzed (ErrPartial), and no credential shows.
func TestAnalyzeS3BadInput(t *testing.T) {
	srv := s3test.Start(t)
	s3Inputs(t, srv)
	srv.Bucket(t, "out")
	ctx := context.Background()
	wrong := srv.Config()
	wrong.SecretAccessKey = "not-the-secret-9f8e7d"

	t.Run("missing bucket and deleted object", func(t *testing.T) {
		prog := &hookProgress{hook: func() { srv.Delete(t, "caps", "in/tcp-sf.pcap") }}
		res, err := pipeline.Analyze(ctx, []string{"s3://nocaps/in/", "s3://caps/in/"}, pipeline.Options{Out: "s3://out/bad", S3: srv.Config(), Progress: prog, Jobs: 1})
		if !errors.Is(err, pipeline.ErrPartial) || res == nil || res.Bad != 2 {
			t.Fatalf("Analyze = %+v, %v; want ErrPartial with 2 bad inputs", res, err)
		}
		all := strings.Join(prog.warns, "\n")
		for _, want := range []string{`s3://nocaps/in/: list: NoSuchBucket`, `the bucket "nocaps" does not exist`,
			"s3://caps/in/tcp-sf.pcap: get: NoSuchKey", "deleted after it was listed"} {
			if !strings.Contains(all, want) {
				t.Errorf("the warnings do not say %q:\n%s", want, all)
			}
		}
		m := getManifest(t, srv, "out", "bad")
		var failed []string
		for _, in := range m.Inputs {
			if in.Status == report.StatusFailed {
				failed = append(failed, in.Path)
			}
		}
		if len(failed) != 1 || failed[0] != "s3://caps/in/tcp-sf.pcap" || m.Flows == 0 {
			t.Errorf("failed inputs %v, %d flows", failed, m.Flows)
		}
	})
	t.Run("key with an escape", func(t *testing.T) {
		srv.Put(t, "caps", "evil/\x1b[2Jcleared.pcap", []byte("not a capture\n"))
		prog := &hookProgress{hook: func() {}}
		_, err := pipeline.Analyze(ctx, []string{"s3://caps/evil/", "s3://caps/in/udp-dns.pcap"}, pipeline.Options{Out: "s3://out/evil", S3: srv.Config(), Progress: prog})
		all := strings.Join(prog.warns, "\n")
		// versitygw lists the key with U+FFFD for the escape (AWS S3 sends
		// it URL-encoded, as asked), so the read fails: either way, no
		// escape reaches the terminal or the manifest.
		if !errors.Is(err, pipeline.ErrPartial) || strings.Contains(all, "\x1b") || !strings.Contains(all, "s3://caps/evil/") {
			t.Fatalf("Analyze: %v, warnings %q; want the object named, without its escape", err, all)
		}
		if m, _ := srv.Get(t, "out", "evil/"+report.ManifestFile); bytes.Contains(m, []byte("\\u001b")) || bytes.Contains(m, []byte("\x1b")) {
			t.Errorf("the manifest holds the raw escape:\n%s", m)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		prog := &hookProgress{hook: func() {}}
		_, err := pipeline.Analyze(ctx, []string{"s3://caps/in/"}, pipeline.Options{Out: t.TempDir(), S3: wrong, Progress: prog})
		all := strings.Join(prog.warns, "\n")
		if err == nil || errors.Is(err, pipeline.ErrPartial) || !strings.Contains(all, "s3://caps/in/: list: SignatureDoesNotMatch") ||
			!strings.Contains(all, "AWS_SECRET_ACCESS_KEY") || strings.Contains(all, wrong.SecretAccessKey) {
			t.Fatalf("Analyze: %v, warnings %q; want a failure saying what to check", err, all)
		}
	})
	t.Run("wrong credentials for the output", func(t *testing.T) {
		prog := &hookProgress{hook: func() { t.Error("the analysis started") }}
		_, err := pipeline.Analyze(ctx, []string{genDir}, pipeline.Options{Out: "s3://out/x", S3: wrong, Progress: prog})
		if !errors.Is(err, objstore.ErrAccess) || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") || strings.Contains(err.Error(), wrong.SecretAccessKey) {
			t.Fatalf("Analyze: %v; want an access error that names what to check", err)
		}
	})
	t.Run("missing output bucket", func(t *testing.T) {
		_, err := pipeline.Analyze(ctx, []string{genDir}, pipeline.Options{Out: "s3://noout/x", S3: srv.Config()})
		if !errors.Is(err, objstore.ErrNoBucket) || !strings.Contains(err.Error(), "s3://noout/x/audit.jsonl") {
			t.Fatalf("Analyze: %v; want ErrNoBucket naming the output", err)
		}
	})
	t.Run("audit trail written meanwhile", func(t *testing.T) {
		prog := &hookProgress{hook: func() { srv.Put(t, "out", "race/audit.jsonl", []byte("{}\n")) }}
		_, err := pipeline.Analyze(ctx, []string{genDir}, pipeline.Options{Out: "s3://out/race", S3: srv.Config(), Progress: prog})
		if !errors.Is(err, objstore.ErrChanged) || !strings.Contains(err.Error(), "another run wrote") {
			t.Fatalf("Analyze: %v; want ErrChanged", err)
		}
		if b, _ := srv.Get(t, "out", "race/audit.jsonl"); string(b) != "{}\n" {
			t.Errorf("the other run's trail was overwritten: %q", b)
		}
	})
	if ups := srv.Uploads(t, "out"); len(ups) > 0 {
		t.Errorf("uploads left in progress: %v", ups)
	}
}

// TestAnalyzeS3Canceled: a run canceled midway (SIGTERM in the CLI) stops
// streaming its input and stores nothing under the output prefix.
func TestAnalyzeS3Canceled(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "caps")
	srv.Bucket(t, "out")
	b, err := capgen.Bulk(50_000)
	if err != nil {
		t.Fatal(err)
	}
	srv.Put(t, "caps", "big.pcap", b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var read atomic.Int64
	res, err := pipeline.Analyze(ctx, []string{"s3://caps/big.pcap"}, pipeline.Options{Out: "s3://out/run", S3: srv.Config(), Jobs: 1,
		Progress: cancelProgress{cancel: cancel, after: 1000, read: &read}})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Analyze = %v, %v; want context.Canceled and no result", res, err)
	}
	if n := read.Load(); n > 10_000 {
		t.Errorf("%d of 50000 packets read after the cancel at 1,000", n)
	}
	if keys := srv.Keys(t, "out"); len(keys) > 0 {
		t.Errorf("stored after the cancel: %v", keys)
	}
}
