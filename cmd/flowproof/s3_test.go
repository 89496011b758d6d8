package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/internal/s3test"
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
