// Package s3test runs a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw, pinned in the Makefile) with its posix
// backend on a temporary directory, listening on loopback. It is not an
// in-process fake: requests go through HTTP, signatures are checked, and
// multipart uploads, conditional writes and errors are versitygw's own.
//
// The binary is found at $FLOWPROOF_VERSITYGW, else bin/versitygw at the
// module's root (`make versitygw` puts it there), else on PATH. When it is
// absent, a test skips with how to install it, unless FLOWPROOF_REQUIRE_S3
// is set (make test sets it), and then it fails.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flowproof/flowproof/ingest/objstore"
)

// Credentials of the server's root user (test values, not secrets).
const (
	AccessKey = "flowproofTESTKEY"
	SecretKey = "flowproof-test-secret-3c6f1e0b9d"
)

// Install tells how to get the binary.
const Install = "install it with `make versitygw` (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 into bin/) or set FLOWPROOF_VERSITYGW to its path"

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Root     string // the backend directory: one subdirectory per bucket
	client   *s3.Client
}

// Binary returns the versitygw binary's path, or "".
func Binary() string {
	if p := os.Getenv("FLOWPROOF_VERSITYGW"); p != "" {
		return p
	}
	if root := moduleRoot(); root != "" {
		p := filepath.Join(root, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	return ""
}

// moduleRoot is the directory of flowproof's go.mod above the working
// directory, or "".
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/flowproof/flowproof\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Start runs a server for the test, stopped when it ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "versitygw (the S3 test server) is not installed: " + Install
		if os.Getenv("FLOWPROOF_REQUIRE_S3") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "versitygw.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	var addr string
	var cmd *exec.Cmd
	for try := 0; ; try++ {
		addr = freeAddr(t)
		cmd = exec.Command(bin, "--access", AccessKey, "--secret", SecretKey, "--port", addr, "posix", root)
		cmd.Stdout, cmd.Stderr = logf, logf
		dieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		if waitListening(addr, 15*time.Second) {
			break
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if try == 2 {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("versitygw did not listen on %s; its log:\n%s", addr, log)
		}
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	s := &Server{Endpoint: "http://" + addr, Root: root}
	s.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true, Region: objstore.DefaultRegion,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}, nil
		}),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	return s
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitListening waits until addr accepts connections.
func waitListening(addr string, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// Config is a client configuration for the server, with the root user's
// credentials.
func (s *Server) Config() objstore.Config {
	return objstore.Config{Endpoint: s.Endpoint, PathStyle: true, Region: objstore.DefaultRegion, AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
}

// Env is the environment the CLI reads for the server (AWS_*).
func (s *Server) Env() map[string]string {
	return map[string]string{"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey, "AWS_REGION": objstore.DefaultRegion}
}

// Bucket creates a bucket.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	if _, err := s.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Put stores an object in one PUT.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if _, err := s.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// PutFile stores a local file.
func (s *Server) PutFile(t testing.TB, bucket, key, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Put(t, bucket, key, b)
}

// Get returns an object's bytes, or nil and false when it is absent.
func (s *Server) Get(t testing.TB, bucket, key string) ([]byte, bool) {
	t.Helper()
	out, err := s.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return nil, false
		}
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(out.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), true
}

// Keys lists every key in a bucket, sorted.
func (s *Server) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list s3://%s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// Uploads lists the multipart uploads in progress (not completed, not
// aborted) in a bucket.
func (s *Server) Uploads(t testing.TB, bucket string) []string {
	t.Helper()
	out, err := s.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list uploads of s3://%s: %v", bucket, err)
	}
	var ups []string
	for _, u := range out.Uploads {
		ups = append(ups, fmt.Sprintf("%s (%s)", aws.ToString(u.Key), aws.ToString(u.UploadId)))
	}
	return ups
}

// Delete removes an object.
func (s *Server) Delete(t testing.TB, bucket, key string) {
	t.Helper()
	if _, err := s.client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("delete s3://%s/%s: %v", bucket, key, err)
	}
}
