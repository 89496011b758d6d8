package report_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// analyzeInto writes what one analyze run leaves in dir, the way the CLI
// does: an input capture inside dir, flows.parquet, report.md and charts,
// manifest.json, then the audit entry.
func analyzeInto(t *testing.T, dir string, run int) {
	t.Helper()
	in := filepath.Join(dir, "input", "a.pcap")
	os.MkdirAll(filepath.Dir(in), 0o755)
	if _, err := os.Stat(in); err != nil {
		os.WriteFile(in, []byte("capture bytes"), 0o644)
	}
	inHash, err := provenance.HashFile(in)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "b.pcap")
	os.WriteFile(outside, []byte("elsewhere"), 0o644)
	outHash, _ := provenance.HashFile(outside)
	os.WriteFile(filepath.Join(dir, "flows.parquet"), []byte("parquet of run "+string(rune('0'+run))), 0o644)
	fl, _ := provenance.HashFile(filepath.Join(dir, "flows.parquet"))
	m := &report.Manifest{
		Tool:     provenance.Tool{Name: "flowproof", Version: "test"},
		Command:  []string{"flowproof", "analyze", "-o", dir, in, outside, "--token", "t0k3n"},
		Started:  provenance.Time{Time: time.Unix(int64(run), 0)},
		Finished: provenance.Time{Time: time.Unix(int64(run), 5)},
		Inputs: []report.Input{
			{Path: in, Name: "a.pcap", Size: inHash.Size, SHA256: inHash.SHA256, Status: report.StatusOK},
			{Path: outside, Name: "b.pcap", Size: outHash.Size, SHA256: outHash.SHA256, Status: report.StatusOK},
		},
		Outputs: []provenance.File{fl},
	}
	s := report.NewSummary(report.SummaryOptions{})
	recs := incidentRecords()
	for i := range recs {
		s.Add(&recs[i])
	}
	outs, err := report.WriteReport(dir, s, m)
	if err != nil {
		t.Fatal(err)
	}
	m.Outputs = append(m.Outputs, outs...)
	seq, err := provenance.NextAuditSeq(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.AuditSeq = seq
	mp := filepath.Join(dir, report.ManifestFile)
	if err := report.WriteManifest(mp, m); err != nil {
		t.Fatal(err)
	}
	mh, _ := provenance.HashFile(mp)
	e := provenance.AuditEntry{Seq: seq, Time: m.Finished, Step: "analyze", Tool: m.Tool, Command: m.Command}
	for _, in := range m.Inputs {
		e.Inputs = append(e.Inputs, provenance.AuditFileOf(dir, in.Path, in.Size, in.SHA256))
	}
	for _, o := range append(m.Outputs, mh) {
		e.Outputs = append(e.Outputs, provenance.AuditFile{Path: o.Name, InDir: true, Size: o.Size, SHA256: o.SHA256})
	}
	if _, err := provenance.AppendAudit(dir, e); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, dir string) *report.VerifyResult {
	t.Helper()
	res, err := report.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestVerifyUntouched(t *testing.T) {
	dir := t.TempDir()
	analyzeInto(t, dir, 1)
	analyzeInto(t, dir, 2)
	res := verify(t, dir)
	if !res.OK() {
		t.Fatalf("problems in an untouched directory: %q", res.Problems)
	}
	// manifest.json, flows.parquet, report.md, 3 charts, audit.jsonl, the input inside.
	if res.Files != 8 || res.Entries != 2 || len(res.Head) != 64 {
		t.Errorf("verified %d files, %d entries, head %q", res.Files, res.Entries, res.Head)
	}
	b, _ := os.ReadFile(filepath.Join(dir, provenance.AuditFileName))
	if strings.Contains(string(b), "t0k3n") {
		t.Error("audit.jsonl holds the token")
	}
}

// TestVerifyNamesTheChange: each single change to an output directory is
// named exactly.
func TestVerifyNamesTheChange(t *testing.T) {
	flip := func(name string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o644)
		}
	}
	remove := func(name string) func(*testing.T, string) {
		return func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, name)) }
	}
	line := func(n int, edit func(string) string) func(*testing.T, string) {
		return func(t *testing.T, dir string) { rewriteLine(t, dir, n, edit) }
	}
	drop := func(string) string { return "" }
	for _, c := range []struct {
		name   string
		change func(*testing.T, string)
		want   []string
	}{
		{"report edited", flip("report.md"), []string{"report.md: sha256 mismatch (edited after analysis)"}},
		{"parquet edited", flip("flows.parquet"), []string{"flows.parquet: sha256 mismatch (edited after analysis)"}},
		{"chart edited", flip("rtt.svg"), []string{"rtt.svg: sha256 mismatch (edited after analysis)"}},
		{"parquet missing", remove("flows.parquet"), []string{"flows.parquet: missing"}},
		{"report missing", remove("report.md"), []string{"report.md: missing"}},
		{"manifest edited", flip("manifest.json"), []string{"manifest.json: "}},
		{"manifest missing", remove("manifest.json"), []string{"manifest.json: missing"}},
		{"input inside changed", flip("input/a.pcap"), []string{"input/a.pcap: sha256 mismatch (input changed since analysis)"}},
		{"audit missing", remove("audit.jsonl"), []string{"audit.jsonl: missing"}},
		{"audit entry 1 edited", line(1, func(l string) string { return strings.Replace(l, `"step":"analyze"`, `"step":"analyzE"`, 1) }),
			[]string{"audit.jsonl line 1: altered (its sha256 does not match its content; hash chain broken at line 2)"}},
		{"audit entry 1 edited, its hash recomputed", line(1, func(l string) string { return rehash(t, strings.Replace(l, `"step":"analyze"`, `"step":"pull"`, 1)) }),
			[]string{"audit.jsonl line 1: altered (hash chain broken at line 2)"}},
		{"audit last entry edited", line(3, func(l string) string { return strings.Replace(l, `"seq":3`, `"seq":3 `, 1) }),
			[]string{"audit.jsonl line 3: altered (its sha256 does not match its content)"}},
		{"audit entry 2 removed", line(2, drop), []string{"audit.jsonl: entry 2 removed (before line 2)"}},
		{"audit entry 1 removed", line(1, drop), []string{"audit.jsonl: entry 1 removed (before line 1)"}},
		{"audit last entry removed", line(3, drop), []string{"audit.jsonl: entry 3 removed (it recorded manifest.json)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for run := 1; run <= 3; run++ {
				analyzeInto(t, dir, run)
			}
			if res := verify(t, dir); !res.OK() {
				t.Fatalf("before the change: %q", res.Problems)
			}
			c.change(t, dir)
			res := verify(t, dir)
			if len(res.Problems) != len(c.want) {
				t.Fatalf("problems %q, want %q", res.Problems, c.want)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(res.Problems[i], w) {
					t.Errorf("problem %q, want %q", res.Problems[i], w)
				}
			}
		})
	}
}

// rehash recomputes a line's own sha256, as someone covering an edit would.
func rehash(t *testing.T, line string) string {
	t.Helper()
	var e provenance.AuditEntry
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	b, err := provenance.MarshalAuditEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerifyOlderManifest: putting back the manifest of an earlier run is
// caught, although that manifest matches its own audit entry.
func TestVerifyOlderManifest(t *testing.T) {
	dir := t.TempDir()
	analyzeInto(t, dir, 1)
	saved := map[string][]byte{}
	for _, name := range []string{report.ManifestFile, "flows.parquet", "report.md", "rtt.svg", "traffic.svg", "talkers.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		saved[name] = b
	}
	analyzeInto(t, dir, 2)
	for name, b := range saved {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	res := verify(t, dir)
	if len(res.Problems) != 1 || !strings.HasPrefix(res.Problems[0], "manifest.json: replaced by an older one (audit.jsonl line 2 recorded a later manifest.json)") {
		t.Errorf("problems %q", res.Problems)
	}
}

func TestVerifyNotOutput(t *testing.T) {
	if _, err := report.Verify(t.TempDir()); err != report.ErrNotOutput {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := report.Verify(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing directory: no error")
	}
}

// TestVerifyPullEntry: an evidence directory whose manifest has another
// layout is verified through its audit entry: every capture the pull step
// wrote, and the manifest's hash.
func TestVerifyPullEntry(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "snap.pcap"), []byte("pcap bytes"), 0o644)
	os.WriteFile(filepath.Join(dir, report.ManifestFile), []byte(`{"manifest_version":1,"kubeshark":{"hub":"https://ks"}}`+"\n"), 0o644)
	pc, _ := provenance.HashFile(filepath.Join(dir, "snap.pcap"))
	mf, _ := provenance.HashFile(filepath.Join(dir, report.ManifestFile))
	e := provenance.AuditEntry{Step: "pull", Command: []string{"flowproof", "pull", "--token", "x"},
		Inputs:  []provenance.AuditFile{{Path: "kubeshark:https://ks/api/mcp/snapshots/9b/pcap", Size: pc.Size, SHA256: pc.SHA256}},
		Outputs: []provenance.AuditFile{{Path: "snap.pcap", InDir: true, Size: pc.Size, SHA256: pc.SHA256}, {Path: report.ManifestFile, InDir: true, Size: mf.Size, SHA256: mf.SHA256}}}
	if _, err := provenance.AppendAudit(dir, e); err != nil {
		t.Fatal(err)
	}
	if res := verify(t, dir); !res.OK() || res.Files != 3 {
		t.Fatalf("untouched evidence: %d files, %q", res.Files, res.Problems)
	}
	os.WriteFile(filepath.Join(dir, "snap.pcap"), []byte("pcap bytez"), 0o644)
	res := verify(t, dir)
	if len(res.Problems) != 1 || res.Problems[0] != "snap.pcap: sha256 mismatch (edited after the pull)" {
		t.Errorf("problems %q", res.Problems)
	}
}

// scanLines is used by the verify tests to edit one audit line.
func rewriteLine(t *testing.T, dir string, n int, edit func(string) string) {
	t.Helper()
	path := filepath.Join(dir, provenance.AuditFileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		i++
		l := sc.Text()
		if i == n {
			l = edit(l)
			if l == "" {
				continue // dropped
			}
		}
		out.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
