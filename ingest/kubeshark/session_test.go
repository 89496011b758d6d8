package kubeshark

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/provenance"
)

// TestSessionCopesWithKubesharkQuirks: after a call times out, mcp-go sends
// notifications/cancelled; Kubeshark's server (handling one request at a
// time) answers the late call, then replies to the notification with an
// error whose id is null. Both must be ignored, and the next call must work.
func TestSessionCopesWithKubesharkQuirks(t *testing.T) {
	hub, err := standin.NewHub(standin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ep := Endpoint{Command: []string{standinBinary(t), "mcp", "--url", hub.URL, "--slow-on", "get_data_boundaries", "--slow", "300ms"}}
	s, err := Dial(bg(), ep, SessionOptions{CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ProtocolVersion != "2024-11-05" || s.ServerName != "kubeshark-mcp" || !strings.Contains(s.Instructions, "relative file path") {
		t.Errorf("initialize: %q %q %q", s.ProtocolVersion, s.ServerName, s.Instructions)
	}
	if !s.Has("download_file", "create_snapshot", "list_l4_flows") {
		t.Errorf("tools %v", s.ToolNames())
	}
	if tl, _ := s.Tool("get_snapshot"); tl.Props["id"] != "string" || len(tl.Required) != 1 {
		t.Errorf("get_snapshot schema %+v", tl)
	}
	_, err = s.Call(bg(), "get_data_boundaries", nil, 100*time.Millisecond)
	if KindOf(err) != KindTimeout {
		t.Fatalf("slow call: %v", err)
	}
	res, err := s.Call(bg(), "list_snapshots", nil, 3*time.Second)
	if err != nil {
		t.Fatalf("the call after a timeout: %v", err)
	}
	if res.IsError || !strings.Contains(res.Text, `"snapshots"`) {
		t.Errorf("list_snapshots answered %q", res.Text)
	}
	if !json.Valid(res.Raw) || !strings.Contains(string(res.Raw), `"content":[`) {
		t.Errorf("raw result %q", res.Raw)
	}
}

// TestSessionInProcess: the demo's wiring, the CLI stand-in on pipes.
func TestSessionInProcess(t *testing.T) {
	hub, err := standin.NewHub(standin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ep := Endpoint{Serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
		return standin.ServeCLI(ctx, in, out, standin.CLIOptions{URL: hub.URL})
	}}
	s, err := Dial(bg(), ep, SessionOptions{CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Call(bg(), "get_file_url", map[string]any{"path": "/mcp/x"}, 0)
	if err != nil || res.Text != hub.URL+"/api/mcp/x" {
		t.Errorf("get_file_url: %v %q", err, res.Text)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Error("Close hangs")
	}
}

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string]string{
		`kubeshark mcp --url https://k.example`:   "kubeshark|mcp|--url|https://k.example",
		`  a  'b c'  "d \"e\" $f" g\ h `:          `a|b c|d "e" $f|g h`,
		`/opt/kubeshark\ cli/kubeshark mcp`:       "/opt/kubeshark cli/kubeshark|mcp",
		`kubeshark mcp --url "http://x/?a=1&b=2"`: "kubeshark|mcp|--url|http://x/?a=1&b=2",
	} {
		got, err := SplitCommand(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`} {
		if _, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q): no error", bad)
		}
	}
}

func TestRedact(t *testing.T) {
	got := strings.Join(provenance.RedactArgs([]string{"kubeshark", "mcp", "--token", "abc", "--license-key=xyz", "--url", "https://u:p@h/x?token=q"}), " ")
	want := "kubeshark mcp --token REDACTED --license-key=REDACTED --url https://REDACTED@h/x?token=REDACTED"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	r := NewRedactor("s3cr3t")
	if err := r.Error(io.ErrUnexpectedEOF); err != io.ErrUnexpectedEOF {
		t.Error("an error without the secret was wrapped")
	}
	e := r.Error(newErr(KindAuth, "x s3cr3t", nil, ""))
	if strings.Contains(e.Error(), "s3cr3t") || KindOf(e) != KindAuth {
		t.Errorf("redacted error %v kind %q", e, KindOf(e))
	}
}

func TestParseWindow(t *testing.T) {
	now := time.Date(2026, 3, 14, 22, 0, 0, 0, time.UTC)
	w, err := ParseWindow("30m", "", "", now)
	if err != nil || w.From != now.Add(-30*time.Minute) || w.To != now {
		t.Errorf("--since 30m: %v %v", w, err)
	}
	w, err = ParseWindow("", "2026-03-14T21:00:00Z", "1773525600000", now)
	if err != nil || w.From != now.Add(-time.Hour) || !w.To.Equal(now) {
		t.Errorf("--from/--to: %v %v", w, err)
	}
	if w, _ := ParseWindow("1d", "", "", now); w.From != now.Add(-24*time.Hour) {
		t.Errorf("1d: %v", w)
	}
	for _, bad := range [][3]string{{"30m", "2026-03-14T21:00:00Z", ""}, {"", "", "2026-03-14T21:00:00Z"}, {"", "yesterday", ""}, {"-5m", "", ""}, {"", "2026-03-14T23:00:00Z", ""}} {
		if _, err := ParseWindow(bad[0], bad[1], bad[2], now); err == nil {
			t.Errorf("ParseWindow%q: no error", bad)
		}
	}
}

// TestSessionBanner: a wrapper script that prints a line before exec'ing
// the server still works; garbage after the first message does not (see
// TestPullFaults, malformed JSON-RPC).
func TestSessionBanner(t *testing.T) {
	hub, err := standin.NewHub(standin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ep := Endpoint{Command: []string{"sh", "-c", `echo "Kubeshark CLI wrapper v1"; exec "$0" mcp --url "$1"`, standinBinary(t), hub.URL}}
	s, err := Dial(bg(), ep, SessionOptions{CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Has("create_snapshot") {
		t.Errorf("tools %v", s.ToolNames())
	}
}

// TestSessionNotificationRejected: an HTTP server answering notifications
// with an error (as Kubeshark's stdio server answers most of them) does not
// fail the session.
func TestSessionNotificationRejected(t *testing.T) {
	hub, err := standin.NewHub(standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{RejectNotifications: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	s, err := Dial(bg(), Endpoint{URL: hub.MCPURL}, SessionOptions{CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Call(bg(), "get_data_boundaries", nil, 0)
	if err != nil || res.IsError {
		t.Fatalf("%v %+v", err, res)
	}
}
