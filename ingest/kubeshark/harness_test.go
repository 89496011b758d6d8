package kubeshark

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/provenance"
)

var (
	standinOnce sync.Once
	standinPath string
	standinErr  error
	standinDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if standinDir != "" {
		os.RemoveAll(standinDir)
	}
	os.Exit(code)
}

// standinBinary builds the stdio stand-in (kubeshark-standin) once per test run.
func standinBinary(t *testing.T) string {
	t.Helper()
	standinOnce.Do(func() {
		standinDir, standinErr = os.MkdirTemp("", "kubeshark-standin-")
		if standinErr != nil {
			return
		}
		standinPath = filepath.Join(standinDir, "kubeshark")
		out, err := exec.Command("go", "build", "-o", standinPath, "./standin/cmd/kubeshark-standin").CombinedOutput()
		if err != nil {
			standinErr = fmt.Errorf("go build kubeshark-standin: %v\n%s", err, out)
		}
	})
	if standinErr != nil {
		t.Fatal(standinErr)
	}
	return standinPath
}

var transports = []string{"stdio", "http"}

// fixture is a Hub and an MCP endpoint in front of it.
type fixture struct {
	hub *standin.Hub
	ep  Endpoint
}

// newFixture starts a Hub and returns the endpoint for the transport:
// "stdio" spawns the stand-in CLI (kubeshark mcp --url HUB) with the MCP
// faults as flags; "http" uses the Hub's streamable HTTP endpoint.
func newFixture(t *testing.T, transport string, opts standin.Options, token string) *fixture {
	t.Helper()
	mcpFaults := opts.Faults.MCP
	if transport == "stdio" {
		opts.Faults.MCP = standin.MCPFaults{}
	}
	hub, err := standin.NewHub(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	f := &fixture{hub: hub}
	switch transport {
	case "stdio":
		argv := []string{standinBinary(t), "mcp", "--url", hub.URL}
		mf := mcpFaults
		if mf.ExitOn != "" {
			argv = append(argv, "--exit-on", mf.ExitOn)
		}
		if mf.SlowOn != "" {
			argv = append(argv, "--slow-on", mf.SlowOn, "--slow", mf.Slow.String())
		}
		if mf.MalformedOn != "" {
			argv = append(argv, "--malformed-on", mf.MalformedOn)
		}
		if mf.OversizeOn != "" {
			argv = append(argv, "--oversize-on", mf.OversizeOn, "--oversize-bytes", fmt.Sprint(mf.OversizeBytes))
		}
		for flag, v := range map[string]string{"--file-url": mf.FileURL, "--download-claims": mf.DownloadClaims, "--download-link": mf.DownloadLink} {
			if v != "" {
				argv = append(argv, flag, v)
			}
		}
		f.ep = Endpoint{Command: argv, Token: token}
	case "http":
		f.ep = Endpoint{URL: hub.MCPURL, Token: token}
	default:
		t.Fatalf("transport %q", transport)
	}
	return f
}

// request is a pull of the Hub's whole capture window into a fresh
// directory, with small timeouts.
func (f *fixture) request(t *testing.T) Request {
	from, to := f.hub.Window()
	return Request{
		Endpoint:        f.ep,
		HubURL:          f.hub.URL,
		Window:          Window{From: from, To: to},
		WindowText:      "--from/--to",
		Dir:             filepath.Join(t.TempDir(), "evidence"),
		Session:         SessionOptions{CallTimeout: 5 * time.Second, StopGrace: 500 * time.Millisecond},
		PollInterval:    5 * time.Millisecond,
		SnapshotTimeout: 3 * time.Second,
		Command:         []string{"flowproof", "pull"},
		ToolVersion:     "test",
	}
}

// capturePackets reads a capture file and returns its packets' IP payloads.
func capturePackets(t *testing.T, path string) [][]byte {
	t.Helper()
	c, err := ingest.Open(path, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out [][]byte
	var p ingest.Packet
	for c.Next(&p) == nil {
		out = append(out, bytes.Clone(p.Data))
	}
	return out
}

// checkEvidenceDir verifies every output's size and hash, that nothing else
// than the listed files, manifest.json and audit.jsonl is in the directory,
// and that the audit trail's last entry is the pull's, recording the
// manifest's SHA-256 under the seq the manifest names.
func checkEvidenceDir(t *testing.T, dir string, m *evidence.Manifest) {
	t.Helper()
	listed := map[string]bool{evidence.ManifestFile: true, provenance.AuditFileName: true}
	entries, err := provenance.ReadAudit(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit trail: %d entries, %v", len(entries), err)
	}
	last := entries[len(entries)-1]
	mf, err := provenance.HashFile(filepath.Join(dir, evidence.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if last.Step != "pull" || last.Seq != m.AuditSeq || len(last.Outputs) != len(m.Outputs)+1 || last.Outputs[len(last.Outputs)-1].SHA256 != mf.SHA256 {
		t.Errorf("audit entry %+v does not record the pull (audit_seq %d, manifest sha256 %s)", last, m.AuditSeq, mf.SHA256)
	}
	for _, o := range m.Outputs {
		listed[o.Name] = true
		got, err := provenance.HashFile(filepath.Join(dir, filepath.FromSlash(o.Name)))
		n, sum := got.Size, got.SHA256
		if err != nil {
			t.Errorf("output %s: %v", o.Name, err)
			continue
		}
		if n != o.Size || sum != o.SHA256 {
			t.Errorf("output %s: size %d sha %s, manifest says %d %s", o.Name, n, sum, o.Size, o.SHA256)
		}
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !listed[filepath.ToSlash(rel)] {
			t.Errorf("unlisted file %s", rel)
		}
		return nil
	})
	ev, err := evidence.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Captures()) == 0 {
		t.Error("no capture in the evidence manifest")
	}
}

// noCompleteFiles checks that a failed pull left no capture that looks
// complete and no manifest.
func noCompleteFiles(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, evidence.ManifestFile)); err == nil {
		t.Error("a failed pull wrote manifest.json")
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			t.Errorf("a failed pull left %s", path)
		}
		return nil
	})
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q\ndoes not contain %q", s, sub)
		}
	}
}

func bg() context.Context { return context.Background() }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
