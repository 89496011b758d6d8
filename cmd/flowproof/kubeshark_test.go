package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin/scenario"
	"github.com/flowproof/flowproof/report"
)

// buildStandin builds the stdio stand-in for `kubeshark mcp` into dir.
func buildStandin(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "kubeshark")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/flowproof/flowproof/ingest/kubeshark/standin/cmd/kubeshark-standin").CombinedOutput()
	if err != nil {
		t.Fatalf("go build kubeshark-standin: %v\n%s", err, out)
	}
	return bin
}

func newHub(t *testing.T, opts standin.Options) *standin.Hub {
	t.Helper()
	h, err := standin.NewHub(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// hubWindow returns --from/--to flags covering the Hub's capture.
func hubWindow(h *standin.Hub) []string {
	from, to := h.Window()
	return []string{"--from", from.Format("2006-01-02T15:04:05.000Z07:00"), "--to", to.Format("2006-01-02T15:04:05.000Z07:00"), "--poll", "5ms"}
}

// clearKubesharkEnv keeps the developer's environment out of a test.
func clearKubesharkEnv(t *testing.T) {
	for _, k := range []string{envMCPURL, envMCPCommand, envHubURL, envHubToken} {
		t.Setenv(k, "")
	}
}

func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// assertNoToken fails when the token appears in the texts or in any file
// under the directories.
func assertNoToken(t *testing.T, token string, dirs []string, texts ...string) {
	t.Helper()
	for i, s := range texts {
		if strings.Contains(s, token) {
			t.Errorf("output %d holds the token:\n%s", i, s)
		}
	}
	for _, dir := range dirs {
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(token)) {
					t.Errorf("%s holds the token", path)
				}
			}
			return nil
		})
	}
}

// TestKubesharkStdio drives pull, analyze of the evidence and run through
// the CLI against a spawned stdio stand-in (built once for the subtests).
func TestKubesharkStdio(t *testing.T) {
	clearKubesharkEnv(t)
	bin := buildStandin(t, t.TempDir())
	const token = "tok-cli-SECRET-4711"
	hub := newHub(t, standin.Options{Token: token})
	mcpCommand := bin + " mcp --url " + hub.URL

	t.Run("pull then analyze", func(t *testing.T) {
		ev := filepath.Join(t.TempDir(), "ev")
		args := append([]string{"pull", "--mcp-command", mcpCommand, "--hub-url", hub.URL, "--token", token, "--ns", "shop", "--pod", "^frontend", "-o", ev}, hubWindow(hub)...)
		code, stdout, stderr := run(t, args...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stdout, "captures/snapshot-") || !strings.Contains(stderr, "route: snapshot") {
			t.Errorf("stdout %q\nstderr %q", stdout, stderr)
		}
		out := filepath.Join(t.TempDir(), "out")
		code, stdout2, stderr2 := run(t, "analyze", ev, "-o", out)
		if code != exitOK {
			t.Fatalf("analyze exit %d\n%s", code, stderr2)
		}
		m := readManifest(t, out)
		if len(m.Inputs) != 1 || !strings.HasPrefix(m.Inputs[0].Source, "kubeshark snapshot ") || !strings.Contains(m.Inputs[0].Source, `bpf "host 10.244.1.15"`) {
			t.Errorf("inputs %+v", m.Inputs)
		}
		em, err := evidence.Open(ev)
		if err != nil {
			t.Fatal(err)
		}
		cmd := strings.Join(em.Manifest.Command, " ")
		if !strings.Contains(cmd, "--token REDACTED") {
			t.Errorf("command %q", cmd)
		}
		assertNoToken(t, token, []string{ev, out}, stdout, stderr, stdout2, stderr2)
	})

	t.Run("run, token from the environment", func(t *testing.T) {
		t.Setenv(envMCPCommand, mcpCommand)
		t.Setenv(envHubURL, hub.URL)
		t.Setenv(envHubToken, token)
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := run(t, append([]string{"run", "-o", out, "--pod", "^payments-", "--ns", "payments"}, hubWindow(hub)...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "evidence", "manifest.json")); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(out, "flows.parquet")); err != nil {
			t.Error(err)
		}
		assertNoToken(t, token, []string{out}, stdout, stderr)
		if stderr == "" {
			t.Error("run without -q or --quiet showed no progress lines")
		}

		// --quiet, analyze's flag, silences the pull steps too.
		code, _, stderr = run(t, append([]string{"run", "-o", filepath.Join(t.TempDir(), "quiet"), "--quiet", "--pod", "^payments-", "--ns", "payments"}, hubWindow(hub)...)...)
		if code != exitOK || stderr != "" {
			t.Errorf("run --quiet: exit %d, stderr:\n%s", code, stderr)
		}
	})

	t.Run("run --per-node", func(t *testing.T) {
		t.Setenv(envHubToken, token)
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := run(t, append([]string{"run", "-o", out, "-q", "--per-node", "--mcp-command", mcpCommand, "--hub-url", hub.URL}, hubWindow(hub)...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		for _, n := range standin.Nodes {
			if !strings.Contains(stdout, "captures/"+n+"-snapshot-") {
				t.Errorf("stdout does not name %s's capture:\n%s", n, stdout)
			}
		}
		m := readManifest(t, out)
		if len(m.Inputs) != len(standin.Nodes) || !strings.Contains(m.Inputs[0].Source, "node worker-1") {
			t.Errorf("inputs %+v", m.Inputs)
		}
		if code, stdout, stderr := run(t, "verify", out); code != exitOK {
			t.Errorf("verify: exit %d\n%s%s", code, stdout, stderr)
		}
		assertNoToken(t, token, []string{out}, stdout, stderr)
	})

	t.Run("caps on the API calls saved", func(t *testing.T) {
		// A Hub whose every list_api_calls page is full: the pull pages on
		// until a cap, then says it is partial.
		endless := newHub(t, standin.Options{Token: token, Faults: standin.Faults{Hostile: standin.Hostile{APICalls: standin.APICallsEndless}}})
		for _, tc := range []struct {
			flags []string
			pages int // pages saved at most
			want  string
		}{
			{[]string{"--max-api-call-pages", "2"}, 2, "cap of 2 pages"},
			{[]string{"--max-api-calls", "1KiB"}, 1, "or 1024 bytes"},
		} {
			ev := filepath.Join(t.TempDir(), "ev")
			args := append(append([]string{"pull", "--mcp-command", bin + " mcp --url " + endless.URL, "--hub-url", endless.URL, "-q", "-o", ev}, tc.flags...), hubWindow(endless)...)
			t.Setenv(envHubToken, token)
			code, _, stderr := run(t, args...)
			if code != exitPartial {
				t.Fatalf("%v: exit %d, want %d (partial)\n%s", tc.flags, code, exitPartial, stderr)
			}
			em, err := evidence.Open(ev)
			if err != nil {
				t.Fatal(err)
			}
			if a := em.Manifest.Kubeshark.APICalls; a == nil || !strings.Contains(a.Incomplete, tc.want) || a.Pages == 0 || a.Pages > tc.pages {
				t.Errorf("%v: api_calls %+v, want at most %d pages and %q", tc.flags, a, tc.pages, tc.want)
			}
		}
		for _, bad := range [][]string{{"--max-api-call-pages", "0"}, {"--max-api-calls", "0"}} {
			args := append(append([]string{"pull", "--mcp-command", mcpCommand, "-o", filepath.Join(t.TempDir(), "ev")}, bad...), hubWindow(hub)...)
			if code, _, stderr := run(t, args...); code != exitUsage || !strings.Contains(stderr, strings.TrimLeft(bad[0], "-")) {
				t.Errorf("%v: exit %d\n%s", bad, code, stderr)
			}
		}
	})

	t.Run("service IPs are not in the capture", func(t *testing.T) {
		// Captures at the pods see pod IPs (after DNAT), so a service's
		// ClusterIP selects nothing: the error says so.
		ev := filepath.Join(t.TempDir(), "ev")
		code, _, stderr := run(t, append([]string{"pull", "--mcp-command", mcpCommand, "--hub-url", hub.URL, "--token", token, "--svc", "payments", "--ns", "payments", "-o", ev}, hubWindow(hub)...)...)
		if code != exitFailed {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		for _, want := range []string{"no packets", "check the window and retention", "ClusterIP", "--pod"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		ev := filepath.Join(t.TempDir(), "ev")
		code, stdout, stderr := run(t, append([]string{"pull", "--mcp-command", mcpCommand + " --token wrong-1", "--hub-url", hub.URL, "--token", "not-" + token, "-o", ev}, hubWindow(hub)...)...)
		if code != exitFailed {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		for _, want := range []string{"401", "kubectl create token kubeshark-cli"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr)
			}
		}
		assertNoToken(t, "not-"+token, []string{ev}, stdout, stderr)
		assertNoToken(t, "wrong-1", []string{ev}, stdout, stderr)
	})

	t.Run("token inside the command", func(t *testing.T) {
		ev := filepath.Join(t.TempDir(), "ev")
		code, stdout, stderr := run(t, append([]string{"pull", "--mcp-command", mcpCommand + " --token " + token, "-o", ev}, hubWindow(hub)...)...)
		// No --hub-url and no token for flowproof itself: the URL from
		// get_file_url refuses it, and the server's download_file (which has
		// the token) fetches the capture.
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "falling back to the server's download_file") {
			t.Errorf("stderr %s", stderr)
		}
		assertNoToken(t, token, []string{ev}, stdout, stderr)
	})

	t.Run("flags override the environment", func(t *testing.T) {
		t.Setenv(envMCPURL, closedPortURL(t)+"/mcp") // would fail
		t.Setenv(envHubToken, token)
		ev := filepath.Join(t.TempDir(), "ev")
		code, _, stderr := run(t, append([]string{"pull", "--mcp-command", mcpCommand, "--hub-url", hub.URL, "-q", "-o", ev}, hubWindow(hub)...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if stderr != "" {
			t.Errorf("-q, yet stderr %q", stderr)
		}
	})
}

// TestPullUsage: mistakes on the command line are usage errors (exit 2).
func TestPullUsage(t *testing.T) {
	clearKubesharkEnv(t)
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no server", nil, []string{"pull"}, "no Kubeshark MCP server"},
		{"both", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--mcp-command", "kubeshark mcp"}, "give one"},
		{"both in env", map[string]string{envMCPURL: "http://x/mcp", envMCPCommand: "kubeshark mcp"}, []string{"pull"}, "give one"},
		{"bad since", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--since", "yesterday"}, "--since"},
		{"since and from", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--since", "1h", "--from", "2026-01-01T00:00:00Z"}, "not both"},
		{"bad pod", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--pod", "(("}, "RE2"},
		{"bad dialect", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--dialect", "grpc"}, "--dialect"},
		{"per node and export", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--per-node", "--dialect", "export_pcap"}, "--per-node"},
		{"snapshot id and export", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--snapshot-id", "x", "--dialect", "export_pcap"}, "--snapshot-id"},
		{"bad size", nil, []string{"pull", "--mcp-url", "http://x/mcp", "--max-capture", "lots"}, "max-capture"},
		{"unbalanced quote", nil, []string{"pull", "--mcp-command", "kubeshark 'mcp"}, "quote"},
		{"run args", nil, []string{"run", "x.pcap"}, "no arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, _, stderr := run(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestPullHTTPFailure: a failed pull over HTTP exits 1, names the fix and
// leaves no capture and no manifest.
func TestPullHTTPFailure(t *testing.T) {
	clearKubesharkEnv(t)
	hub := newHub(t, standin.Options{Faults: standin.Faults{DownloadCut: true}})
	ev := filepath.Join(t.TempDir(), "ev")
	code, _, stderr := run(t, append([]string{"pull", "--mcp-url", hub.MCPURL, "--hub-url", hub.URL, "-o", ev}, hubWindow(hub)...)...)
	if code != exitFailed || !strings.Contains(stderr, "cut short") || !strings.Contains(stderr, "--snapshot-id") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	entries, _ := os.ReadDir(filepath.Join(ev, "captures"))
	if len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
	if _, err := os.Stat(filepath.Join(ev, "manifest.json")); err == nil {
		t.Error("manifest written")
	}
}

// TestAnalyzeTamperedEvidence: a capture that changed after the pull is
// reported (exit 3), and still analyzed.
func TestAnalyzeTamperedEvidence(t *testing.T) {
	clearKubesharkEnv(t)
	hub := newHub(t, standin.Options{})
	ev := filepath.Join(t.TempDir(), "ev")
	if code, _, stderr := run(t, append([]string{"pull", "--mcp-url", hub.MCPURL, "--hub-url", hub.URL, "-o", ev, "-q"}, hubWindow(hub)...)...); code != exitOK {
		t.Fatalf("pull: %s", stderr)
	}
	em, _ := evidence.Open(ev)
	capPath := em.Captures()[0].Path
	b, _ := os.ReadFile(capPath)
	b[len(b)-1] ^= 0xff
	os.WriteFile(capPath, b, 0o644)
	// Its only input cannot be trusted: the analysis is written, the exit
	// code says failure.
	code, _, stderr := run(t, "analyze", ev, "-o", filepath.Join(t.TempDir(), "out"))
	if code == exitOK || !strings.Contains(stderr, "changed after the pull") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// TestDemoKubeshark: the demo pulls from the in-process stand-in and
// analyzes; its one-off token appears nowhere.
func TestDemoKubeshark(t *testing.T) {
	clearKubesharkEnv(t)
	const token = "demo-token-under-test-0042"
	old := demoTokenFunc
	demoTokenFunc = func() (string, error) { return token, nil }
	t.Cleanup(func() { demoTokenFunc = old })
	out := filepath.Join(t.TempDir(), "demo")
	for i := 0; i < 2; i++ { // a second run replaces the first one's evidence
		code, stdout, stderr := run(t, "demo", "-o", out)
		if code != exitOK {
			t.Fatalf("run %d: exit %d\n%s", i, code, stderr)
		}
		assertNoToken(t, token, []string{out}, stdout, stderr)
	}
	em, err := evidence.Open(filepath.Join(out, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	k := em.Manifest.Kubeshark
	if k.Dialect != kubeshark.DialectSnapshot || !k.TokenUsed || len(k.Evidence) != 4 || k.ProtocolVersion != "2024-11-05" {
		t.Errorf("provenance %+v", k)
	}
	m := readManifest(t, out)
	// The stand-in records the packets between two pods twice, as
	// Kubeshark does: 54 packets, 38 of them recorded at both ends.
	if len(m.Inputs) != 1 || m.Inputs[0].Packets != 92 || m.Inputs[0].LinkTypes[0].LinkType != 101 {
		t.Errorf("inputs %+v", m.Inputs)
	}
	if v := m.Inputs[0].Vantage; v == nil || v.DuplicatesFolded != 38 {
		t.Errorf("vantage counts %+v", v)
	}
	if md, _ := os.ReadFile(filepath.Join(out, "report.md")); !strings.Contains(string(md), "recorded packets at two vantage points") {
		t.Error("report.md does not say the capture held two vantage points")
	}
	// Both directories verify: the evidence against its pull step, the
	// output against its analyze step (which re-hashes the evidence capture).
	for _, dir := range []string{filepath.Join(out, "evidence"), out} {
		if code, stdout, stderr := run(t, "verify", dir); code != exitOK {
			t.Errorf("verify %s: exit %d\n%s%s", dir, code, stdout, stderr)
		}
	}
	b, _ := os.ReadFile(em.Captures()[0].Path)
	b[100] ^= 1
	os.WriteFile(em.Captures()[0].Path, b, 0o644)
	if code, stdout, _ := run(t, "verify", filepath.Join(out, "evidence")); code != exitFailed || !strings.Contains(stdout+"", "captures/snapshot-") {
		t.Errorf("verify after a byte flip: exit %d, %q", code, stdout)
	}
}

// TestDemoPerNode: demo --per-node pulls a capture per node; the analysis
// merges them and gives the flows of the merged demo, folded alike.
func TestDemoPerNode(t *testing.T) {
	clearKubesharkEnv(t)
	rows := map[bool][]report.FlowRow{}
	for _, perNode := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "demo")
		args := []string{"demo", "-o", out, "-q"}
		if perNode {
			args = append(args, "--per-node")
		}
		if code, _, stderr := run(t, args...); code != exitOK {
			t.Fatalf("demo %v: %s", args, stderr)
		}
		m := readManifest(t, out)
		var folded int64
		for _, in := range m.Inputs {
			if in.Vantage != nil {
				folded += in.Vantage.DuplicatesFolded
			}
		}
		if want := map[bool]int{false: 1, true: len(standin.Nodes)}[perNode]; len(m.Inputs) != want || folded != 38 {
			t.Errorf("per node %v: %d inputs, %d folded", perNode, len(m.Inputs), folded)
		}
		r, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range r {
			// capture_nodes: the nodes whose captures saw the flow, those
			// of its pods (10.244.N.x runs on worker-N); none for the merged
			// capture, which keeps no node per packet.
			want := ""
			if perNode {
				var seen []string
				for _, ip := range []string{r[i].SrcIP, r[i].DstIP} {
					if n := "worker-" + strings.Split(ip, ".")[2]; strings.HasPrefix(ip, "10.244.") && slices.Contains(standin.Nodes, n) && !slices.Contains(seen, n) {
						seen = append(seen, n)
					}
				}
				slices.Sort(seen)
				want = strings.Join(seen, ",")
			}
			if r[i].CaptureNodes != want {
				t.Errorf("per node %v: %s %s:%d -> %s:%d: capture_nodes %q, want %q", perNode, r[i].Proto, r[i].SrcIP, r[i].SrcPort, r[i].DstIP, r[i].DstPort, r[i].CaptureNodes, want)
			}
			r[i].CaptureNodes = ""
			r[i] = wireNumbers(r[i])
		}
		sort.Slice(r, func(i, j int) bool { return fmt.Sprint(r[i]) < fmt.Sprint(r[j]) })
		rows[perNode] = r
	}
	if !reflect.DeepEqual(rows[false], rows[true]) {
		t.Errorf("per-node demo flows differ from the merged demo's:\n%+v\n%+v", rows[false], rows[true])
	}
}

// TestTLSTwin: the stand-in's capture holds a TLS connection and its
// synthetic plaintext twin interleaved under one 5-tuple. After the whole
// pipeline, the wire flow's numbers are exactly those of the same capture
// without the twin, and the twin is a flow of its own, marked synthetic.
func TestTLSTwin(t *testing.T) {
	clearKubesharkEnv(t)
	out := filepath.Join(t.TempDir(), "demo")
	if code, _, stderr := run(t, "demo", "-o", out, "-q"); code != exitOK {
		t.Fatalf("demo: %s", stderr)
	}
	rows, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	cl, sv := standin.TLSClient, standin.TLSServer
	isTLS := func(r report.FlowRow) bool {
		return r.SrcIP == cl.Addr().String() && r.SrcPort == int32(cl.Port()) && r.DstIP == sv.Addr().String() && r.DstPort == int32(sv.Port())
	}
	var wire, twin []report.FlowRow
	for _, r := range rows {
		if isTLS(r) {
			if r.Synthetic {
				twin = append(twin, r)
			} else {
				wire = append(wire, r)
			}
		} else if r.Synthetic {
			t.Errorf("flow %s:%d -> %s:%d is marked synthetic", r.SrcIP, r.SrcPort, r.DstIP, r.DstPort)
		}
	}
	if len(wire) != 1 || len(twin) != 1 {
		t.Fatalf("TLS 5-tuple: %d wire flows and %d synthetic, want 1 and 1", len(wire), len(twin))
	}

	// The referee: the same capture without the twin.
	dir := t.TempDir()
	wireOnly := filepath.Join(dir, "wire-only.pcap")
	if err := os.WriteFile(wireOnly, scenario.Capture(false), 0o644); err != nil {
		t.Fatal(err)
	}
	refOut := filepath.Join(dir, "ref")
	if code, _, stderr := run(t, "analyze", wireOnly, "-o", refOut); code != exitOK {
		t.Fatalf("analyze wire-only: %s", stderr)
	}
	refRows, err := report.ReadFlows(filepath.Join(refOut, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var ref *report.FlowRow
	for i := range refRows {
		if isTLS(refRows[i]) {
			ref = &refRows[i]
		}
	}
	if ref == nil {
		t.Fatal("no TLS flow in the wire-only capture")
	}
	got, want := wireNumbers(wire[0]), wireNumbers(*ref)
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("the wire flow differs from the same capture without the twin:\ngot  %s\nwant %s", gj, wj)
	}
	// And by hand, from the scenario: 8 packets and 517+80+412 bytes from
	// the client, 5 and 1400+1173 from the server, SYN -> SYN/ACK 0.9 ms,
	// SYN/ACK -> ACK 0.1 ms.
	w := wire[0]
	if w.Vantages != 2 || w.DupPkts != 13 || twin[0].Vantages != 1 {
		t.Errorf("wire flow: vantages %d dup_pkts %d; twin vantages %d", w.Vantages, w.DupPkts, twin[0].Vantages)
	}
	if w.OrigPkts != 8 || w.RespPkts != 5 || w.OrigBytes != 1009 || w.RespBytes != 2573 || w.State != "SF" {
		t.Errorf("wire flow: pkts %d/%d bytes %d/%d state %s", w.OrigPkts, w.RespPkts, w.OrigBytes, w.RespBytes, w.State)
	}
	if w.RTTSynSynAckNs == nil || *w.RTTSynSynAckNs != 900_000 || w.RTTSynAckAckNs == nil || *w.RTTSynAckAckNs != 100_000 || *w.RTTHandshakeNs != 1_000_000 {
		t.Errorf("wire handshake RTTs %v %v %v", deref(w.RTTSynSynAckNs), deref(w.RTTSynAckAckNs), deref(w.RTTHandshakeNs))
	}
	// The twin: fake handshake, 383 plaintext bytes out and 1150 back.
	tw := twin[0]
	if tw.OrigPkts != 4 || tw.RespPkts != 3 || tw.OrigBytes != 383 || tw.RespBytes != 1150 {
		t.Errorf("twin: pkts %d/%d bytes %d/%d", tw.OrigPkts, tw.RespPkts, tw.OrigBytes, tw.RespBytes)
	}
}

// wireNumbers keeps what the capture alone determines: not the flow id and
// capture name, nor the Kubernetes identity and cross-check verdict, which
// come from Kubeshark's records in the evidence directory.
func wireNumbers(r report.FlowRow) report.FlowRow {
	r.FlowID, r.Capture = "", ""
	r.SrcPod, r.SrcNamespace, r.SrcService, r.SrcNode = "", "", "", ""
	r.DstPod, r.DstNamespace, r.DstService, r.DstNode = "", "", "", ""
	r.CrossCheck = ""
	// The demo's capture recorded the wire packets at both ends (the
	// twin's once): what the second vantage point adds is checked apart.
	r.DupPkts, r.Vantages, r.OrigTransitP50Ns, r.RespTransitP50Ns = 0, 0, nil, nil
	return r
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestDemoQuiet: --quiet, analyze's flag, also silences the pull steps of
// demo, as -q does; stderr stays empty on a clean run.
func TestDemoQuiet(t *testing.T) {
	clearKubesharkEnv(t)
	for _, flag := range []string{"-q", "--quiet"} {
		code, _, stderr := run(t, "demo", "-o", filepath.Join(t.TempDir(), "demo"), flag)
		if code != exitOK {
			t.Fatalf("demo %s: exit %d: %s", flag, code, stderr)
		}
		if stderr != "" {
			t.Errorf("demo %s wrote to stderr:\n%s", flag, stderr)
		}
	}
}
