package mcpserver_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flowproof/flowproof/pipeline/mcpserver"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

type analysisAnswer struct {
	OutputDir string `json:"output_dir"`
	Evidence  *struct {
		Dir      string `json:"dir"`
		Captures []struct {
			File    string `json:"file"`
			Packets int64  `json:"packets"`
			SHA256  string `json:"sha256"`
		} `json:"captures"`
		Answers int `json:"kubeshark_answers"`
	} `json:"evidence"`
	Captures     int                 `json:"captures"`
	Flows        int64               `json:"flows"`
	Packets      int64               `json:"packets"`
	BadInputs    int                 `json:"bad_inputs"`
	Findings     []mcpserver.Finding `json:"findings"`
	CrossCheck   map[string]int      `json:"crosscheck"`
	CrossCheckL7 map[string]int      `json:"crosscheck_l7"`
	Resources    []string            `json:"resources"`
}

type queryAnswer struct {
	Scanned  int64               `json:"scanned"`
	Matched  int64               `json:"matched"`
	Returned int                 `json:"returned"`
	More     int64               `json:"more"`
	Note     string              `json:"note"`
	Rows     []mcpserver.FlowOut `json:"rows"`
}

// TestSession drives the server with the official Go SDK's client, over
// stdio (in-process pipes) and streamable HTTP (with a bearer token): it
// lists the tools, analyzes testdata/gen with a progress token, queries the
// flows with filters, reads the findings, the summary, a report section and
// the report as a resource, verifies, and checks that every call is in the
// audit trail and that flowproof verify still passes.
func TestSession(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			root := newRoot(t)
			s := newServer(t, mcpserver.Options{Roots: []string{root}})
			prog := newProgressLog()
			cs := tr.connect(t, s, newClient(prog), "")
			ctx := context.Background()

			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
				if tool.Description == "" || tool.InputSchema == nil {
					t.Errorf("tool %s has no description or schema", tool.Name)
				}
			}
			slices.Sort(names)
			if want := []string{"analyze", "findings", "pull_and_analyze", "query_flows", "query_l7", "summary", "verify"}; !slices.Equal(names, want) {
				t.Errorf("tools %v, want %v", names, want)
			}

			text, isErr := callTool(t, ctx, cs, "analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "out"}, "tok-1")
			if isErr {
				t.Fatalf("analyze: %s", text)
			}
			a := decodeAnswer[analysisAnswer](t, text)
			out := filepath.Join(root, "out")
			if a.OutputDir != out || a.Captures != 21 || a.Flows != 22 || a.Packets == 0 || a.BadInputs != 0 {
				t.Errorf("analyze answer %+v", a)
			}
			if len(a.Findings) == 0 || a.Findings[0].Title != "Connections rejected" || !slices.Equal(a.Findings[0].FlowIDs, []string{"7-1"}) {
				t.Errorf("findings %+v", a.Findings)
			}
			ps := prog.all()
			if len(ps) < 22 {
				t.Errorf("%d progress notifications, want one per capture and more", len(ps))
			}
			for i, p := range ps {
				if p.ProgressToken != "tok-1" || (i > 0 && p.Progress <= ps[i-1].Progress) {
					t.Errorf("progress %d: %+v (token, or not increasing)", i, p)
				}
			}

			for _, q := range []struct {
				args      map[string]any
				matched   int64
				returned  int
				firstFlow string
			}{
				{map[string]any{"state": "REJ"}, 1, 1, "7-1"},
				{map[string]any{"proto": "udp"}, 3, 3, ""},
				{map[string]any{"proto": "tcp", "dst_port": 80, "state": "S*"}, 16, 16, ""}, // S0 S1 SF SH SHR S2 S3, a glob
				{map[string]any{"sort_by": "bytes", "limit": 2}, 22, 2, ""},
				{map[string]any{"min_rtt_ms": 0.0001, "sort_by": "rtt_handshake", "order": "asc", "limit": 1}, 0, 1, ""},
				{map[string]any{"flow_id": "7-1"}, 1, 1, "7-1"},
				{map[string]any{"since": "2030-01-01T00:00:00Z"}, 0, 0, ""},
			} {
				q.args["output_dir"] = out
				text, isErr := callTool(t, ctx, cs, "query_flows", q.args, nil)
				if isErr {
					t.Errorf("query_flows %v: %s", q.args, text)
					continue
				}
				qa := decodeAnswer[queryAnswer](t, text)
				if qa.Scanned != 22 || (q.matched > 0 && qa.Matched != q.matched) || qa.Returned != q.returned || len(qa.Rows) != q.returned || qa.More != qa.Matched-int64(qa.Returned) {
					t.Errorf("query_flows %v: scanned %d matched %d returned %d more %d", q.args, qa.Scanned, qa.Matched, qa.Returned, qa.More)
				}
				if q.firstFlow != "" && (len(qa.Rows) == 0 || qa.Rows[0].FlowID != q.firstFlow) {
					t.Errorf("query_flows %v: rows %+v", q.args, qa.Rows)
				}
				if qa.More > 0 && !strings.Contains(qa.Note, "more rows") {
					t.Errorf("query_flows %v: note %q", q.args, qa.Note)
				}
				for i := 1; i < len(qa.Rows); i++ {
					if q.args["sort_by"] == "bytes" && qa.Rows[i].OrigBytes+qa.Rows[i].RespBytes > qa.Rows[i-1].OrigBytes+qa.Rows[i-1].RespBytes {
						t.Errorf("query_flows %v: not sorted by bytes", q.args)
					}
				}
			}

			text, isErr = callTool(t, ctx, cs, "findings", map[string]any{"output_dir": out}, nil)
			if f := decodeAnswer[struct{ Findings []mcpserver.Finding }](t, text); isErr || len(f.Findings) != len(a.Findings) {
				t.Errorf("findings: %s", text)
			}
			text, isErr = callTool(t, ctx, cs, "findings", map[string]any{"output_dir": out, "section": "handshake rtt"}, nil)
			if sec := decodeAnswer[struct{ Markdown string }](t, text); isErr || !strings.HasPrefix(sec.Markdown, "## Handshake RTT\n") || strings.Contains(sec.Markdown, "## TCP health") {
				t.Errorf("section: %s", text)
			}
			text, isErr = callTool(t, ctx, cs, "summary", map[string]any{"output_dir": out}, nil)
			sum := decodeAnswer[struct {
				Inputs  []struct{ Name, Status, SHA256 string }
				Flows   int64
				Outputs []struct{ Name string }
			}](t, text)
			if isErr || len(sum.Inputs) != 21 || sum.Flows != 22 || sum.Inputs[0].Status != "ok" || len(sum.Inputs[0].SHA256) != 64 || len(sum.Outputs) == 0 {
				t.Errorf("summary: %s", text)
			}

			// Resources: listed after the analysis, and readable.
			rl, err := cs.ListResources(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var uris []string
			for _, r := range rl.Resources {
				uris = append(uris, r.URI)
			}
			if !slices.Contains(uris, a.Resources[0]) || !slices.Contains(uris, a.Resources[1]) {
				t.Errorf("resources %v, want %v", uris, a.Resources)
			}
			rr, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: a.Resources[0]})
			if err != nil || len(rr.Contents) != 1 || !strings.HasPrefix(rr.Contents[0].Text, "# flowproof report") {
				t.Errorf("read %s: %v %+v", a.Resources[0], err, rr)
			}
			// The template, with a relative dir.
			rr, err = cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "flowproof://manifest?dir=out"})
			if err != nil || len(rr.Contents) != 1 || !strings.Contains(rr.Contents[0].Text, `"manifest_version"`) {
				t.Errorf("read manifest: %v %+v", err, rr)
			}
			if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "flowproof://report?dir=/etc"}); err == nil {
				t.Error("a resource outside the roots was read")
			}

			text, isErr = callTool(t, ctx, cs, "verify", map[string]any{"output_dir": out}, nil)
			if v := decodeAnswer[struct{ OK bool }](t, text); isErr || !v.OK {
				t.Errorf("verify: %s", text)
			}

			// The audit trail holds the analysis and every call about out.
			entries, err := provenance.ReadAudit(out)
			if err != nil {
				t.Fatal(err)
			}
			var steps []string
			for _, e := range entries {
				steps = append(steps, e.Step)
				if strings.HasPrefix(e.Step, "mcp:") && (len(e.Parameters["result_sha256"]) != 64 || e.Parameters["client"] != "go-sdk-test 1.8.0") {
					t.Errorf("audit entry %d: %+v", e.Seq, e.Parameters)
				}
			}
			want := []string{"analyze", "mcp:analyze"}
			for range 7 {
				want = append(want, "mcp:query_flows")
			}
			want = append(want, "mcp:findings", "mcp:findings", "mcp:summary", "mcp:verify")
			if !slices.Equal(steps, want) {
				t.Errorf("audit steps %v, want %v", steps, want)
			}
			v, err := report.Verify(out)
			if err != nil || !v.OK() {
				t.Errorf("verify after the session: %+v %v", v, err)
			}

			// A server started later lists the output found under its root.
			cs2 := connectHTTP(t, newServer(t, mcpserver.Options{Roots: []string{root}}), newClient(nil), "")
			rl, err = cs2.ListResources(ctx, nil)
			if err != nil || len(rl.Resources) != 2 || rl.Resources[0].URI != a.Resources[0] && rl.Resources[1].URI != a.Resources[0] {
				t.Errorf("resources at start: %v %+v", err, rl)
			}
		})
	}
}

// TestPartial: an input that is not a capture makes a partial result, not
// an error: the answer says partial, counts the bad input and carries the
// warning, and the outputs verify.
func TestPartial(t *testing.T) {
	root := newRoot(t)
	if err := os.WriteFile(filepath.Join(root, "notes.txt"), []byte("not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, mcpserver.Options{Roots: []string{root}})
	cs := connectHTTP(t, s, newClient(nil), "")
	text, isErr := callTool(t, context.Background(), cs, "analyze", map[string]any{"inputs": []string{"gen/tcp-sf.pcap", "notes.txt"}, "output_dir": "out"}, nil)
	a := decodeAnswer[struct {
		Partial   bool
		BadInputs int `json:"bad_inputs"`
		Flows     int64
		Warnings  []string
	}](t, text)
	if isErr || !a.Partial || a.BadInputs != 1 || a.Flows != 1 || len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "notes.txt") {
		t.Errorf("answer %s", text)
	}
	if v, err := report.Verify(filepath.Join(root, "out")); err != nil || !v.OK() {
		t.Errorf("verify: %+v %v", v, err)
	}
}
