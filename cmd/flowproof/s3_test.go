package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/internal/reporttables"
	"github.com/flowproof/flowproof/internal/s3test"
	"github.com/flowproof/flowproof/internal/testcaptures"
)

// TestAnalyzeS3CLI: analyze reads s3:// inputs and writes -o s3:// with
// the flags and the AWS environment; exit codes are analyze's (0, 3 when
// an input is bad, 1 when nothing could be read, 2 for bad flags), and no
// credential reaches the terminal.
func TestAnalyzeS3CLI(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "caps")
	srv.Bucket(t, "out")
	dir := t.TempDir()
	for _, name := range []string{"tcp-sf.pcap", "udp-dns.pcap"} {
		p := writeCase(t, dir, name)
		srv.PutFile(t, "caps", "in/"+name, p)
	}
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	s3 := []string{"--s3-endpoint", srv.Endpoint, "--s3-path-style", "--quiet"}
	local := t.TempDir()
	if code, _, stderr := run(t, "analyze", "-o", local, "--quiet", dir); code != 0 {
		t.Fatalf("local analyze: exit %d: %s", code, stderr)
	}
	want, err := os.ReadFile(filepath.Join(local, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		saying string
	}{
		{name: "prefix to prefix", args: []string{"analyze", "-o", "s3://out/cli", "s3://caps/in/"}, code: 0, saying: "-> s3://out/cli"},
		{name: "one object and a missing bucket", args: []string{"analyze", "-o", "s3://out/partial", "s3://caps/in/tcp-sf.pcap", "s3://nocaps/x.pcap"}, code: 3, saying: `the bucket "nocaps" does not exist`},
		{name: "wrong secret", args: []string{"analyze", "-o", "s3://out/wrong", "s3://caps/in/"}, env: map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret-value-1234"}, code: 1, saying: "AWS_SECRET_ACCESS_KEY"},
		{name: "small parts", args: []string{"analyze", "--s3-part-size", "1MiB", "-o", "s3://out/x", "s3://caps/in/"}, code: 2, saying: "5 MiB"},
		{name: "bad output address", args: []string{"analyze", "-o", "s3://Out/x", "s3://caps/in/"}, code: 2, saying: "lowercase"},
		{name: "pull to s3", args: []string{"pull", "-o", "s3://out/ev"}, code: 2, saying: "local disk"},
		{name: "verify s3", args: []string{"verify", "s3://out/cli"}, code: 2, saying: "download the prefix first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append(append([]string{}, tt.args[:1]...), append(s3, tt.args[1:]...)...)
			if tt.args[0] != "analyze" {
				args = tt.args
			}
			code, stdout, stderr := run(t, args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.saying) {
				t.Fatalf("exit %d, want %d saying %q:\n%s%s", code, tt.code, tt.saying, stdout, stderr)
			}
			for _, secret := range []string{s3test.SecretKey, "wrong-secret-value-1234", s3test.AccessKey} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("a credential reached the terminal:\n%s%s", stdout, stderr)
				}
			}
		})
	}
	got, ok := srv.Get(t, "out", "cli/flows.parquet")
	if !ok || string(got) != string(want) {
		t.Errorf("flows.parquet from s3:// (%d bytes) differs from the local run's (%d bytes)", len(got), len(want))
	}
	if m, ok := srv.Get(t, "out", "cli/manifest.json"); !ok || strings.Contains(string(m), s3test.SecretKey) || !strings.Contains(string(m), `"etag"`) {
		t.Errorf("manifest.json: present %v, holds the secret or no ETag:\n%s", ok, m)
	}
}

func TestReadAWSEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want awsEnv
	}{
		{"none", nil, awsEnv{}},
		{"keys and region", map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"},
			awsEnv{AccessKeyID: "k", SecretAccessKey: "s", SessionToken: "t", Region: "eu-west-1"}},
		{"default region", map[string]string{"AWS_DEFAULT_REGION": "us-west-2", "AWS_PROFILE": "ci"}, awsEnv{Region: "us-west-2", Profile: "ci"}},
		{"endpoints", map[string]string{"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "http://b:2"}, awsEnv{Endpoint: "http://b:2"}},
		{"generic endpoint", map[string]string{"AWS_ENDPOINT_URL": "http://a:1"}, awsEnv{Endpoint: "http://a:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readAWSEnv(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("readAWSEnv = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestIndexedJobS3 is TestIndexedJob over object storage (a real
// versitygw): the captures under s3://caps/in/, n pods told their shard by
// the Job's environment writing s3://out/job/, one a process killed midway
// and run again, then merge s3://out/job with the --s3-* flags. The merged
// report's tables are a single local analyze's; an edited shard manifest
// in the bucket fails merge (exit 1) naming it, and nothing changes.
func TestIndexedJobS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "caps")
	srv.Bucket(t, "out")
	inputs, err := testcaptures.TwoDays("../..")
	if err != nil {
		t.Fatal(err)
	}
	// The same files locally, in the key order, for the single run.
	local := t.TempDir()
	for _, in := range inputs {
		files := []string{in}
		if st, err := os.Stat(in); err == nil && st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(in, "*"))
		}
		for _, f := range files {
			name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(local, filepath.Dir(name)), 0o755)
			if err := os.WriteFile(filepath.Join(local, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			srv.Put(t, "caps", "in/"+name, b)
		}
	}
	var env []string
	for k, v := range srv.Env() {
		t.Setenv(k, v)
		env = append(env, k+"="+v)
	}
	s3 := []string{"--s3-endpoint", srv.Endpoint, "--s3-path-style"}
	single := t.TempDir()
	if code, _, stderr := run(t, "analyze", "--quiet", "--l7", "-o", single, local); code != exitOK {
		t.Fatalf("single analyze: exit %d: %s", code, stderr)
	}

	const n = 3
	args := append([]string{"--quiet", "--l7", "-o", "s3://out/job"}, append(s3, "s3://caps/in/")...)
	shard := func(i int) { t.Helper(); jobShard(t, args, i, n, "-> s3://out/job") }
	shard(0)
	shard(2)
	killAtWork(t, append([]string{"analyze"}, args...), append(env, envJobIndex+"=1", envJobCompletions+"=3")...)
	if _, ok := srv.Get(t, "out", "job/shards/shard=0001/manifest.json"); !ok {
		t.Logf("shard 1 killed before its manifest")
		code, _, stderr := run(t, append([]string{"merge", "s3://out/job"}, s3...)...)
		if code != exitFailed || !strings.Contains(stderr, "shards/shard=0001/manifest.json: missing") {
			t.Errorf("merge without shard 1: exit %d: %s", code, stderr)
		}
	}
	shard(1) // the Job's retry
	code, stdout, stderr := run(t, append([]string{"merge", "s3://out/job"}, s3...)...)
	if code != exitOK || !strings.Contains(stdout, "merged 3 shards") || !strings.Contains(stdout, "-> s3://out/job") {
		t.Fatalf("merge: exit %d: %s%s", code, stdout, stderr)
	}
	w, _ := os.ReadFile(filepath.Join(single, "report.md"))
	g, _ := srv.Get(t, "out", "job/report.md")
	g = bytes.ReplaceAll(g, []byte(" | s3 | "), []byte(" | file | ")) // the inputs' source
	for _, d := range reporttables.Diff(reporttables.Tables(string(w), "outputs"), reporttables.Tables(string(g), "outputs")) {
		t.Error(d)
	}
	if ups := srv.Uploads(t, "out"); len(ups) > 0 {
		t.Errorf("uploads left in progress: %v", ups)
	}

	key := "job/shards/shard=0002/manifest.json"
	b, _ := srv.Get(t, "out", key)
	srv.Put(t, "out", key, bytes.Replace(b, []byte(`"shards": 3`), []byte(`"shards": 3 `), 1))
	before := map[string]string{}
	for _, k := range srv.Keys(t, "out") {
		b, _ := srv.Get(t, "out", k)
		before[k] = string(b)
	}
	if code, _, stderr := run(t, append([]string{"merge", "s3://out/job"}, s3...)...); code != exitFailed || !strings.Contains(stderr, "shards/shard=0002/manifest.json: its SHA-256 is") {
		t.Errorf("merge of an edited manifest: exit %d: %s", code, stderr)
	}
	after := srv.Keys(t, "out")
	for _, k := range after {
		if b, _ := srv.Get(t, "out", k); string(b) != before[k] {
			t.Errorf("a failed merge changed %s", k)
		}
	}
	if len(after) != len(before) {
		t.Errorf("a failed merge changed the keys")
	}
	for _, tt := range []struct{ name, out, saying string }{
		{"missing bucket", "s3://nobucket/job", `the bucket "nobucket" does not exist`},
		{"nothing there", "s3://out/none", "no shard manifest"},
	} {
		if code, _, stderr := run(t, append([]string{"merge", tt.out}, s3...)...); code != exitFailed || !strings.Contains(stderr, tt.saying) {
			t.Errorf("%s: exit %d: %s", tt.name, code, stderr)
		}
	}
}
