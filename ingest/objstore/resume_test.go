package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/internal/s3test"
)

// cutProxy forwards to the S3 server and cuts the body of the first cuts
// GET answers after after bytes (the connection is dropped, as a network
// does); onCut runs at each cut. It records each GET's Range header.
type cutProxy struct {
	mu     sync.Mutex
	cuts   int
	after  int64
	onCut  func()
	ranges []string
}

type cutBody struct {
	io.ReadCloser
	left  int64
	onCut func()
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.onCut != nil {
			b.onCut()
		}
		return 0, errors.New("cut by the test proxy")
	}
	n, err := b.ReadCloser.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

func (p *cutProxy) start(t *testing.T, backend string) string {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u) // keeps the Host header, which the client signed
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet || resp.Request.URL.Query().Has("list-type") {
			return nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.ranges = append(p.ranges, resp.Request.Header.Get("Range"))
		if p.cuts > 0 && resp.StatusCode/100 == 2 {
			p.cuts--
			resp.Body = &cutBody{ReadCloser: resp.Body, left: p.after, onCut: p.onCut}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				panic(v)
			}
		}()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestOpenResumes: a read whose connection drops midway picks up where it
// stopped, of the same version, and gives the object's bytes exactly;
// one whose object changed meanwhile fails with ErrChanged; past the
// resumes allowed, the read fails.
func TestOpenResumes(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "caps")
	data := randomBytes(3<<20, 5)
	ctx := context.Background()
	tests := []struct {
		name   string
		cuts   int
		after  int64
		change bool
		ok     bool
	}{
		{name: "two drops", cuts: 2, after: 1 << 20, ok: true},
		{name: "changed meanwhile", cuts: 1, after: 1 << 20, change: true},
		{name: "too many drops", cuts: 10, after: 256 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Put(t, "caps", "a.pcap", data)
			p := &cutProxy{cuts: tt.cuts, after: tt.after}
			if tt.change {
				p.onCut = func() { srv.Put(t, "caps", "a.pcap", []byte("another version")) }
			}
			cfg := srv.Config()
			cfg.Endpoint = p.start(t, srv.Endpoint)
			c := newClient(t, cfg)
			objs, err := c.List(ctx, objstore.URL{Bucket: "caps", Key: "a.pcap"})
			if err != nil || len(objs) != 1 {
				t.Fatal(objs, err)
			}
			r, err := c.Open(ctx, objs[0])
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if tt.ok {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read %d bytes (equal %v), %v; ranges asked %q", len(got), bytes.Equal(got, data), err, p.ranges)
				}
				if len(p.ranges) != 3 || p.ranges[0] != "" || p.ranges[1] != "bytes=1048576-" || p.ranges[2] != "bytes=2097152-" {
					t.Errorf("ranges asked %q", p.ranges)
				}
				return
			}
			var oe *objstore.Error
			if !errors.Is(err, objstore.ErrChanged) || !errors.As(err, &oe) || oe.URL != objs[0].URL {
				t.Fatalf("read %d bytes, %v; want ErrChanged naming the object", len(got), err)
			}
			t.Log(err)
			if !bytes.Equal(got, data[:len(got)]) {
				t.Error("the bytes before the failure are not the object's")
			}
		})
	}
}
