package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/pipeline/mcpserver"
)

// rawStdio is a client that speaks newline-delimited JSON-RPC by hand.
type rawStdio struct {
	t  *testing.T
	w  io.Writer
	rd *bufio.Reader
}

func (c *rawStdio) send(msg string) {
	c.t.Helper()
	if _, err := io.WriteString(c.w, msg+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

// answer reads messages until the answer to id (skipping notifications).
func (c *rawStdio) answer(id int) map[string]any {
	c.t.Helper()
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			c.t.Fatalf("not JSON: %q", line)
		}
		if got, ok := m["id"].(float64); ok && int(got) == id {
			return m
		}
	}
}

// TestProtocolVersions: a client asking for each protocol version that
// has the initialize handshake gets it, and a working session (tools/list,
// tools/call, resources/read), spoken as raw JSON-RPC over stdio; an
// unknown version gets the latest one with the handshake. The go-sdk's
// default, 2026-07-28 (no handshake: server/discover), is what TestSession
// runs.
func TestProtocolVersions(t *testing.T) {
	root := newRoot(t)
	s := newServer(t, mcpserver.Options{Roots: []string{root}})
	cs := connectHTTP(t, s, newClient(nil), "")
	if text, isErr := callTool(t, context.Background(), cs, "analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": "out"}, nil); isErr {
		t.Fatal(text)
	}
	if got := cs.InitializeResult().ProtocolVersion; got != "2026-07-28" {
		t.Errorf("the go-sdk's default session negotiated %s", got)
	}
	// The go-sdk over streamable HTTP, asking each version.
	ts := serveHTTP(t, s)
	for _, v := range []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"} {
		cs := dialHTTP(t, ts, newClient(nil), v)
		if got := cs.InitializeResult().ProtocolVersion; got != v {
			t.Errorf("go-sdk asking %s over HTTP got %s", v, got)
		}
		if text, isErr := callTool(t, context.Background(), cs, "verify", map[string]any{"output_dir": "out"}, nil); isErr {
			t.Errorf("%s: verify: %s", v, text)
		}
	}
	for _, c := range []struct{ ask, want string }{
		{"2024-11-05", "2024-11-05"},
		{"2025-03-26", "2025-03-26"},
		{"2025-06-18", "2025-06-18"},
		{"2025-11-25", "2025-11-25"},
		{"1999-01-01", "2025-11-25"},
	} {
		t.Run(c.ask, func(t *testing.T) {
			cr, sw := io.Pipe()
			sr, cw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- s.ServeStdio(context.Background(), sr, sw)
				sw.Close()
			}()
			defer func() {
				cw.Close()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Error("ServeStdio did not end")
				}
			}()
			rc := &rawStdio{t: t, w: cw, rd: bufio.NewReader(cr)}
			rc.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`, c.ask))
			res, _ := rc.answer(1)["result"].(map[string]any)
			if res["protocolVersion"] != c.want {
				t.Fatalf("initialize %s: %v", c.ask, res)
			}
			rc.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			rc.send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
			res, _ = rc.answer(2)["result"].(map[string]any)
			if tools, _ := res["tools"].([]any); len(tools) != 7 {
				t.Errorf("tools/list: %v", res)
			}
			rc.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"query_flows","arguments":{"output_dir":"out","state":"REJ"}}}`)
			res, _ = rc.answer(3)["result"].(map[string]any)
			if b, _ := json.Marshal(res); res["isError"] == true || !strings.Contains(string(b), `\"flow_id\":\"7-1\"`) {
				t.Errorf("tools/call: %s", b)
			}
			rc.send(`{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"flowproof://report?dir=out"}}`)
			res, _ = rc.answer(4)["result"].(map[string]any)
			if b, _ := json.Marshal(res); !strings.Contains(string(b), "# flowproof report") {
				t.Errorf("resources/read: %.300s", b)
			}
		})
	}
}
