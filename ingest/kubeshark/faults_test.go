package kubeshark

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

// TestPullFaults runs the pull against a stand-in that misbehaves, over both
// transports, and checks the error's kind, that its message names the fix,
// and that nothing that looks complete was left behind.
func TestPullFaults(t *testing.T) {
	const token = "tok-SECRET-77"
	cases := []struct {
		name   string
		trs    []string
		opts   standin.Options
		token  string // the client's
		mod    func(*Request)
		kind   Kind
		want   []string
		wantTr map[string][]string // extra, per transport
	}{
		{
			name: "server exits mid-call",
			opts: standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{ExitOn: "create_snapshot"}}},
			kind: KindServerExited,
			want: []string{"tools/call create_snapshot", "is Kubeshark running"},
			wantTr: map[string][]string{
				"stdio": {"exit status 1", "crashed while calling create_snapshot"},
				"http":  {"closed the connection without an answer"},
			},
		},
		{
			name: "slow server",
			opts: standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{SlowOn: "get_snapshot", Slow: 3 * time.Second}}},
			mod:  func(r *Request) { r.Session.CallTimeout = 300 * time.Millisecond },
			kind: KindTimeout,
			want: []string{"tools/call get_snapshot", "no answer within 300ms", "raise --timeout"},
		},
		{
			name: "slow hub behind the server",
			opts: standin.Options{Faults: standin.Faults{HubSlow: map[string]time.Duration{"export_snapshot_pcap": 3 * time.Second}}},
			mod:  func(r *Request) { r.Session.CallTimeout = 300 * time.Millisecond },
			kind: KindTimeout,
			want: []string{"tools/call export_snapshot_pcap", "no answer within 300ms"},
		},
		{
			name: "isError",
			opts: standin.Options{Faults: standin.Faults{ToolError: map[string]string{"export_snapshot_pcap": `{"error":"merging pcap files: disk full"}`}}},
			kind: KindToolError,
			want: []string{"tools/call export_snapshot_pcap", "isError", "Hub API error (500)", "disk full", "kubeshark-hub"},
		},
		{
			name:  "401 without a token",
			opts:  standin.Options{Token: token},
			kind:  KindAuth,
			want:  []string{"kubectl create token kubeshark-cli", "KUBESHARK_HUB_TOKEN"},
			token: "",
		},
		{
			name:  "401 with a wrong token",
			opts:  standin.Options{Token: token},
			token: "wrong-token-123",
			kind:  KindAuth,
			want:  []string{"kubectl create token kubeshark-cli"},
		},
		{
			name:  "401 on the download only",
			opts:  standin.Options{Token: token, Faults: standin.Faults{DownloadUnauthorized: true}},
			token: token,
			kind:  KindAuth,
			want:  []string{"401", "kubectl create token kubeshark-cli"},
		},
		{
			name: "snapshot stuck",
			opts: standin.Options{Faults: standin.Faults{SnapshotStuck: true}},
			mod:  func(r *Request) { r.SnapshotTimeout = 100 * time.Millisecond },
			kind: KindSnapshotStuck,
			want: []string{"still in_progress after 100ms", "--snapshot-timeout", "--snapshot-id 9b0d4b2b"},
		},
		{
			name: "snapshot failed",
			opts: standin.Options{Faults: standin.Faults{SnapshotFailed: true}},
			kind: KindSnapshotFailed,
			want: []string{"snapshot 9b0d4b2b", "failed: no raw capture files", "tap.capture.raw.enabled"},
		},
		{
			name: "download cut short",
			opts: standin.Options{Faults: standin.Faults{DownloadCut: true}},
			kind: KindDownload,
			want: []string{"cut short after", "retry", "--snapshot-id 9b0d4b2b"},
		},
		{
			name: "oversize download",
			mod:  func(r *Request) { r.MaxCaptureBytes = 2000 },
			kind: KindTooLarge,
			want: []string{"the capture is 10.5 KiB, more than --max-capture (2.0 KiB)", "narrow the window"},
		},
		{
			name: "oversize download without length",
			opts: standin.Options{Faults: standin.Faults{DownloadChunked: true}},
			mod:  func(r *Request) { r.MaxCaptureBytes = 2000 },
			kind: KindTooLarge,
			want: []string{"larger than --max-capture (2.0 KiB)"},
		},
		{
			name: "download HTTP 500",
			opts: standin.Options{Faults: standin.Faults{DownloadStatus: 500}},
			kind: KindDownload,
			want: []string{"HTTP 500", "injected failure"},
		},
		{
			name: "malformed JSON-RPC",
			opts: standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{MalformedOn: "get_snapshot"}}},
			kind: KindProtocol,
			wantTr: map[string][]string{
				"stdio": {"not a JSON-RPC object", "only newline-delimited JSON-RPC"},
				"http":  {"tools/call get_snapshot", "not valid JSON-RPC", "unexpected EOF"},
			},
		},
		{
			name: "answer that is not JSON",
			opts: standin.Options{Faults: standin.Faults{NotJSON: map[string]string{"create_snapshot": "Internal evidence.Server Error"}}},
			kind: KindProtocol,
			want: []string{"create_snapshot", "no snapshot id in its answer", "Internal evidence.Server Error", "--snapshot-id"},
		},
		{
			name: "oversize answer",
			opts: standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{OversizeOn: "create_snapshot", OversizeBytes: 300 << 10}}},
			mod:  func(r *Request) { r.Session.MaxResponseBytes = 256 << 10 },
			kind: KindTooLarge,
			want: []string{"262144-byte cap", "--max-response"},
		},
		{
			name: "empty capture",
			opts: standin.Options{Faults: standin.Faults{EmptyCapture: true}},
			kind: KindEmptyCapture,
			want: []string{"no packets", "check the window and retention"},
		},
		{
			name: "window outside retention",
			mod: func(r *Request) {
				r.Window = Window{From: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2030, 1, 1, 0, 30, 0, 0, time.UTC)}
			},
			kind: KindEmptyCapture,
			want: []string{"outside the raw capture Kubeshark holds", "check the window and retention"},
		},
		{
			name: "tool missing",
			opts: standin.Options{Dialect: standin.ExportPcap},
			mod:  func(r *Request) { r.Dialect = DialectSnapshot },
			kind: KindToolMissing,
			want: []string{"does not offer create_snapshot, get_snapshot and export_snapshot_pcap", "it offers: apply_filter, capture_traffic, ", "export_pcap"},
		},
		// The export_pcap dialect.
		{
			name: "export_pcap: server exits mid-call",
			opts: standin.Options{Dialect: standin.ExportPcap, Faults: standin.Faults{MCP: standin.MCPFaults{ExitOn: "export_pcap"}}},
			kind: KindServerExited,
			want: []string{"tools/call export_pcap"},
		},
		{
			name: "export_pcap: slow",
			opts: standin.Options{Dialect: standin.ExportPcap, Faults: standin.Faults{MCP: standin.MCPFaults{SlowOn: "export_pcap", Slow: 3 * time.Second}}},
			mod:  func(r *Request) { r.Session.CallTimeout = 300 * time.Millisecond },
			kind: KindTimeout,
			want: []string{"tools/call export_pcap", "no answer within 300ms"},
		},
		{
			name: "export_pcap: isError",
			opts: standin.Options{Dialect: standin.ExportPcap, Faults: standin.Faults{ToolError: map[string]string{"export_pcap": "capture buffer overflow"}}},
			kind: KindToolError,
			want: []string{"tools/call export_pcap", "Hub API error (500): capture buffer overflow"},
		},
		{
			name: "export_pcap: malformed JSON-RPC",
			opts: standin.Options{Dialect: standin.ExportPcap, Faults: standin.Faults{MCP: standin.MCPFaults{MalformedOn: "export_pcap"}}},
			kind: KindProtocol,
		},
		{
			name:  "export_pcap: 401",
			opts:  standin.Options{Dialect: standin.ExportPcap, Token: token},
			token: "",
			kind:  KindAuth,
			want:  []string{"kubectl create token kubeshark-cli"},
		},
		{
			name: "export_pcap: download cut short",
			opts: standin.Options{Dialect: standin.ExportPcap, Faults: standin.Faults{DownloadCut: true}},
			kind: KindDownload,
			want: []string{"cut short after"},
		},
		{
			name: "export_pcap: oversize base64",
			opts: standin.Options{Dialect: standin.ExportPcap, ExportResult: standin.ExportBase64},
			mod:  func(r *Request) { r.MaxCaptureBytes = 2000 },
			kind: KindTooLarge,
			want: []string{"more than --max-capture (2.0 KiB)"},
		},
		{
			name: "export_pcap: empty capture",
			opts: standin.Options{Dialect: standin.ExportPcap, Faults: standin.Faults{EmptyCapture: true}},
			kind: KindEmptyCapture,
			want: []string{"check the window and retention"},
		},
		{
			name: "snapshot id unknown",
			mod:  func(r *Request) { r.SnapshotID = "nope-1" },
			kind: KindToolError,
			want: []string{`no snapshot "nope-1"`, "list_snapshots"},
		},
		{
			name: "no workload matches",
			mod:  func(r *Request) { r.Selection = Selection{NS: "shop", Pod: "^nginx"} },
			kind: KindNoMatch,
			want: []string{`pods matching "^nginx" in namespace "shop"`, "no workload matches", "kubectl get pods"},
		},
	}
	for _, tc := range cases {
		trs := tc.trs
		if trs == nil {
			trs = transports
		}
		for _, tr := range trs {
			t.Run(tc.name+"/"+tr, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, tr, tc.opts, tc.token)
				req := f.request(t)
				// A fault must be reported when it happens, not when a
				// timeout runs out: the timeouts are far beyond the bound
				// below (a loaded machine with the race detector can take
				// seconds for a fast path), except where a case sets its own.
				req.Session.CallTimeout, req.SnapshotTimeout = time.Minute, time.Minute
				if tc.mod != nil {
					tc.mod(&req)
				}
				var log strings.Builder
				req.Log = func(format string, args ...any) { log.WriteString(sprintf(format, args...) + "\n") }
				start := time.Now()
				_, err := Pull(bg(), req)
				if err == nil {
					t.Fatal("no error")
				}
				if d := time.Since(start); d > 30*time.Second {
					t.Errorf("took %v: the fault waited for a timeout", d)
				}
				if k := KindOf(err); k != tc.kind {
					t.Errorf("kind %q, want %q: %v", k, tc.kind, err)
				}
				mustContain(t, err.Error(), tc.want...)
				mustContain(t, err.Error(), tc.wantTr[tr]...)
				noCompleteFiles(t, req.Dir)
				assertNoSecret(t, token, req.Dir, err.Error(), log.String())
			})
		}
	}
}

// TestConnectErrors: nothing to talk to.
func TestConnectErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		ep   Endpoint
		want []string
	}{
		"http refused":      {Endpoint{URL: closedURL(t) + "/mcp"}, []string{"connection refused", "is Kubeshark running", "port-forward"}},
		"command not found": {Endpoint{Command: []string{"kubeshark-does-not-exist", "mcp"}}, []string{"executable file not found", "install the Kubeshark CLI"}},
		"command fails":     {Endpoint{Command: []string{standinBinary(t), "mcp", "--url", closedURL(t)}}, []string{"exited (exit status 1)", "cannot reach Kubeshark", "is Kubeshark running"}},
		"nothing given":     {Endpoint{}, []string{"give --mcp-command"}},
	} {
		t.Run(name, func(t *testing.T) {
			req := Request{Endpoint: tc.ep, Dir: filepath.Join(dir, name), Session: SessionOptions{CallTimeout: 2 * time.Second}}
			_, err := Pull(bg(), req)
			if err == nil {
				t.Fatal("no error")
			}
			mustContain(t, err.Error(), tc.want...)
			noCompleteFiles(t, req.Dir)
		})
	}
}

// TestPullRefusesExistingEvidence: evidence is never mixed.
func TestPullRefusesExistingEvidence(t *testing.T) {
	f := newFixture(t, "http", standin.Options{}, "")
	req := f.request(t)
	if _, err := Pull(bg(), req); err != nil {
		t.Fatal(err)
	}
	_, err := Pull(bg(), req)
	if KindOf(err) != KindUsage || !strings.Contains(err.Error(), "already holds a manifest.json") {
		t.Errorf("second pull: %v", err)
	}
}

// TestPartialEvidence: a failing evidence tool leaves a complete directory
// and ErrPartial.
func TestPartialEvidence(t *testing.T) {
	f := newFixture(t, "stdio", standin.Options{Faults: standin.Faults{ToolError: map[string]string{"list_l4_flows": "flowtracer unavailable"}}}, "")
	req := f.request(t)
	m, err := Pull(bg(), req)
	if !errors.Is(err, ErrPartial) || m == nil {
		t.Fatalf("err %v", err)
	}
	checkEvidenceDir(t, req.Dir, m)
	mustContain(t, strings.Join(m.Warnings, "\n"), "list_l4_flows failed", "flowtracer unavailable")
	if _, err := os.Stat(filepath.Join(req.Dir, "kubeshark", "list_l4_flows.json")); err == nil {
		t.Error("a failed answer was saved as evidence")
	}
}
