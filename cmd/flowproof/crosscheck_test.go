package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin/scenario"
	"github.com/flowproof/flowproof/report"
)

// checkDisagreements checks an analysis of the disagreeing scenario: every
// verdict and identity as built.
func checkDisagreements(t *testing.T, d *scenario.Disagreements, out string) {
	t.Helper()
	rows, err := report.ReadCrossCheck(filepath.Join(out, report.CrossCheckFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]report.CrossCheckRow{}
	for _, r := range rows {
		got[r.Proto+" "+r.ClientIP+" "+r.ServerIP+" "+itoa(int(r.ServerPort))] = r
	}
	if len(rows) != len(d.Want) {
		t.Errorf("%d crosscheck rows, want %d", len(rows), len(d.Want))
	}
	verdictOf := map[string]string{}
	for _, w := range d.Want {
		k := w.Proto + " " + w.Client.String() + " " + w.Server.String() + " " + itoa(int(w.Port))
		verdictOf[k] = w.Verdict
		r, ok := got[k]
		if !ok {
			t.Errorf("%s: no crosscheck row", k)
			continue
		}
		if r.Verdict != w.Verdict || r.Reason == "" {
			t.Errorf("%s: verdict %s (%s), want %s", k, r.Verdict, r.Reason, w.Verdict)
		}
	}
	lossy := got["tcp "+standin.Checkout.IP.String()+" "+standin.Redis.IP.String()+" 6379"]
	if lossy.DeltaS2CBytes == nil || *lossy.DeltaS2CBytes != 1200 || lossy.CapMissedBytes != 1200 || !strings.Contains(lossy.Reason, "capture loss") {
		t.Errorf("lossy aggregate %+v", lossy)
	}

	flows, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	reused := 0
	for _, f := range flows {
		k := f.Proto + " " + f.SrcIP + " " + f.DstIP + " " + itoa(int(f.DstPort))
		if want := verdictOf[k]; f.CrossCheck != want {
			t.Errorf("flow %s: crosscheck %q, want %q", k, f.CrossCheck, want)
		}
		if f.SrcIP == d.ReusedIP.String() {
			reused++
			var want string
			switch f.SrcPort {
			case 45000:
				want = d.OldPod.Name + "/" + d.OldPod.Namespace
			case 45001:
				want = d.NewPod.Name + "/" + d.NewPod.Namespace
			default:
				want = "/" // spans the change: null, not a guess
			}
			if got := f.SrcPod + "/" + f.SrcNamespace; got != want {
				t.Errorf("reused IP, port %d: identity %q, want %q", f.SrcPort, got, want)
			}
		}
		if f.SrcIP == standin.Frontend.IP.String() && (f.SrcPod != standin.Frontend.Name || f.SrcService != "frontend" || f.SrcNode != "worker-1" || f.SrcNamespace != "shop") {
			t.Errorf("frontend identity %q %q %q %q", f.SrcPod, f.SrcNamespace, f.SrcService, f.SrcNode)
		}
		if f.DstIP == standin.External.String() && f.DstPod != "" {
			t.Errorf("external address named %q", f.DstPod)
		}
	}
	if reused != 3 {
		t.Errorf("%d flows from the reused IP, want 3", reused)
	}
	md, _ := os.ReadFile(filepath.Join(out, report.ReportFile))
	for _, s := range []string{"## Cross-check", "`outside_window`", "`kubeshark_only`", "Tolerances:", "never judged"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	m := readManifest(t, out)
	if !hasOutput(m.Outputs, report.CrossCheckFile) {
		t.Errorf("manifest outputs %+v", m.Outputs)
	}
	if code, stdout, stderr := run(t, "verify", out); code != exitOK {
		t.Errorf("verify: %s%s", stdout, stderr)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestCrossCheckEvidence: pull the disagreeing scenario from the stand-in,
// analyze the evidence directory.
func TestCrossCheckEvidence(t *testing.T) {
	clearKubesharkEnv(t)
	d := scenario.DisagreeingScenario()
	hub := newHub(t, standin.Options{Capture: d.Capture, L4Flows: d.L4Flows, Workloads: d.Workloads})
	ev := filepath.Join(t.TempDir(), "ev")
	if code, _, stderr := run(t, append([]string{"pull", "--mcp-url", hub.MCPURL, "--hub-url", hub.URL, "-o", ev, "-q"}, hubWindow(hub)...)...); code != exitOK {
		t.Fatalf("pull: %s", stderr)
	}
	out := filepath.Join(t.TempDir(), "out")
	if code, _, stderr := run(t, "analyze", "--quiet", "-o", out, ev); code != exitOK {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	checkDisagreements(t, d, out)
}

// TestCrossCheckFlags: the same from files saved some other way.
func TestCrossCheckFlags(t *testing.T) {
	d := scenario.DisagreeingScenario()
	dir := t.TempDir()
	files := map[string][]byte{"cap.pcap": d.Capture, "l4.json": d.L4Flows, "workloads.json": d.Workloads}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	code, _, stderr := run(t, "analyze", "--quiet", "-o", out, "--l4-flows", filepath.Join(dir, "l4.json"), "--workloads", filepath.Join(dir, "workloads.json"), filepath.Join(dir, "cap.pcap"))
	if code != exitOK {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	checkDisagreements(t, d, out)

	// Looser tolerances turn the byte and RTT disagreements into matches.
	out2 := filepath.Join(dir, "out2")
	code, _, stderr = run(t, "analyze", "--quiet", "-o", out2, "--l4-flows", filepath.Join(dir, "l4.json"), "--xc-bytes-slack", "2000", "--xc-rtt-slack", "100ms", filepath.Join(dir, "cap.pcap"))
	if code != exitOK {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	rows, err := report.ReadCrossCheck(filepath.Join(out2, report.CrossCheckFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Verdict == "bytes_mismatch" || r.Verdict == "rtt_mismatch" {
			t.Errorf("%s %s:%d still %s", r.ClientIP, r.ServerIP, r.ServerPort, r.Verdict)
		}
	}
	// A bad --l4-flows file is an error naming it.
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{nope"), 0o644)
	if code, _, stderr := run(t, "analyze", "--quiet", "-o", filepath.Join(dir, "out3"), "--l4-flows", filepath.Join(dir, "bad.json"), filepath.Join(dir, "cap.pcap")); code == exitOK || !strings.Contains(stderr, "bad.json") {
		t.Errorf("bad --l4-flows: exit %d %s", code, stderr)
	}
}
