package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testdataCaptures lists the project's own captures: every generated one
// and the recordings (not their tshark references).
func testdataCaptures(t *testing.T) []string {
	t.Helper()
	gen, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "gen", "*.pcap*"))
	var rec []string
	for _, pat := range []string{"*.pcap", "*.pcapng", "*.pcap.gz"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "rec", pat))
		rec = append(rec, m...)
	}
	all := append(gen, rec...)
	sort.Strings(all)
	if len(gen) < 15 || len(rec) < 4 {
		t.Fatalf("testdata captures: %d generated, %d recorded", len(gen), len(rec))
	}
	return all
}

// TestReportGoldenCaptures: the report for the project's testdata captures,
// byte for byte, except the run's wall-clock times, output path and
// flows.parquet's size and hash. After a
// deliberate change (in the report, or in analyze's numbers) run
//
//	go test ./cmd/flowproof -run TestReportGoldenCaptures -update
//
// and review the diff of testdata/report.golden.md.
func TestReportGoldenCaptures(t *testing.T) {
	out := goldenReport(t, "report.golden.md", "TestReportGoldenCaptures", testdataCaptures(t)...)
	if res, err := report.Verify(out); err != nil || !res.OK() {
		t.Errorf("verify: %v %v", err, res)
	}
}

// goldenReport analyzes args into a fresh directory, and compares its
// report.md (run times, the directory and the Parquet files' sizes and
// hashes replaced) with testdata/golden, or rewrites it with -update. It
// returns the directory.
func goldenReport(t *testing.T, golden, test string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := run(t, append([]string{"analyze", "-o", out}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := readManifest(t, out)
	md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.NewReplacer(
		provenance.FormatTime(m.Started.Time), "STARTED",
		provenance.FormatTime(m.Finished.Time), "FINISHED",
		out, "OUT",
	).Replace(string(md))
	// The Parquet files' bytes follow the writers' layout (row groups,
	// pages), tested in ./report; the golden files are about what the
	// report says.
	got = regexp.MustCompile("(?m)^\\| (flows|http|dns|crosscheck\\\\_l7)\\.parquet \\| [0-9,]+ \\| `[0-9a-f]{64}` \\|$").
		ReplaceAllString(got, "| $1.parquet | SIZE | `SHA256` |")
	path := filepath.Join("testdata", golden)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/flowproof -run %s -update)", err, test)
	}
	if got != string(want) {
		t.Errorf("report.md differs from %s; if the change is deliberate: go test ./cmd/flowproof -run %s -update, and review the diff", path, test)
	}
	return out
}

// TestReportGoldenL7: the report of the project's HTTP and DNS recordings
// analyzed (L7 on by default), with its HTTP and DNS sections and their findings;
// and of the Kubeshark stand-in's cluster capture with its list_api_calls
// (--api-calls), with the L7 cross-check's verdicts.
func TestReportGoldenL7(t *testing.T) {
	rec := filepath.Join("..", "..", "testdata", "rec")
	sd := filepath.Join("..", "..", "ingest", "kubeshark", "standin", "testdata")
	t.Run("recordings", func(t *testing.T) {
		goldenReport(t, "report-l7.golden.md", "TestReportGoldenL7",
			filepath.Join(rec, "http-v4.pcap"), filepath.Join(rec, "http-v6.pcapng"), filepath.Join(rec, "dns-udp.pcap"))
	})
	t.Run("stand-in with API calls", func(t *testing.T) {
		goldenReport(t, "report-l7xc.golden.md", "TestReportGoldenL7", "--api-calls", filepath.Join(sd, "api_calls.json"), filepath.Join(sd, "cluster.pcap"))
	})
}

func verifyDir(t *testing.T, dir string) (int, string, string) {
	t.Helper()
	return run(t, "verify", dir)
}

// TestDemoVerify: a directory the demo wrote verifies, with a one-line
// summary; its audit trail names the demo's captures, which it writes inside
// the directory (so verify re-hashes them too).
func TestDemoVerify(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	if code, _, stderr := run(t, "demo", "-o", out); code != exitOK {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := verifyDir(t, out)
	if code != exitOK {
		t.Fatalf("verify: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`^verified \d+ files and 1 audit entry in .* \(audit head sha256 [0-9a-f]{64}\)\n$`).MatchString(stdout) {
		t.Errorf("verify stdout %q is not the one-line summary", stdout)
	}
	entries, err := provenance.ReadAudit(out)
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %d entries, %v", len(entries), err)
	}
	inDir := 0
	for _, in := range entries[0].Inputs {
		if in.InDir && !strings.HasPrefix(in.Path, "../") {
			inDir++
		}
	}
	if inDir == 0 || inDir != len(entries[0].Inputs) {
		t.Errorf("audit inputs %+v: want the demo's captures, inside its output directory", entries[0].Inputs)
	}
}

// TestAnalyzeTwiceAppends: a second analyze into the same directory adds an
// audit entry (it never rewrites the trail), and the directory verifies.
func TestAnalyzeTwiceAppends(t *testing.T) {
	dir := t.TempDir()
	in := writeCase(t, dir, "tcp-sf.pcap")
	out := filepath.Join(dir, "out")
	for i := range 2 {
		if code, _, stderr := run(t, "analyze", "-o", out, in); code != exitOK {
			t.Fatalf("run %d: exit %d: %s", i+1, code, stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, provenance.AuditFileName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("audit.jsonl has %d lines after two runs, want 2", len(lines))
	}
	if m := readManifest(t, out); m.AuditSeq != 2 {
		t.Errorf("manifest audit_seq %d, want 2", m.AuditSeq)
	}
	if code, stdout, _ := verifyDir(t, out); code != exitOK || !strings.Contains(stdout, "2 audit entries") {
		t.Errorf("verify: exit %d, %s", code, stdout)
	}
}

// TestVerifyCLI: verify names what changed and exits 1; usage errors exit 2.
func TestVerifyCLI(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := t.TempDir()
		in := writeCase(t, dir, "tcp-rej.pcap")
		out := filepath.Join(dir, "out")
		for range 3 {
			if code, _, stderr := run(t, "analyze", "-o", out, in); code != exitOK {
				t.Fatalf("analyze: exit %d: %s", code, stderr)
			}
		}
		return out
	}
	for _, c := range []struct {
		name   string
		change func(t *testing.T, out string)
		want   string
	}{
		{"byte flipped in report.md", func(t *testing.T, out string) {
			p := filepath.Join(out, "report.md")
			b, _ := os.ReadFile(p)
			b[100] ^= 0x20
			os.WriteFile(p, b, 0o644)
		}, "report.md: sha256 mismatch (edited after analysis)\n"},
		{"flows.parquet deleted", func(t *testing.T, out string) {
			os.Remove(filepath.Join(out, "flows.parquet"))
		}, "flows.parquet: missing\n"},
		{"audit entry edited", func(t *testing.T, out string) {
			editAuditLine(t, out, 2, func(l string) string { return strings.Replace(l, `"step":"analyze"`, `"step":"pull"`, 1) })
		}, "audit.jsonl line 2: altered (its sha256 does not match its content; hash chain broken at line 3)\n"},
		{"audit entry dropped", func(t *testing.T, out string) {
			editAuditLine(t, out, 2, func(string) string { return "" })
		}, "audit.jsonl: entry 2 removed (before line 2)\n"},
		{"last audit entry dropped", func(t *testing.T, out string) {
			editAuditLine(t, out, 3, func(string) string { return "" })
		}, "audit.jsonl: entry 3 removed (it recorded manifest.json)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := mk(t)
			c.change(t, out)
			code, stdout, stderr := verifyDir(t, out)
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			if stdout != c.want {
				t.Errorf("stdout %q, want %q", stdout, c.want)
			}
			if !strings.Contains(stderr, "verification failed: 1 problem") {
				t.Errorf("stderr %q", stderr)
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"verify"}, {"verify", "a", "b"}, {"verify", "--no-such-flag", "a"}} {
			if code, _, stderr := run(t, args...); code != exitUsage {
				t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, stderr)
			}
		}
		if code, _, stderr := run(t, "verify", filepath.Join(t.TempDir(), "none")); code != exitFailed || !strings.Contains(stderr, "none") {
			t.Errorf("missing directory: exit %d, %s", code, stderr)
		}
		if code, _, stderr := run(t, "verify", t.TempDir()); code != exitFailed || !strings.Contains(stderr, "not a flowproof output directory") {
			t.Errorf("empty directory: exit %d, %s", code, stderr)
		}
	})
}

func editAuditLine(t *testing.T, dir string, n int, edit func(string) string) {
	t.Helper()
	p := filepath.Join(dir, provenance.AuditFileName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var out []string
	for i, l := range lines {
		if i+1 == n {
			if l = edit(l); l == "" {
				continue
			}
		}
		out = append(out, l)
	}
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
