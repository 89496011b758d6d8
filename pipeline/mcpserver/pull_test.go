package mcpserver_test

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/parquet-go/parquet-go"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/pipeline/mcpserver"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// standinPull configures pull_and_analyze with the in-repo Kubeshark
// stand-in, as "flowproof demo" does: the connection is the server's.
func standinPull(t *testing.T, faults standin.Faults) (func(mcpserver.PullParams) (kubeshark.Request, error), *standin.Hub, string) {
	t.Helper()
	const token = "hub-token-never-written"
	hub, err := standin.NewHub(standin.Options{Token: token, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	return func(p mcpserver.PullParams) (kubeshark.Request, error) {
		w, err := kubeshark.ParseWindow(p.Since, p.From, p.To, time.Now())
		if err != nil {
			return kubeshark.Request{}, err
		}
		return kubeshark.Request{
			Endpoint: kubeshark.Endpoint{
				Serve: func(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
					return standin.ServeCLI(ctx, stdin, stdout, standin.CLIOptions{URL: hub.URL, Token: token})
				},
				Token: token,
			},
			HubURL:          hub.URL,
			Window:          w,
			WindowText:      "from/to",
			Selection:       kubeshark.Selection{NS: p.Namespace, Pod: p.Pod, Svc: p.Service, BPF: p.BPF},
			Dir:             p.Dir,
			Session:         kubeshark.SessionOptions{CallTimeout: 30 * time.Second},
			PollInterval:    10 * time.Millisecond,
			Command:         p.Command,
			ToolName:        "flowproof",
			ToolVersion:     "test",
			SnapshotTimeout: time.Minute,
		}, nil
	}, hub, token
}

// TestPullAndAnalyze runs pull_and_analyze against the stand-in over both
// transports: the evidence is pulled into output_dir/evidence, analyzed,
// cross-checked, with progress, and the Hub token is written nowhere.
func TestPullAndAnalyze(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			pull, hub, token := standinPull(t, standin.Faults{})
			root := t.TempDir()
			s := newServer(t, mcpserver.Options{Roots: []string{root}, Pull: pull})
			prog := newProgressLog()
			cs := tr.connect(t, s, newClient(prog), "")
			from, to := hub.Window()
			text, isErr := callTool(t, context.Background(), cs, "pull_and_analyze", map[string]any{
				"from": from.UTC().Format(time.RFC3339Nano), "to": to.Add(time.Second).UTC().Format(time.RFC3339Nano),
				"output_dir": "incident",
			}, 7)
			if isErr {
				t.Fatalf("pull_and_analyze: %s", text)
			}
			a := decodeAnswer[analysisAnswer](t, text)
			out := filepath.Join(root, "incident")
			if a.OutputDir != out || a.Evidence == nil || len(a.Evidence.Captures) != 1 || a.Evidence.Answers == 0 || a.Flows == 0 || a.Captures != 1 {
				t.Fatalf("answer %s", text)
			}
			if a.CrossCheck["match"] == 0 {
				t.Errorf("cross-check verdicts %v, want matches", a.CrossCheck)
			}
			pulled := false
			ps := prog.all()
			for i, p := range ps {
				pulled = pulled || strings.HasPrefix(p.Message, "pull: ")
				if i > 0 && p.Progress <= ps[i-1].Progress {
					t.Errorf("progress %d: %v after %v", i, p.Progress, ps[i-1].Progress)
				}
			}
			if !pulled {
				t.Errorf("no progress from the pull in %d notifications", len(prog.all()))
			}
			for _, dir := range []string{out, filepath.Join(out, "evidence")} {
				if v, err := report.Verify(dir); err != nil || !v.OK() {
					t.Errorf("verify %s: %+v %v", dir, v, err)
				}
			}
			entries, err := provenance.ReadAudit(out)
			if err != nil || len(entries) != 2 || entries[1].Step != "mcp:pull_and_analyze" {
				t.Errorf("audit %+v %v", entries, err)
			}
			// The pod names came from the stand-in's workloads.
			text, isErr = callTool(t, context.Background(), cs, "query_flows", map[string]any{"output_dir": out, "dst_namespace": "*", "crosscheck": "match"}, nil)
			if q := decodeAnswer[queryAnswer](t, text); isErr || q.Matched == 0 || q.Rows[0].DstPod == "" {
				t.Errorf("query_flows on the pull: %s", text)
			}
			// The evidence is an input, never an output: its manifest stays.
			text, isErr = callTool(t, context.Background(), cs, "analyze", map[string]any{"inputs": []string{"incident/evidence"}, "output_dir": "incident/evidence"}, nil)
			if !isErr || !strings.Contains(text, "is an evidence directory") {
				t.Errorf("analyze into the evidence: %v %s", isErr, text)
			}
			// A second pull into the same output refuses: its evidence exists.
			text, isErr = callTool(t, context.Background(), cs, "pull_and_analyze", map[string]any{"since": "5m", "output_dir": "incident"}, nil)
			if !isErr || !strings.Contains(text, "already holds evidence") {
				t.Errorf("second pull: %v %s", isErr, text)
			}
			filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
				if err == nil && info.Mode().IsRegular() {
					if b, _ := os.ReadFile(p); strings.Contains(string(b), token) {
						t.Errorf("%s holds the Hub token", p)
					}
				}
				return nil
			})
		})
	}
}

// TestPullNotConfigured: without a Kubeshark connection the tool says so,
// and no argument can give it one.
func TestPullNotConfigured(t *testing.T) {
	root := t.TempDir()
	s := newServer(t, mcpserver.Options{Roots: []string{root}})
	cs := connectHTTP(t, s, newClient(nil), "")
	text, isErr := callTool(t, context.Background(), cs, "pull_and_analyze", map[string]any{"output_dir": "x"}, nil)
	if !isErr || !strings.Contains(text, "no Kubeshark connection") {
		t.Errorf("%v %s", isErr, text)
	}
	text, isErr = callTool(t, context.Background(), cs, "pull_and_analyze", map[string]any{"output_dir": "x", "mcp_command": "sh -c 'touch /tmp/pwned'"}, nil)
	if !isErr || !strings.Contains(text, "unknown field") {
		t.Errorf("an mcp_command argument: %v %s", isErr, text)
	}
}

// TestPullCanceled cancels pull_and_analyze while the snapshot is being
// waited for: the call ends with an error, and no capture and no manifest
// are left that look complete.
func TestPullCanceled(t *testing.T) {
	pull, hub, _ := standinPull(t, standin.Faults{SnapshotStuck: true})
	from, to := hub.Window()
	root := t.TempDir()
	s := newServer(t, mcpserver.Options{Roots: []string{root}, Pull: pull})
	prog := newProgressLog()
	cs := connectHTTP(t, s, newClient(prog), "2025-11-25")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		p := &sdk.CallToolParams{Name: "pull_and_analyze", Arguments: map[string]any{"output_dir": "stuck",
			"from": from.UTC().Format(time.RFC3339Nano), "to": to.Add(time.Second).UTC().Format(time.RFC3339Nano)}}
		p.SetProgressToken("p")
		res, err := cs.CallTool(ctx, p)
		if err == nil {
			t.Logf("answer: %s", resultText(res))
		}
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	waiting := func() bool { // the pull waits for the snapshot
		for _, p := range prog.all() {
			if strings.Contains(p.Message, "snapshot") {
				return true
			}
		}
		return false
	}
	for !waiting() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if ps := prog.all(); len(ps) > 0 {
		t.Logf("canceled after %q", ps[len(ps)-1].Message)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the canceled pull succeeded")
	}
	// The server ends the call: the next one runs (the same directory,
	// now free, is refused only if evidence was left).
	text, isErr := callTool(t, context.Background(), cs, "findings", map[string]any{"output_dir": "stuck"}, nil)
	if !isErr || !strings.Contains(text, "no manifest.json") {
		t.Errorf("findings after the canceled pull: %s", text)
	}
	filepath.Walk(filepath.Join(root, "stuck"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(p, ".pcap") || filepath.Base(p) == "manifest.json") {
			t.Errorf("%s left by the canceled pull", p)
		}
		return nil
	})
}

// TestPullAndAnalyzeL7: with L7 on, pull_and_analyze also compares
// Kubeshark's API calls with http.parquet, and its answer and summary's
// count crosscheck_l7.parquet's groups per verdict, as the file has them;
// without L7 neither answer has the L7 counts.
func TestPullAndAnalyzeL7(t *testing.T) {
	for _, l7 := range []bool{true, false} {
		pull, hub, _ := standinPull(t, standin.Faults{})
		root := t.TempDir()
		s := newServer(t, mcpserver.Options{Roots: []string{root}, Pull: pull, Analysis: pipeline.Options{Jobs: 1, L7: l7}})
		cs := transports[0].connect(t, s, newClient(newProgressLog()), "")
		from, to := hub.Window()
		text, isErr := callTool(t, context.Background(), cs, "pull_and_analyze", map[string]any{
			"from": from.UTC().Format(time.RFC3339Nano), "to": to.Add(time.Second).UTC().Format(time.RFC3339Nano),
			"output_dir": "incident",
		}, nil)
		if isErr {
			t.Fatalf("pull_and_analyze: %s", text)
		}
		a := decodeAnswer[analysisAnswer](t, text)
		text, isErr = callTool(t, context.Background(), cs, "summary", map[string]any{"output_dir": "incident"}, nil)
		if isErr {
			t.Fatalf("summary: %s", text)
		}
		sum := decodeAnswer[analysisAnswer](t, text)
		if !l7 {
			if a.CrossCheckL7 != nil || sum.CrossCheckL7 != nil {
				t.Errorf("without L7: crosscheck_l7 %v and %v", a.CrossCheckL7, sum.CrossCheckL7)
			}
			continue
		}
		f, err := os.Open(filepath.Join(root, "incident", report.CrossCheckL7File))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[report.CrossCheckL7Row](f, mustSize(t, f))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for _, r := range rows {
			want[r.Verdict]++
		}
		if len(rows) == 0 || !maps.Equal(a.CrossCheckL7, want) || !maps.Equal(sum.CrossCheckL7, want) {
			t.Errorf("crosscheck_l7: analysis %v, summary %v; the file has %v", a.CrossCheckL7, sum.CrossCheckL7, want)
		}
		if a.CrossCheck["match"] == 0 {
			t.Errorf("L4 cross-check verdicts %v, want matches", a.CrossCheck)
		}
	}
}

func mustSize(t *testing.T, f *os.File) int64 {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
