package provenance_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/provenance"
)

func auditEntry(step string) provenance.AuditEntry {
	return provenance.AuditEntry{
		Time:       provenance.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		Step:       step,
		Tool:       provenance.Tool{Name: "flowproof", Version: "v1"},
		Command:    []string{"flowproof", step, "--hub-token=abc", "-o", "out"},
		Parameters: map[string]string{"tcp_timeout": "5m0s"},
		Inputs:     []provenance.AuditFile{{Path: "/captures/a.pcap", Size: 10, SHA256: strings.Repeat("0a", 32)}},
		Outputs:    []provenance.AuditFile{{Path: "flows.parquet", InDir: true, Size: 20, SHA256: strings.Repeat("0b", 32)}},
	}
}

func auditLines(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, provenance.AuditFileName))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestAuditChain: entries are appended, numbered, chained by the SHA-256
// of the previous line, carry their own hash, and never hold a secret.
func TestAuditChain(t *testing.T) {
	dir := t.TempDir()
	if seq, err := provenance.NextAuditSeq(dir); err != nil || seq != 1 {
		t.Fatalf("NextAuditSeq on a new directory = %d, %v", seq, err)
	}
	for i, step := range []string{"pull", "analyze", "analyze"} {
		e, err := provenance.AppendAudit(dir, auditEntry(step))
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) {
			t.Errorf("entry %d got seq %d", i+1, e.Seq)
		}
	}
	lines := auditLines(t, dir)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	prev := provenance.GenesisSHA256
	for i, l := range lines {
		var e provenance.AuditEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.PrevSHA256 != prev {
			t.Errorf("line %d: prev_sha256 %s, want %s", i+1, e.PrevSHA256, prev)
		}
		blank := strings.Replace(l, `"sha256":"`+e.SHA256+`"}`, `"sha256":""}`, 1)
		sum := sha256.Sum256([]byte(blank))
		if hex.EncodeToString(sum[:]) != e.SHA256 || !strings.HasSuffix(l, `"sha256":"`+e.SHA256+`"}`) {
			t.Errorf("line %d: sha256 is not the hash of the line with it empty", i+1)
		}
		sum = sha256.Sum256([]byte(l))
		prev = hex.EncodeToString(sum[:])
		if strings.Contains(l, "abc") || !strings.Contains(l, "--hub-token=REDACTED") {
			t.Errorf("line %d does not redact the token: %s", i+1, l)
		}
	}
	if seq, _ := provenance.NextAuditSeq(dir); seq != 4 {
		t.Errorf("NextAuditSeq = %d, want 4", seq)
	}
	entries, err := provenance.ReadAudit(dir)
	if err != nil || len(entries) != 3 || entries[2].Step != "analyze" {
		t.Errorf("ReadAudit: %d entries, %v", len(entries), err)
	}
}

// TestAuditFormat pins the line layout, the contract verify and other
// tools read.
func TestAuditFormat(t *testing.T) {
	e := auditEntry("analyze")
	e.Seq, e.PrevSHA256 = 1, provenance.GenesisSHA256
	line, err := provenance.MarshalAuditEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":1,"time":"2026-01-02T03:04:05.000000006Z","step":"analyze","tool":{"name":"flowproof","version":"v1"},` +
		`"command":["flowproof","analyze","--hub-token=REDACTED","-o","out"],"parameters":{"tcp_timeout":"5m0s"},` +
		`"inputs":[{"path":"/captures/a.pcap","size":10,"sha256":"` + strings.Repeat("0a", 32) + `"}],` +
		`"outputs":[{"path":"flows.parquet","in_dir":true,"size":20,"sha256":"` + strings.Repeat("0b", 32) + `"}],` +
		`"prev_sha256":"` + provenance.GenesisSHA256 + `","sha256":"`
	if !strings.HasPrefix(string(line), want) || len(line) != len(want)+66 {
		t.Errorf("audit line\n%s\nwant\n%s<64 hex>\"}", line, want)
	}
}

func TestAuditRefusesBrokenTail(t *testing.T) {
	dir := t.TempDir()
	if _, err := provenance.AppendAudit(dir, auditEntry("analyze")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, provenance.AuditFileName)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-10], 0o644) // an interrupted write
	if _, err := provenance.AppendAudit(dir, auditEntry("analyze")); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("append after a cut line: %v", err)
	}
	os.WriteFile(path, b, 0o644)
	e := auditEntry("analyze")
	e.Seq = 5
	if _, err := provenance.AppendAudit(dir, e); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("append with a stale seq: %v", err)
	}
	if n := len(auditLines(t, dir)); n != 1 {
		t.Errorf("%d lines after refused appends, want 1", n)
	}
}

func TestAuditFileOf(t *testing.T) {
	dir := t.TempDir()
	in := provenance.AuditFileOf(dir, filepath.Join(dir, "input", "a.pcap"), 1, "x")
	if !in.InDir || in.Path != "input/a.pcap" {
		t.Errorf("inside: %+v", in)
	}
	out := provenance.AuditFileOf(dir, filepath.Join(dir, "..", "b.pcap"), 1, "x")
	if out.InDir || out.Path != filepath.Join(dir, "..", "b.pcap") {
		t.Errorf("outside: %+v", out)
	}
	sib := provenance.AuditFileOf(dir, dir+"-other/c.pcap", 1, "x")
	if sib.InDir {
		t.Errorf("sibling directory counted as inside: %+v", sib)
	}
}
