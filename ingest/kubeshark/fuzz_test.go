package kubeshark

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/apicalls"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/l4"
)

// FuzzParseResult: any tools/call result bytes give a Result or an error,
// never a panic, and the helpers that dig into it stay safe.
func FuzzParseResult(f *testing.F) {
	f.Add([]byte(`{"content":[{"type":"text","text":"{\n  \"id\": \"abc\",\n  \"status\": \"completed\"\n}"}]}`))
	f.Add([]byte(`{"content":[{"type":"text","text":"/snapshots/abc/data.pcap"}],"isError":true}`))
	f.Add([]byte(`{"content":[{"type":"resource","resource":{"uri":"file:///x.pcap","blob":"1MOyoQIABAA="}}]}`))
	f.Add([]byte(`{"content":[{"type":"resource_link","uri":"http://h/x.pcap","size":12}],"structuredContent":{"path":"/a"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := parseResult(raw)
		if err != nil {
			return
		}
		_ = r.ErrorText()
		_ = snapshotID(r)
		_ = capturePath(r)
	})
}

// FuzzParseAnswers: saved list_l4_flows, list_workloads and list_api_calls answers of any
// shape parse or fail cleanly.
func FuzzParseAnswers(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("standin", "testdata", "l4flows.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"workloads":[{"name":"a","namespace":"n","ips":[{"ip":"10.0.0.1","timestamp":1}]}]}`))
	f.Add([]byte(`{"ips":[{"ip":"10.0.0.1","records":[{"name":"a","namespace":"n","timestamp":"2024-01-01T00:00:00Z"}]}]}`))
	f.Add([]byte(`[{"proto":"tcp","client":{"ip":"1.2.3.4"},"server":{"ip":"5.6.7.8","port":80}}]`))
	f.Add([]byte(`{"calls":[{"id":"a","ts":1,"src":{"ip":"10.0.0.1"},"dst":{"ip":"10.0.0.2","port":80},"proto":"http","method":"GET","path":"/","status":200,"latency_ms":3}],"total":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l4.ParseFlows(b)
		l4.ParseWorkloads(b)
		apicalls.Parse(b)
	})
}

// FuzzOpenEvidence: any manifest.json in a directory gives an evidence.Dir whose
// files all lie inside the directory, or an error.
func FuzzOpenEvidence(f *testing.F) {
	f.Add([]byte(`{"kind":"flowproof-evidence","kubeshark":{"captures":[{"file":"captures/a.pcap"}],"evidence":[{"tool":"list_l4_flows","file":"kubeshark/list_l4_flows.json"}]}}`))
	f.Add([]byte(`{"kind":"flowproof-evidence","kubeshark":{"captures":[{"file":"../../etc/passwd"}]}}`))
	f.Add([]byte(`{"kind":"flowproof-evidence","kubeshark":{"evidence":[{"tool":"x","file":"/abs/path"}]}}`))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, evidence.ManifestFile), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := evidence.Open(dir)
		if err != nil {
			return
		}
		paths := []string{}
		for _, c := range e.Captures() {
			paths = append(paths, c.Path)
		}
		for _, ev := range e.Manifest.Kubeshark.Evidence {
			paths = append(paths, e.File(ev.Tool))
		}
		for _, p := range paths {
			rel, err := filepath.Rel(dir, p)
			if err != nil || !filepath.IsLocal(rel) {
				t.Fatalf("evidence file %q escapes the directory %q", p, dir)
			}
		}
	})
}

// TestOpenEvidenceRejectsEscapingPaths: a manifest naming a file outside its
// directory (edited or hostile) is refused with a message naming the entry.
func TestOpenEvidenceRejectsEscapingPaths(t *testing.T) {
	for _, file := range []string{"../../etc/passwd", "/etc/passwd", "captures/../../x"} {
		dir := t.TempDir()
		m := `{"kind":"flowproof-evidence","kubeshark":{"captures":[{"file":"` + file + `"}]}}`
		if err := os.WriteFile(filepath.Join(dir, evidence.ManifestFile), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := evidence.Open(dir); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%q: err = %v, want a refusal naming it", file, err)
		}
	}
}

// FuzzOrigin: a URL is trusted only when its origin is exactly one the
// user gave (the Hub's here); userinfo, odd ports, case and paths cannot
// smuggle another host in.
func FuzzOrigin(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8899/api/x", "http://127.0.0.1:8899@evil.example/x", "http://evil.example/http://127.0.0.1:8899", "HTTP://127.0.0.1:8899/", "http://127.0.0.1:88990/", "file:///etc/passwd", "//127.0.0.1:8899/x", "http://[::1]:8899/"} {
		f.Add(s)
	}
	p := &puller{req: Request{HubURL: "http://127.0.0.1:8899"}}
	f.Fuzz(func(t *testing.T, raw string) {
		if !p.trusted(raw) {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("trusted %q, which does not parse: %v", raw, err)
		}
		if u.Hostname() != "127.0.0.1" || (u.Port() != "8899") || (u.Scheme != "http" && u.Scheme != "HTTP") {
			t.Fatalf("trusted %q: host %q port %q scheme %q", raw, u.Hostname(), u.Port(), u.Scheme)
		}
	})
}
