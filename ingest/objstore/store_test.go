package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/internal/s3test"
)

func newClient(t *testing.T, cfg objstore.Config) *objstore.Client {
	t.Helper()
	c, err := objstore.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomBytes(n int, seed uint64) []byte {
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestListOpen(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "caps")
	for _, k := range []string{"in/b.pcap", "in/a.pcap", "in/sub/c.pcap", "other/d.pcap"} {
		srv.Put(t, "caps", k, []byte("bytes of "+k))
	}
	c := newClient(t, srv.Config())
	ctx := context.Background()
	objs, err := c.List(ctx, objstore.URL{Bucket: "caps", Key: "in/"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.URL.Key)
		if o.Size != int64(len("bytes of "+o.URL.Key)) || o.ETag == "" || strings.Contains(o.ETag, `"`) {
			t.Errorf("%s: size %d, ETag %q", o.URL, o.Size, o.ETag)
		}
	}
	if want := []string{"in/a.pcap", "in/b.pcap", "in/sub/c.pcap"}; !slices.Equal(keys, want) {
		t.Fatalf("List = %v, want %v", keys, want)
	}
	r, err := c.Open(ctx, objs[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "bytes of in/a.pcap" || r.ETag != objs[0].ETag || r.Size != objs[0].Size {
		t.Fatalf("Open: %q, %v, %+v", b, err, r.Object)
	}
	st, err := c.Stat(ctx, objs[1].URL)
	if err != nil || st.ETag != objs[1].ETag || st.Size != objs[1].Size {
		t.Fatalf("Stat = %+v, %v; listed %+v", st, err, objs[1])
	}
}

// TestBadInput: each failure names the object and says what to do, with
// the kind callers test for, and never shows a credential.
func TestBadInput(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "caps")
	srv.Put(t, "caps", "a.pcap", []byte("first"))
	ctx := context.Background()
	c := newClient(t, srv.Config())
	listed, err := c.List(ctx, objstore.URL{Bucket: "caps"})
	if err != nil || len(listed) != 1 {
		t.Fatal(listed, err)
	}
	wrongSecret := srv.Config()
	wrongSecret.SecretAccessKey = "wrong-secret-5e1d7a"
	unknownKey := srv.Config()
	unknownKey.AccessKeyID = "NOSUCHKEY0000"
	tests := []struct {
		name   string
		cfg    objstore.Config
		setup  func()
		op     func(c *objstore.Client) error
		kind   error
		saying string
	}{
		{name: "missing bucket", cfg: srv.Config(), kind: objstore.ErrNoBucket, saying: "s3://nocaps/",
			op: func(c *objstore.Client) error { _, err := c.List(ctx, objstore.URL{Bucket: "nocaps"}); return err }},
		{name: "wrong secret", cfg: wrongSecret, kind: objstore.ErrAccess, saying: "AWS_SECRET_ACCESS_KEY",
			op: func(c *objstore.Client) error { _, err := c.List(ctx, objstore.URL{Bucket: "caps"}); return err }},
		{name: "unknown access key", cfg: unknownKey, kind: objstore.ErrAccess, saying: "AWS_ACCESS_KEY_ID",
			op: func(c *objstore.Client) error { _, err := c.List(ctx, objstore.URL{Bucket: "caps"}); return err }},
		{name: "deleted after listing", cfg: srv.Config(), kind: objstore.ErrNoObject, saying: "s3://caps/a.pcap: get",
			setup: func() { srv.Delete(t, "caps", "a.pcap") },
			op:    func(c *objstore.Client) error { _, err := c.Open(ctx, listed[0]); return err }},
		{name: "changed after listing", cfg: srv.Config(), kind: objstore.ErrChanged, saying: "run again",
			setup: func() { srv.Put(t, "caps", "a.pcap", []byte("second version")) },
			op:    func(c *objstore.Client) error { _, err := c.Open(ctx, listed[0]); return err }},
		{name: "unreachable", cfg: objstore.Config{Endpoint: "http://127.0.0.1:1", PathStyle: true, AccessKeyID: "k", SecretAccessKey: "s"}, kind: objstore.ErrUnreachable, saying: "--s3-endpoint",
			op: func(c *objstore.Client) error { _, err := c.List(ctx, objstore.URL{Bucket: "caps"}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			err := tt.op(newClient(t, tt.cfg))
			var oe *objstore.Error
			if !errors.Is(err, tt.kind) || !errors.As(err, &oe) || !strings.Contains(err.Error(), tt.saying) || oe.Hint == "" {
				t.Fatalf("got %v; want a *objstore.Error of kind %q saying %q, with a hint", err, tt.kind, tt.saying)
			}
			for _, secret := range []string{tt.cfg.SecretAccessKey, tt.cfg.AccessKeyID} {
				if len(secret) >= 8 && strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a credential: %v", err)
				}
			}
		})
	}
}

func TestUploadRoundTrip(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "out")
	cfg := srv.Config()
	cfg.PartSize, cfg.Concurrency = objstore.MinPartSize, 2
	c := newClient(t, cfg)
	tests := []struct {
		name  string
		size  int
		parts int
	}{
		{"empty", 0, 0},
		{"small", 1000, 0},
		{"one part exactly", objstore.MinPartSize, 1},
		{"parts and a short last", 3*objstore.MinPartSize + 12345, 4},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(tt.size, uint64(i))
			u := objstore.URL{Bucket: "out", Key: "x/" + strings.ReplaceAll(tt.name, " ", "-")}
			up, err := c.Upload(context.Background(), u, bytes.NewReader(data), objstore.Put{})
			if err != nil {
				t.Fatal(err)
			}
			if up.Size != int64(tt.size) || up.SHA256 != sha(data) || up.Parts != tt.parts || up.ETag == "" {
				t.Errorf("Uploaded = %+v; want size %d, parts %d, sha256 %s", up, tt.size, tt.parts, sha(data))
			}
			got, ok := srv.Get(t, "out", u.Key)
			if !ok || !bytes.Equal(got, data) {
				t.Fatalf("stored %d bytes (present %v), want %d", len(got), ok, len(data))
			}
		})
	}
}

// TestUploadMemoryBound: a stream of many parts never has more than
// Concurrency part buffers alive.
func TestUploadMemoryBound(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "out")
	for _, conc := range []int{1, 3} {
		cfg := srv.Config()
		cfg.PartSize, cfg.Concurrency = objstore.MinPartSize, conc
		c := newClient(t, cfg)
		const size = 7*objstore.MinPartSize + 1
		data := randomBytes(size, 9)
		up, err := c.Upload(context.Background(), objstore.URL{Bucket: "out", Key: "big"}, iotestOneByteAtATimeish(data), objstore.Put{})
		if err != nil {
			t.Fatal(err)
		}
		if up.Parts != 8 || up.SHA256 != sha(data) {
			t.Fatalf("Uploaded = %+v", up)
		}
		if peak := objstore.PeakBuffers(c); peak > int64(conc) || peak < 1 {
			t.Errorf("concurrency %d: %d part buffers were alive at once", conc, peak)
		}
	}
}

// iotestOneByteAtATimeish returns a reader giving short reads, as a pipe
// or a network stream does.
func iotestOneByteAtATimeish(b []byte) io.Reader { return &shortReader{b: b} }

type shortReader struct{ b []byte }

func (r *shortReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 100_000)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// stallReader gives n bytes, then blocks until its context ends.
type stallReader struct {
	ctx  context.Context
	left int
	r    io.Reader
	fail error // returned after the bytes instead of blocking, when set
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.left <= 0 {
		if s.fail != nil {
			return 0, s.fail
		}
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	n, err := s.r.Read(p[:min(len(p), s.left)])
	s.left -= n
	return n, err
}

// TestUploadInterrupted: an upload canceled midway, or whose source fails,
// leaves no object (or the earlier one untouched) and no upload in progress.
func TestUploadInterrupted(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "out")
	srv.Put(t, "out", "kept", []byte("earlier content"))
	cfg := srv.Config()
	cfg.PartSize, cfg.Concurrency = objstore.MinPartSize, 2
	c := newClient(t, cfg)
	data := randomBytes(4*objstore.MinPartSize, 3)
	for _, tt := range []struct{ name, key string }{{"cancel new", "new"}, {"cancel replacing", "kept"}, {"source fails", "failed"}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := &stallReader{ctx: ctx, left: 2*objstore.MinPartSize + 10, r: bytes.NewReader(data)}
			if tt.key == "failed" {
				src.fail = errors.New("disk on fire")
			} else {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			_, err := c.Upload(ctx, objstore.URL{Bucket: "out", Key: tt.key}, src, objstore.Put{})
			if err == nil {
				t.Fatal("an interrupted upload succeeded")
			}
			if tt.key == "failed" && !strings.Contains(err.Error(), "disk on fire") {
				t.Errorf("error %v does not name the source's failure", err)
			}
			got, ok := srv.Get(t, "out", tt.key)
			if tt.key == "kept" {
				if string(got) != "earlier content" {
					t.Errorf("the earlier object became %d bytes", len(got))
				}
			} else if ok {
				t.Errorf("an object of %d bytes is visible", len(got))
			}
			if ups := srv.Uploads(t, "out"); len(ups) > 0 {
				t.Errorf("uploads left in progress: %v", ups)
			}
		})
	}
}

func TestConditionalUpload(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "out")
	c := newClient(t, srv.Config())
	ctx := context.Background()
	u := objstore.URL{Bucket: "out", Key: "audit.jsonl"}
	first, err := c.Upload(ctx, u, strings.NewReader("one\n"), objstore.Put{IfAbsent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upload(ctx, u, strings.NewReader("lost\n"), objstore.Put{IfAbsent: true}); !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("a second create-if-absent: %v, want ErrChanged", err)
	}
	if _, err := c.Upload(ctx, u, strings.NewReader("one\ntwo\n"), objstore.Put{IfMatch: first.ETag}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upload(ctx, u, strings.NewReader("one\nthree\n"), objstore.Put{IfMatch: first.ETag}); !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("a write over a changed object: %v, want ErrChanged", err)
	}
	if got, _ := srv.Get(t, "out", u.Key); string(got) != "one\ntwo\n" {
		t.Errorf("object = %q", got)
	}
}

func TestPublishAndDelete(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "out")
	for _, k := range []string{"run/shards/shard=0001/old.parquet", "run/shards/shard=0002/keep.parquet", "run/elsewhere.txt",
		"run/flows/date=2026-12-01/shard=0001/part-0.parquet", "run/flows/date=2026-12-01/shard=0002/part-0.parquet",
		"run/flows/date=2026-12-02/shard=0001/part-0.parquet", "run/flows/date=2026-12-02/shard=0001/part-1.parquet"} {
		srv.Put(t, "out", k, []byte("old"))
	}
	dir := t.TempDir()
	for _, rel := range []string{"manifest.json", "shards/shard=0001/part-0.parquet", "a.md", "audit.jsonl", "flows/date=2026-12-02/shard=0001/part-0.parquet"} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("new "+rel), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, srv.Config())
	done, err := c.Publish(context.Background(), objstore.Publication{
		Dir: dir, To: objstore.URL{Bucket: "out", Key: "run"},
		Last: []string{"manifest.json", "audit.jsonl"}, Owned: []string{"shards/shard=0001/", "flows/date=*/shard=0001/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, u := range done {
		order = append(order, u.URL.Key)
		if u.SHA256 != sha([]byte("new "+strings.TrimPrefix(u.URL.Key, "run/"))) {
			t.Errorf("%s: SHA-256 %s", u.URL, u.SHA256)
		}
	}
	if want := []string{"run/a.md", "run/flows/date=2026-12-02/shard=0001/part-0.parquet", "run/shards/shard=0001/part-0.parquet", "run/manifest.json", "run/audit.jsonl"}; !slices.Equal(order, want) {
		t.Errorf("upload order %v, want %v", order, want)
	}
	// shard 1's stale parts went, on every date; shard 2's stayed.
	want := []string{"run/a.md", "run/audit.jsonl", "run/elsewhere.txt",
		"run/flows/date=2026-12-01/shard=0002/part-0.parquet", "run/flows/date=2026-12-02/shard=0001/part-0.parquet",
		"run/manifest.json", "run/shards/shard=0001/part-0.parquet", "run/shards/shard=0002/keep.parquet"}
	if got := srv.Keys(t, "out"); !slices.Equal(got, want) {
		t.Errorf("keys after publishing %v, want %v", got, want)
	}
	if _, err := c.Publish(context.Background(), objstore.Publication{Dir: dir, To: objstore.URL{Bucket: "out", Key: "run"}, Owned: []string{"flows/[/"}}); err == nil {
		t.Error("a bad owned pattern was accepted")
	}
	if err := c.Delete(context.Background(), "out", []string{"run/a.md", "run/not-there"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Get(t, "out", "run/a.md"); ok {
		t.Error("Delete left the object")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		cfg    objstore.Config
		saying string
	}{
		{"small parts", objstore.Config{PartSize: 1 << 20}, "5 MiB"},
		{"no concurrency", objstore.Config{Concurrency: -1}, "concurrency"},
		{"endpoint without scheme", objstore.Config{Endpoint: "localhost:7070"}, "http://host:port"},
		{"credentials in the endpoint", objstore.Config{Endpoint: "http://key:topsecret@localhost:7070"}, "AWS_ACCESS_KEY_ID"},
		{"half the credentials", objstore.Config{AccessKeyID: "k"}, "both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := objstore.New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.saying) || strings.Contains(err.Error(), "topsecret") {
				t.Fatalf("New: %v; want an error saying %q (and no secret)", err, tt.saying)
			}
		})
	}
}

func TestFetch(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "out")
	for _, k := range []string{"run/manifest.json", "run/shards/shard=0001/manifest.json", "run/folder/", "runaway.txt"} {
		data := []byte("content of " + k)
		if strings.HasSuffix(k, "/") {
			data = nil // a folder marker holds nothing
		}
		srv.Put(t, "out", k, data)
	}
	c := newClient(t, srv.Config())
	dir := t.TempDir()
	got, err := c.Fetch(context.Background(), objstore.URL{Bucket: "out", Key: "run"}, dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("Fetch = %v, %v", got, err)
	}
	for _, rel := range []string{"manifest.json", "shards/shard=0001/manifest.json"} {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil || string(b) != "content of run/"+rel {
			t.Errorf("%s: %q, %v", rel, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "runaway.txt")); err == nil {
		t.Error("an object outside the prefix was fetched")
	}
}
