package kubeshark

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

// ipOf returns the source and destination of a bare IPv4 packet.
func ipOf(p []byte) (string, string) {
	return net.IP(p[12:16]).String(), net.IP(p[16:20]).String()
}

// TestPullSnapshot: the real route, over a spawned stdio server and over
// streamable HTTP: snapshot, workload selection through list_workloads, BPF
// export, HTTP download from the Hub, evidence saved and hashed.
func TestPullSnapshot(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			f := newFixture(t, tr, standin.Options{}, "")
			req := f.request(t)
			req.Selection = Selection{NS: "shop", Pod: "^frontend-"}
			var log bytes.Buffer
			req.Log = func(format string, args ...any) { log.WriteString(sprintf(format, args...) + "\n") }
			m, err := Pull(bg(), req)
			if err != nil {
				t.Fatalf("%v\nlog:\n%s", err, log.String())
			}
			checkEvidenceDir(t, req.Dir, m)
			k := m.Kubeshark
			if k.Dialect != DialectSnapshot || k.Transport != tr {
				t.Errorf("dialect %q transport %q", k.Dialect, k.Transport)
			}
			if k.Server.Name != "kubeshark-mcp" || k.Server.Version != "1.0.0" {
				t.Errorf("server %+v", k.Server)
			}
			if tr == "stdio" && k.ProtocolVersion != "2024-11-05" {
				t.Errorf("protocol %q: the stand-in answers 2024-11-05", k.ProtocolVersion)
			}
			if k.BPFFilter != "host 10.244.1.15" || len(k.SelectedIPs) != 1 || k.SelectedIPs[0].Name != standin.Frontend.Name {
				t.Errorf("bpf %q, selected %+v", k.BPFFilter, k.SelectedIPs)
			}
			if k.Snapshot == nil || k.Snapshot.Status != "completed" || k.Snapshot.Polls != 2 {
				t.Errorf("snapshot %+v", k.Snapshot)
			}
			for _, tool := range []string{"list_l4_flows", "get_l4_flow_summary", "list_workloads"} {
				ev, _ := evidence.Open(req.Dir)
				path := ev.File(tool)
				if path == "" {
					t.Errorf("no %s evidence", tool)
					continue
				}
				b, _ := os.ReadFile(path)
				if !json.Valid(b) {
					t.Errorf("%s is not JSON", path)
				}
			}
			// The saved list_l4_flows answer is the server's text, byte for byte.
			if tr == "stdio" {
				b, _ := os.ReadFile(filepath.Join(req.Dir, "kubeshark", "list_l4_flows.json"))
				if !bytes.HasPrefix(b, []byte("{\n  \"flows\": [")) {
					t.Errorf("list_l4_flows.json starts %q", b[:min(40, len(b))])
				}
			}
			// Only the selected pod's packets.
			c := k.Captures[0]
			if !strings.HasPrefix(c.File, "captures/snapshot-") || c.Format != "pcap" || c.Packets == 0 {
				t.Errorf("capture %+v", c)
			}
			pkts := capturePackets(t, filepath.Join(req.Dir, c.File))
			for _, p := range pkts {
				if s, d := ipOf(p); s != "10.244.1.15" && d != "10.244.1.15" {
					t.Fatalf("packet %s -> %s is not the frontend's", s, d)
				}
			}
			if int64(len(pkts)) != c.Packets {
				t.Errorf("%d packets, manifest says %d", len(pkts), c.Packets)
			}
			mustContain(t, c.Source, "kubeshark snapshot ", "kubeshark-mcp 1.0.0 ("+tr+")", `bpf "host 10.244.1.15"`)
			mustContain(t, c.Via, "http GET "+f.hub.URL+"/api/mcp/snapshots/")
			// The Hub got the window in Unix ms and the BPF filter.
			var created, exported map[string]any
			for _, call := range f.hub.Calls() {
				switch call.Tool {
				case "create_snapshot":
					created = call.Arguments
				case "export_snapshot_pcap":
					exported = call.Arguments
				}
			}
			from, to := f.hub.Window()
			if sprintf("%v", created["start_time"]) != sprintf("%d", from.UnixMilli()) || sprintf("%v", created["end_time"]) != sprintf("%d", to.UnixMilli()) {
				t.Errorf("create_snapshot arguments %v", created)
			}
			if exported["bpf_filter"] != "host 10.244.1.15" {
				t.Errorf("export_snapshot_pcap arguments %v", exported)
			}
			mustContain(t, log.String(), "route: snapshot", "selected 1 IPs")
		})
	}
}

// TestPullWholeCapture: without a selection the capture is the Hub's, byte
// for byte.
func TestPullWholeCapture(t *testing.T) {
	f := newFixture(t, "stdio", standin.Options{}, "")
	req := f.request(t)
	m, err := Pull(bg(), req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(req.Dir, m.Kubeshark.Captures[0].File))
	if !bytes.Equal(got, standin.Capture()) {
		t.Errorf("capture differs from the Hub's (%d vs %d bytes)", len(got), len(standin.Capture()))
	}
	if m.Kubeshark.BPFFilter != "" {
		t.Errorf("bpf %q", m.Kubeshark.BPFFilter)
	}
}

// TestPullNodes: --nodes narrows the merged capture to those nodes.
func TestPullNodes(t *testing.T) {
	f := newFixture(t, "stdio", standin.Options{}, "")
	req := f.request(t)
	req.Selection = Selection{Nodes: []string{"worker-3"}}
	m, err := Pull(bg(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range capturePackets(t, filepath.Join(req.Dir, m.Kubeshark.Captures[0].File)) {
		if s, d := ipOf(p); s != standin.Payments.IP.String() && d != standin.Payments.IP.String() {
			t.Fatalf("packet %s -> %s does not touch worker-3", s, d)
		}
	}
	for _, c := range f.hub.Calls() {
		if c.Tool == "export_snapshot_pcap" && sprintf("%v", c.Arguments["nodes"]) != "[worker-3]" {
			t.Errorf("export arguments %v", c.Arguments)
		}
	}
}

func TestPullServiceAndBPF(t *testing.T) {
	f := newFixture(t, "http", standin.Options{}, "")
	req := f.request(t)
	req.Selection = Selection{NS: "shop", Pod: "^checkout", Svc: "redis", BPF: "tcp"}
	m, err := Pull(bg(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "(host 10.96.30.7 or host 10.244.2.20) and (tcp)" // numeric order
	if m.Kubeshark.BPFFilter != want {
		t.Errorf("bpf %q, want %q", m.Kubeshark.BPFFilter, want)
	}
}

// TestPullExportPcap: the export_pcap dialect, every way it can hand over
// the capture; blob and resource links exist only over streamable HTTP (the
// CLI proxy turns every answer into text).
func TestPullExportPcap(t *testing.T) {
	modes := map[string][]string{
		standin.ExportPath:   {"stdio", "http"},
		standin.ExportURL:    {"stdio", "http"},
		standin.ExportBase64: {"stdio", "http"},
		standin.ExportText:   {"stdio", "http"},
		standin.ExportBlob:   {"http"},
		standin.ExportLink:   {"http"},
	}
	for mode, trs := range modes {
		for _, tr := range trs {
			t.Run(mode+"/"+tr, func(t *testing.T) {
				f := newFixture(t, tr, standin.Options{Dialect: standin.ExportPcap, ExportResult: mode}, "")
				req := f.request(t)
				req.Selection = Selection{NS: "payments", KFL: "tls"}
				m, err := Pull(bg(), req)
				if err != nil && err != ErrPartial {
					t.Fatal(err)
				}
				k := m.Kubeshark
				if k.Dialect != DialectExportPcap || !k.Selection.KFLUsed {
					t.Errorf("dialect %q kfl used %v", k.Dialect, k.Selection.KFLUsed)
				}
				pkts := capturePackets(t, filepath.Join(req.Dir, k.Captures[0].File))
				if len(pkts) == 0 {
					t.Fatal("empty capture")
				}
				for _, p := range pkts {
					if s, d := ipOf(p); s != "10.244.3.30" && d != "10.244.3.30" {
						t.Fatalf("packet %s -> %s is not the payments pod's", s, d)
					}
				}
				// The single-tool dialect offers no L4 evidence: warned, not failed.
				if len(m.Warnings) == 0 || !strings.Contains(strings.Join(m.Warnings, "\n"), "list_l4_flows") {
					t.Errorf("warnings %q", m.Warnings)
				}
				checkEvidenceDir(t, req.Dir, m)
				var args map[string]any
				for _, c := range f.hub.Calls() {
					if c.Tool == "export_pcap" {
						args = c.Arguments
					}
				}
				from, _ := f.hub.Window()
				if args["namespace"] != "payments" || args["kfl"] != "tls" || args["start_time"] != from.UTC().Format("2006-01-02T15:04:05.999999999Z07:00") {
					t.Errorf("export_pcap arguments %v", args)
				}
			})
		}
	}
}

// TestPullExportLocalFile: an export_pcap that answers with the path of a
// file on this host is refused: flowproof never reads a local file a server
// names, and the file is left as it was.
func TestPullExportLocalFile(t *testing.T) {
	for _, hubURL := range []bool{false, true} {
		dir := t.TempDir()
		f := newFixture(t, "stdio", standin.Options{Dialect: standin.ExportPcap, ExportResult: standin.ExportFile, ExportDir: dir}, "")
		req := f.request(t)
		if !hubURL {
			req.HubURL = ""
		}
		_, err := Pull(bg(), req)
		if err == nil {
			t.Fatalf("hub url %v: a local path was accepted", hubURL)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("hub url %v: the server's file was moved or removed: %v", hubURL, entries)
		}
		if _, err := os.Stat(filepath.Join(req.Dir, evidence.ManifestFile)); err == nil {
			t.Errorf("hub url %v: evidence written", hubURL)
		}
	}
}

// TestPullSnapshotID reuses an existing snapshot: no create_snapshot.
func TestPullSnapshotID(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			f := newFixture(t, tr, standin.Options{Snapshots: []string{"incident-42"}}, "")
			req := f.request(t)
			req.Window = Window{}
			req.SnapshotID = "incident-42"
			m, err := Pull(bg(), req)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range f.hub.Calls() {
				if c.Tool == "create_snapshot" {
					t.Error("create_snapshot called with --snapshot-id")
				}
			}
			k := m.Kubeshark
			if k.Snapshot.ID != "incident-42" || !k.Snapshot.Reused || k.Window == nil || k.Window.Source != "snapshot" {
				t.Errorf("snapshot %+v window %+v", k.Snapshot, k.Window)
			}
			if !strings.HasSuffix(k.Captures[0].File, "snapshot-incident-42.pcap") {
				t.Errorf("capture %s", k.Captures[0].File)
			}
		})
	}
}

// TestPullDownloadFallback: with no reachable Hub URL the capture comes
// through the server's download_file; with no Hub URL at all, through the
// URL get_file_url builds.
func TestPullDownloadFallback(t *testing.T) {
	t.Run("unreachable hub url", func(t *testing.T) {
		f := newFixture(t, "stdio", standin.Options{}, "")
		req := f.request(t)
		req.HubURL = closedURL(t)
		m, err := Pull(bg(), req)
		if err != nil {
			t.Fatal(err)
		}
		c := m.Kubeshark.Captures[0]
		if !strings.HasPrefix(c.Via, "download_file /mcp/snapshots/") {
			t.Errorf("via %q", c.Via)
		}
		mustContain(t, strings.Join(m.Warnings, "\n"), "falling back to the server's download_file", "is Kubeshark running")
		checkEvidenceDir(t, req.Dir, m)
	})
	t.Run("no hub url", func(t *testing.T) {
		f := newFixture(t, "stdio", standin.Options{}, "")
		req := f.request(t)
		req.HubURL = ""
		m, err := Pull(bg(), req)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, m.Kubeshark.Captures[0].Via, "http GET "+f.hub.URL+"/api/mcp/snapshots/")
	})
	t.Run("hub url is the Hub itself", func(t *testing.T) {
		// Port 8898 is the Hub: its paths lack the front's /api prefix.
		f := newFixture(t, "http", standin.Options{}, "")
		req := f.request(t)
		req.HubURL = f.hub.URL + "/api" // a URL under which /api/... 404s but /... works
		m, err := Pull(bg(), req)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, strings.Join(m.Warnings, "\n"), "answered 404", "the Hub itself")
	})
	t.Run("no hub url over HTTP", func(t *testing.T) {
		// A single export_pcap tool answering a relative path, no --hub-url:
		// the MCP server's host is tried.
		f := newFixture(t, "http", standin.Options{Dialect: standin.ExportPcap}, "")
		req := f.request(t)
		req.HubURL = ""
		m, err := Pull(bg(), req)
		if err != nil && err != ErrPartial {
			t.Fatal(err)
		}
		mustContain(t, strings.Join(m.Warnings, "\n"), "no --hub-url: the capture was fetched from the MCP server's host")
	})
	t.Run("prose path", func(t *testing.T) {
		f := newFixture(t, "stdio", standin.Options{PathStyle: "prose"}, "")
		req := f.request(t)
		req.Selection = Selection{Pod: "^redis"}
		m, err := Pull(bg(), req)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kubeshark.Captures[0].Packets == 0 {
			t.Error("no packets")
		}
	})
}

// closedURL returns an http URL on a port nothing listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestPullToken: a gated Hub, the token passed to the spawned CLI through its
// environment and to the Hub downloads as X-Kubeshark-Authorization, and
// never written anywhere.
func TestPullToken(t *testing.T) {
	const token = "tok-3f9a1c-SECRET"
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			f := newFixture(t, tr, standin.Options{Token: token}, token)
			req := f.request(t)
			req.Command = []string{"flowproof", "pull", "--token", token, "--mcp-command", "kubeshark mcp --token=" + token}
			var log bytes.Buffer
			req.Log = func(format string, args ...any) { log.WriteString(sprintf(format, args...) + "\n") }
			m, err := Pull(bg(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Kubeshark.TokenUsed {
				t.Error("token_used false")
			}
			assertNoSecret(t, token, req.Dir, log.String())
		})
	}
}

// assertNoSecret fails if secret appears in any file under dir or in texts.
func assertNoSecret(t *testing.T, secret, dir string, texts ...string) {
	t.Helper()
	for i, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("text %d holds the token: %s", i, s)
		}
	}
	if dir == "" {
		return
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the token", path)
		}
		return nil
	})
}

// TestPullPerNode: --per-node exports the snapshot once per node that
// get_data_boundaries names (its nodes argument), saves each as
// captures/NODE-snapshot-ID.pcap with the node in the manifest, owner-only
// like every capture, and the nodes' captures hold the merged capture's
// records, each once; the doubled capture's too.
func TestPullPerNode(t *testing.T) {
	for _, tr := range transports {
		for _, doubled := range []bool{false, true} {
			t.Run(sprintf("%s/doubled=%v", tr, doubled), func(t *testing.T) {
				f := newFixture(t, tr, standin.Options{Doubled: doubled}, "")
				req := f.request(t)
				req.PerNode = true
				m, err := Pull(bg(), req)
				if err != nil {
					t.Fatal(err)
				}
				checkEvidenceDir(t, req.Dir, m)
				caps := m.Kubeshark.Captures
				if len(caps) != len(standin.Nodes) {
					t.Fatalf("captures %+v", caps)
				}
				total := 0
				for i, c := range caps {
					n := standin.Nodes[i]
					if c.Node != n || c.File != "captures/"+n+"-snapshot-"+m.Kubeshark.Snapshot.ID+".pcap" || !strings.Contains(c.Source, "node "+n) {
						t.Errorf("capture %d: %+v", i, c)
					}
					st, err := os.Stat(filepath.Join(req.Dir, c.File))
					if err != nil || st.Mode().Perm() != 0o600 {
						t.Errorf("%s: %v %v", c.File, st.Mode(), err)
					}
					total += len(capturePackets(t, filepath.Join(req.Dir, c.File)))
				}
				data := standin.Capture()
				if doubled {
					data = standin.DoubledCapture()
				}
				merged := filepath.Join(t.TempDir(), "merged.pcap")
				os.WriteFile(merged, data, 0o600)
				if want := len(capturePackets(t, merged)); total != want {
					t.Errorf("the nodes' captures hold %d packets, the merged capture %d", total, want)
				}
				exports := 0
				for _, c := range f.hub.Calls() {
					if c.Tool == "export_snapshot_pcap" {
						if sprintf("%v", c.Arguments["nodes"]) != "["+standin.Nodes[exports]+"]" {
							t.Errorf("export %d arguments %v", exports, c.Arguments)
						}
						exports++
					}
				}
				if exports != len(standin.Nodes) {
					t.Errorf("%d exports", exports)
				}
			})
		}
	}
}

// TestPullPerNodeHostileNames: node names are the server's words: a path,
// escapes, a name twice, too many names. Captures stay under captures/ with
// names flowproof chose, none overwrites another, escapes are neutralised,
// and a list of thousands is refused, leaving nothing.
func TestPullPerNodeHostileNames(t *testing.T) {
	names := []string{"../../../tmp/pwned", "worker-1", "worker-1", "\x1b[2Kworker-2", "worker/2"}
	f := newFixture(t, "http", standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{NodeNames: names}}}, "")
	req := f.request(t)
	req.PerNode = true
	m, err := Pull(bg(), req)
	if !errors.Is(err, ErrPartial) { // the nodes' packets do not add up to the snapshot's
		t.Fatal(err)
	}
	checkEvidenceDir(t, req.Dir, m)
	if len(m.Kubeshark.Captures) != 1 || m.Kubeshark.Captures[0].Node != "worker-1" {
		t.Errorf("captures %+v", m.Kubeshark.Captures)
	}
	b, _ := os.ReadFile(filepath.Join(req.Dir, evidence.ManifestFile))
	if bytes.ContainsAny(b, "\x1b\x07\u009b") { // JSON escapes them in the calls' arguments
		t.Errorf("manifest.json holds a raw escape:\n%s", b)
	}
	if _, err := os.Stat("/tmp/pwned-snapshot-" + m.Kubeshark.Snapshot.ID + ".pcap"); err == nil {
		t.Error("a capture was written outside the evidence directory")
	}

	many := make([]string, maxPerNode+1)
	for i := range many {
		many[i] = sprintf("node-%d", i)
	}
	f = newFixture(t, "http", standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{NodeNames: many}}}, "")
	req = f.request(t)
	req.PerNode = true
	if _, err := Pull(bg(), req); err == nil || !strings.Contains(err.Error(), "nodes") {
		t.Errorf("%d nodes: err %v", len(many), err)
	}
	noCompleteFiles(t, req.Dir)
}

// TestPullPerNodeFails: when a node's download fails after other nodes'
// captures were fetched, the pull fails and leaves nothing: no capture
// that looks complete, no manifest.
func TestPullPerNodeFails(t *testing.T) {
	f := newFixture(t, "http", standin.Options{Faults: standin.Faults{FailNode: standin.Nodes[len(standin.Nodes)-1]}}, "")
	req := f.request(t)
	req.PerNode = true
	if _, err := Pull(bg(), req); err == nil || errors.Is(err, ErrPartial) {
		t.Fatalf("err %v, want a failure", err)
	}
	noCompleteFiles(t, req.Dir)
}
