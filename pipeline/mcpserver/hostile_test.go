package mcpserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flowproof/flowproof/pipeline/mcpserver"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// listTree lists every path below dir.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestHostile sends what a confused or hostile agent might: paths outside
// the roots (absolute, "..", symbolic links to files and directories, a
// directory holding a link out, a dangling link), malformed arguments, huge
// limits and strings. Each is an isError result naming the problem, the
// server keeps serving, and nothing is written outside the roots.
func TestHostile(t *testing.T) {
	root := newRoot(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.pcap"), []byte("not yours"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyDir(t, genDir, filepath.Join(outside, "captures"))
	for link, target := range map[string]string{
		"link-out": outside,
		"dangling": filepath.Join(outside, "nonexistent"),
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Skipf("symlink: %v", err)
		}
	}
	copyDir(t, genDir, filepath.Join(root, "mixed"))
	if err := os.Symlink(filepath.Join(outside, "captures", "tcp-sf.pcap"), filepath.Join(root, "mixed", "evil.pcap")); err != nil {
		t.Fatal(err)
	}
	relOut, _ := filepath.Rel(root, outside)
	before := listTree(t, outside)

	s := newServer(t, mcpserver.Options{Roots: []string{root}, MaxRows: 5, MaxAnswerBytes: 6000})
	cs := connectHTTP(t, s, newClient(nil), "")
	ctx := context.Background()
	if text, isErr := callTool(t, ctx, cs, "analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "out"}, nil); isErr {
		t.Fatalf("analyze: %s", text)
	}
	out := filepath.Join(root, "out")
	huge := strings.Repeat("a/", 300_000)
	for _, c := range []struct {
		tool string
		args any
		want string
	}{
		{"analyze", map[string]any{"inputs": []string{"/etc/passwd"}, "output_dir": "x"}, "outside the directories"},
		{"analyze", map[string]any{"inputs": []string{relOut + "/secret.pcap"}, "output_dir": "x"}, "outside"},
		{"analyze", map[string]any{"inputs": []string{"gen/../../" + filepath.Base(outside) + "/captures"}, "output_dir": "x"}, "outside"},
		{"analyze", map[string]any{"inputs": []string{"link-out/secret.pcap"}, "output_dir": "x"}, "outside"},
		{"analyze", map[string]any{"inputs": []string{"link-out"}, "output_dir": "x"}, "outside"},
		{"analyze", map[string]any{"inputs": []string{"mixed"}, "output_dir": "x"}, "leads outside the server's roots"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "link-out/new"}, "outside"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "dangling/x"}, "dangling symbolic link"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "/tmp/flowproof-hostile"}, "outside"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "../x"}, "outside"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "gen/tcp-sf.pcap"}, "not a directory"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "a\x00b"}, "NUL"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": huge}, "over 4096"},
		{"analyze", map[string]any{"inputs": []string{huge}, "output_dir": "x"}, "over 4096"},
		{"analyze", map[string]any{"inputs": []string{}, "output_dir": "x"}, "inputs is empty"},
		{"analyze", map[string]any{"inputs": "gen", "output_dir": "x"}, `argument "inputs"`},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "x", "command": "rm -rf /"}, "unknown field"},
		{"analyze", map[string]any{"inputs": []any{1, 2}, "output_dir": "x"}, "inputs"},
		{"analyze", map[string]any{"output_dir": "x"}, "inputs is empty"},
		{"analyze", map[string]any{"inputs": []string{"missing.pcap"}, "output_dir": "x"}, "does not exist"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "gen/sub"}, "lies inside input"},
		{"analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "gen"}, "lies inside input"},
		{"query_flows", map[string]any{"output_dir": outside}, "outside"},
		{"query_flows", map[string]any{"output_dir": "link-out"}, "outside"},
		{"query_flows", map[string]any{"output_dir": "gen"}, "holds no manifest.json"},
		{"query_flows", map[string]any{"output_dir": "out", "limit": -1}, "limit"},
		{"query_flows", map[string]any{"output_dir": "out", "limit": "ten"}, `argument "limit"`},
		{"query_flows", map[string]any{"output_dir": "out", "limit": 1.5}, `argument "limit"`},
		{"query_flows", map[string]any{"output_dir": "out", "sort_by": "flow_id; DROP TABLE"}, "sort_by"},
		{"query_flows", map[string]any{"output_dir": "out", "since": "yesterday"}, "RFC 3339"},
		{"query_flows", map[string]any{"output_dir": "out", "src_pod": "["}, "bad pattern"},
		{"query_flows", map[string]any{"output_dir": "out", "dst_port": 70000}, "dst_port"},
		{"query_flows", map[string]any{"output_dir": "out", "min_rtt_ms": -3}, "min_rtt_ms"},
		{"findings", map[string]any{"output_dir": "out", "section": "No such section"}, "no section"},
		{"summary", map[string]any{"output_dir": "out"}, "over the 6000-byte cap"}, // 21 inputs with their SHA-256
		{"summary", map[string]any{"output_dir": "/"}, "outside"},
		{"verify", map[string]any{"output_dir": "/"}, "outside"},
		{"verify", map[string]any{"output_dir": "out", "extra": true}, "unknown field"},
		{"verify", []int{1, 2}, "arguments"},
	} {
		text, isErr := callTool(t, ctx, cs, c.tool, c.args, nil)
		if !isErr || !strings.Contains(text, c.want) {
			t.Errorf("%s %.200v: isError %v, %.300q; want an error with %q", c.tool, c.args, isErr, text, c.want)
		}
	}
	// An unknown tool is a protocol error.
	if _, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "shell", Arguments: map[string]any{"cmd": "id"}}); err == nil {
		t.Error("an unknown tool was called")
	}

	// A huge limit is lowered to the cap, and the answer says how many more.
	text, isErr := callTool(t, ctx, cs, "query_flows", map[string]any{"output_dir": "out", "limit": 1_000_000_000}, nil)
	q := decodeAnswer[queryAnswer](t, text)
	if isErr || q.Returned != 5 || q.More != 17 || !strings.Contains(q.Note, "lowered to the cap of 5") || !strings.Contains(q.Note, "17 more rows") {
		t.Errorf("huge limit: %s", text)
	}

	// A request body over 4 MiB is refused before mcp-go reads it.
	ts := serveHTTP(t, s)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("x", 5<<20) + `"}}`)
		if chunked {
			body = io.MultiReader(body) // no length: chunked
		}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/mcp", body)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("a 5 MiB body (chunked %v): status %d", chunked, resp.StatusCode)
		}
	}

	// Nothing was written outside the roots, nor any output but out/.
	if after := listTree(t, outside); !slices.Equal(before, after) {
		t.Errorf("outside the roots, before %v, after %v", before, after)
	}
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"dangling", "gen", "link-out", "mixed", "out"}; !slices.Equal(names, want) {
		t.Errorf("root holds %v, want %v", names, want)
	}
	if _, err := os.Stat("/tmp/flowproof-hostile"); err == nil {
		t.Error("/tmp/flowproof-hostile was created")
	}
	if v, err := report.Verify(out); err != nil || !v.OK() {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// TestConcurrentCalls runs 100 calls at once (query_flows, findings,
// summary, verify) on one output over both transports: every one succeeds
// and every one is in the audit trail, whose chain still verifies.
func TestConcurrentCalls(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			root := newRoot(t)
			s := newServer(t, mcpserver.Options{Roots: []string{root}})
			cs := tr.connect(t, s, newClient(nil), "")
			ctx := context.Background()
			if text, isErr := callTool(t, ctx, cs, "analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "out"}, nil); isErr {
				t.Fatalf("analyze: %s", text)
			}
			const calls = 100
			tools := []string{"query_flows", "findings", "summary", "verify"}
			var wg sync.WaitGroup
			errs := make(chan string, calls)
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tool := tools[i%len(tools)]
					args := map[string]any{"output_dir": "out"}
					if tool == "query_flows" {
						args["sort_by"] = "bytes"
						args["limit"] = 1 + i%7
					}
					res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
					switch {
					case err != nil:
						errs <- fmt.Sprintf("%s: %v", tool, err)
					case res.IsError:
						errs <- fmt.Sprintf("%s: %s", tool, resultText(res))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			entries, err := provenance.ReadAudit(filepath.Join(root, "out"))
			if err != nil || len(entries) != 2+calls {
				t.Errorf("%d audit entries, want %d (%v)", len(entries), 2+calls, err)
			}
			if v, err := report.Verify(filepath.Join(root, "out")); err != nil || !v.OK() {
				t.Errorf("verify: %+v %v", v, err)
			}
		})
	}
}
