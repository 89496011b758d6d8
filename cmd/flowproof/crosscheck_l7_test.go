package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/report"
)

// checkL7 checks crosscheck_l7.parquet against the stand-in's known
// disagreements: every group with its verdict, nothing else (groups dated
// outside the capture are wanted only when withOutside).
func checkL7(t *testing.T, out string, want []standin.L7Expect, withOutside bool) {
	t.Helper()
	rows, err := report.ReadTable[report.CrossCheckL7Row](filepath.Join(out, report.CrossCheckL7File))
	if err != nil {
		t.Fatal(err)
	}
	key := func(client, server, method, path string, status int) string {
		return fmt.Sprintf("%s -> %s %s %s %d", client, server, method, path, status)
	}
	got := map[string]string{}
	for _, r := range rows {
		st := 0
		if r.Status != nil {
			st = int(*r.Status)
		}
		k := key(r.Client, r.Server, r.Method, r.Path, st)
		if r.Verdict == "outside_window" {
			k += " outside"
		}
		got[k] = r.Verdict
		if r.Reason == "" && r.Verdict != "match" {
			t.Errorf("%s: %s without a reason", k, r.Verdict)
		}
	}
	wantM := map[string]string{}
	for _, w := range want {
		if w.Outside && !withOutside {
			continue
		}
		k := key(w.Client, w.Server, w.Method, w.Path, w.Status)
		if w.Outside {
			k += " outside"
		}
		wantM[k] = w.Verdict
	}
	if fmt.Sprint(got) != fmt.Sprint(wantM) {
		t.Errorf("L7 verdicts\n got %v\nwant %v", got, wantM)
	}
	m := readManifest(t, out)
	if !hasOutput(m.Outputs, report.CrossCheckL7File) {
		t.Errorf("manifest outputs %+v", m.Outputs)
	}
	md, _ := os.ReadFile(filepath.Join(out, report.ReportFile))
	for _, s := range []string{"### API calls (L7)", "<!-- table: crosscheck-l7 -->", "-- table: crosscheck-l7-worst", "`latency_mismatch`"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	if code, stdout, stderr := run(t, "verify", out); code != exitOK {
		t.Errorf("verify: %s%s", stdout, stderr)
	}
}

// TestL7CrossCheckEvidence: pull the stand-in's cluster (every pod
// targeted: the packets between two pods twice) with its list_api_calls,
// analyze (L7 on by default): each known disagreement gets its verdict, the TLS
// twin's request is marked synthetic. With --no-l7 the calls are not
// compared, and the manifest says why.
func TestL7CrossCheckEvidence(t *testing.T) {
	clearKubesharkEnv(t)
	hub := newHub(t, standin.Options{Doubled: true})
	ev := filepath.Join(t.TempDir(), "ev")
	if code, _, stderr := run(t, append([]string{"pull", "--mcp-url", hub.MCPURL, "--hub-url", hub.URL, "-o", ev, "-q"}, hubWindow(hub)...)...); code != exitOK {
		t.Fatalf("pull: %s", stderr)
	}
	out := filepath.Join(t.TempDir(), "out")
	if code, _, stderr := run(t, "analyze", "--quiet", "-o", out, ev); code != exitOK {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	_, want := standin.APICallsDisagreeing()
	checkL7(t, out, want, false) // the pull asked for the capture's window: the late call is not in it

	rows, err := report.ReadTable[report.HTTPRow](filepath.Join(out, report.HTTPFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(standin.Exchanges()) {
		t.Errorf("%d HTTP rows, want %d", len(rows), len(standin.Exchanges()))
	}
	for _, r := range rows {
		if want := r.URI == "/v1/charges"; r.Synthetic != want {
			t.Errorf("%s %s: synthetic %v, want %v", r.Method, r.URI, r.Synthetic, want)
		}
	}

	off := filepath.Join(t.TempDir(), "off")
	if code, _, stderr := run(t, "analyze", "--quiet", "--no-l7", "-o", off, ev); code != exitOK {
		t.Fatalf("analyze --no-l7: exit %d\n%s", code, stderr)
	}
	m := readManifest(t, off)
	if !strings.Contains(strings.Join(m.Warnings, "\n"), "the L7 cross-check needs L7 on (--no-l7 turns it off)") || hasOutput(m.Outputs, report.CrossCheckL7File) {
		t.Errorf("--no-l7: warnings %q, outputs %+v", m.Warnings, m.Outputs)
	}
}

// TestL7CrossCheckFlags: the cluster capture and its calls saved as files:
// with --api-calls every verdict occurs where its disagreement is, the
// call dated an hour later included (outside_window). --api-calls with
// --no-l7 is a usage error; --slow-request sets the report's threshold.
func TestL7CrossCheckFlags(t *testing.T) {
	dir := t.TempDir()
	calls, want := standin.APICallsDisagreeing()
	for name, b := range map[string][]byte{"cap.pcap": standin.Capture(), "calls.json": calls} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	code, _, stderr := run(t, "analyze", "--quiet", "--slow-request", "10ms", "-o", out, "--api-calls", filepath.Join(dir, "calls.json"), filepath.Join(dir, "cap.pcap"))
	if code != exitOK {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	checkL7(t, out, want, true)
	m := readManifest(t, out)
	if m.Settings["slow_request"] != "10ms" {
		t.Errorf("settings %v", m.Settings)
	}
	md, _ := os.ReadFile(filepath.Join(out, report.ReportFile))
	if !strings.Contains(string(md), "at or over 10ms") {
		t.Error("report.md does not use --slow-request 10ms")
	}

	if code, _, stderr := run(t, "analyze", "--quiet", "--no-l7", "-o", filepath.Join(dir, "o2"), "--api-calls", filepath.Join(dir, "calls.json"), filepath.Join(dir, "cap.pcap")); code != exitUsage || !strings.Contains(stderr, "drop --no-l7") {
		t.Errorf("--api-calls with --no-l7: exit %d %s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"calls":[{`), 0o644)
	if code, _, stderr := run(t, "analyze", "--quiet", "-o", filepath.Join(dir, "o3"), "--api-calls", filepath.Join(dir, "bad.json"), filepath.Join(dir, "cap.pcap")); code == exitOK || !strings.Contains(stderr, "bad.json") {
		t.Errorf("bad --api-calls: exit %d %s", code, stderr)
	}
}
