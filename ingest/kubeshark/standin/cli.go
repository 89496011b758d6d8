package standin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// CLIOptions configure ServeCLI, the stand-in for `kubeshark mcp --url URL`.
type CLIOptions struct {
	URL    string // the front URL (--url)
	Token  string // --token or KUBESHARK_HUB_TOKEN
	Faults MCPFaults
	// Stderr receives the log lines ("[kubeshark-mcp] …"); nil discards them.
	Stderr io.Writer
	// HubTimeout bounds each Hub call (the CLI uses 30 s).
	HubTimeout time.Duration
}

// ErrExit is returned by ServeCLI when a fault makes the server die
// mid-call; the stand-in binary exits with status 1.
var ErrExit = errors.New("kubeshark-mcp: exiting (injected fault)")

// Instructions is the initialize answer's instructions text (URL mode).
const Instructions = "Kubeshark MCP Server - gives access to Kubernetes network traffic captured by Kubeshark (URL mode: the Hub is managed externally). " +
	"To export PCAP: create_snapshot, poll get_snapshot until completed, then export_snapshot_pcap, which returns a relative file path: fetch it with download_file or get_file_url."

// localTools are the tools the CLI serves itself in URL mode, with the
// schemas of kubeshark-mcp.md §2.1.
var localTools = []ToolDef{
	{"check_kubeshark_status", "Check whether Kubeshark is running and reachable.",
		schema(`{"type":"object","properties":{"release_namespace":{"type":"string","description":"Namespace where Kubeshark is installed (default: 'default'). Only used in local mode."}}}`)},
	{"get_file_url", "Get the full URL of a file returned by a Hub tool.",
		schema(`{"type":"object","properties":{"path":{"type":"string","description":"The relative file path returned by a Hub tool (e.g., '/snapshots/abc/data.pcap')"}},"required":["path"]}`)},
	{"download_file", "Download a file returned by a Hub tool to the local machine.",
		schema(`{"type":"object","properties":{"path":{"type":"string","description":"The relative file path returned by a Hub tool (e.g., '/snapshots/abc/data.pcap')"},"dest":{"type":"string","description":"Local destination file path. If not provided, uses the filename from the path in the current directory."}},"required":["path"]}`)},
}

// ServeCLI emulates Kubeshark's `kubeshark mcp --url URL` (KS
// cmd/mcpRunner.go, as kubeshark-mcp.md describes it): newline-delimited
// JSON-RPC on stdin/stdout, a 1 MiB line limit, one request at a time; the
// initialize answer always says protocol 2024-11-05; notifications other than
// initialized get an error reply with "id":null; every tool result is a
// single text item, the Hub's body re-indented when it is JSON; isError only
// on failure. Hub tools are proxied to URL/api/mcp, and the catalogue is the
// CLI's own tools followed by the Hub's.
func ServeCLI(ctx context.Context, stdin io.Reader, stdout io.Writer, o CLIOptions) error {
	if o.HubTimeout <= 0 {
		o.HubTimeout = 30 * time.Second
	}
	c := &cli{o: o, out: bufio.NewWriter(stdout), hc: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	c.logf("Starting Kubeshark MCP server (URL mode: %s)", o.URL)
	if err := c.validateURL(ctx); err != nil {
		c.logf("%v", err)
		return err
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := c.handle(ctx, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		c.logf("reading stdin: %v", err)
		return err
	}
	return nil
}

type cli struct {
	o      CLIOptions
	out    *bufio.Writer
	hc     *http.Client
	mu     sync.Mutex
	tools  []ToolDef
	cached time.Time
}

func (c *cli) logf(format string, args ...any) {
	if c.o.Stderr != nil {
		fmt.Fprintf(c.o.Stderr, "[kubeshark-mcp] "+format+"\n", args...)
	}
}

func (c *cli) hubRequest(ctx context.Context, method, url string, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.HubTimeout)
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.o.Token != "" {
		req.Header.Set("X-Kubeshark-Authorization", c.o.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error { err := b.ReadCloser.Close(); b.cancel(); return err }

// validateURL is the CLI's validateDirectURL: GET <url>/api/mcp must answer
// JSON with a name or tools.
func (c *cli) validateURL(ctx context.Context) error {
	resp, err := c.hubRequest(ctx, http.MethodGet, c.o.URL+"/api/mcp", nil)
	if err != nil {
		return fmt.Errorf("cannot reach Kubeshark at %s: %v", c.o.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
		return fmt.Errorf("Kubeshark at %s requires authentication (HTTP %d): pass --token or set KUBESHARK_HUB_TOKEN", c.o.URL, resp.StatusCode)
	}
	var cat struct {
		Name  string    `json:"name"`
		Tools []ToolDef `json:"tools"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&cat) != nil || (cat.Name == "" && len(cat.Tools) == 0) {
		return fmt.Errorf("%s/api/mcp is not a Kubeshark MCP API (HTTP %d)", c.o.URL, resp.StatusCode)
	}
	return nil
}

// hubTools returns the Hub's catalogue, cached for 5 minutes; none when the
// Hub cannot be reached (tools/list then lists only the CLI's tools).
func (c *cli) hubTools(ctx context.Context) []ToolDef {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tools != nil && time.Since(c.cached) < 5*time.Minute {
		return c.tools
	}
	resp, err := c.hubRequest(ctx, http.MethodGet, c.o.URL+"/api/mcp", nil)
	if err != nil {
		c.logf("Hub unreachable: %v", err)
		return nil
	}
	defer resp.Body.Close()
	var cat struct {
		Tools []ToolDef `json:"tools"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&cat) != nil {
		return nil
	}
	c.tools, c.cached = cat.Tools, time.Now()
	return c.tools
}

type rpcMsg struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type rpcReply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

func (c *cli) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.out.Write(b)
	c.out.WriteByte('\n')
	return c.out.Flush()
}

func (c *cli) reply(id json.RawMessage, result any) error {
	return c.write(rpcReply{JSONRPC: "2.0", ID: id, Result: result})
}

func (c *cli) fail(id json.RawMessage, code int, msg string, data any) error {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	return c.write(rpcReply{JSONRPC: "2.0", ID: id, Error: &rpcError{Code: code, Message: msg, Data: data}})
}

func (c *cli) handle(ctx context.Context, line []byte) error {
	var m rpcMsg
	if err := json.Unmarshal(line, &m); err != nil {
		return c.fail(nil, -32700, "Parse error", err.Error())
	}
	switch m.Method {
	case "initialize":
		return c.reply(m.ID, map[string]any{
			"protocolVersion": "2024-11-05",
			"capabilities":    map[string]any{"tools": map[string]any{}, "prompts": map[string]any{}},
			"serverInfo":      map[string]any{"name": "kubeshark-mcp", "version": "1.0.0"},
			"instructions":    Instructions,
		})
	case "initialized", "notifications/initialized":
		return nil
	case "ping":
		return c.reply(m.ID, map[string]any{})
	case "tools/list":
		tools := append(append([]ToolDef(nil), localTools...), c.hubTools(ctx)...)
		return c.reply(m.ID, map[string]any{"tools": tools})
	case "prompts/list":
		return c.reply(m.ID, map[string]any{"prompts": []map[string]any{{"name": "kubeshark_usage", "description": "How to use Kubeshark's tools"}}})
	case "prompts/get":
		return c.reply(m.ID, map[string]any{"description": "How to use Kubeshark's tools", "messages": []map[string]any{{"role": "user", "content": map[string]any{"type": "text", "text": Instructions}}}})
	case "tools/call":
		var p struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
		}
		d := json.NewDecoder(bytes.NewReader(m.Params))
		d.UseNumber()
		if len(m.Params) == 0 || d.Decode(&p) != nil || p.Name == "" {
			return c.fail(m.ID, -32602, "Invalid params", nil)
		}
		return c.callTool(ctx, m.ID, p.Name, p.Arguments)
	}
	return c.fail(m.ID, -32601, "Method not found", m.Method)
}

type textResult struct {
	Content []map[string]any `json:"content"`
	IsError bool             `json:"isError,omitempty"`
}

func text(s string) textResult {
	return textResult{Content: []map[string]any{{"type": "text", "text": s}}}
}

func errText(s string) textResult {
	r := text(s)
	r.IsError = true
	return r
}

func (c *cli) callTool(ctx context.Context, id json.RawMessage, name string, args map[string]any) error {
	f := c.o.Faults
	switch name {
	case f.ExitOn:
		c.logf("fatal: crashed while calling %s", name)
		return ErrExit
	case f.SlowOn:
		select {
		case <-time.After(f.Slow):
		case <-ctx.Done():
			return ctx.Err()
		}
	case f.MalformedOn:
		c.out.WriteString(`{"jsonrpc":"2.0","id":` + string(id) + `,"result":{"content":[{"type":"text","text":"{\"trunc` + "\n")
		return c.out.Flush()
	}
	var res textResult
	switch name {
	case "check_kubeshark_status":
		res = text(fmt.Sprintf("Kubeshark is accessible at %s (URL mode - externally managed)", c.o.URL))
	case "get_file_url":
		p, _ := args["path"].(string)
		switch {
		case p == "":
			res = errText("path is required")
		case c.o.Faults.FileURL != "":
			res = text(c.o.Faults.FileURL)
		default:
			res = text(c.o.URL + "/api" + p)
		}
	case "download_file":
		res = c.download(ctx, args)
	default:
		res = c.hubCall(ctx, name, args)
	}
	if name == f.OversizeOn && f.OversizeBytes > 0 {
		res = text(`{"padding":"` + strings.Repeat("x", f.OversizeBytes) + `"}`)
	}
	return c.reply(id, res)
}

func (c *cli) hubCall(ctx context.Context, name string, args map[string]any) textResult {
	if args == nil {
		args = map[string]any{}
	}
	body, _ := json.Marshal(map[string]any{"name": name, "arguments": args})
	resp, err := c.hubRequest(ctx, http.MethodPost, c.o.URL+"/api/mcp/tools/call", body)
	if err != nil {
		return errText("Error calling Hub API: " + err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return errText("Error calling Hub API: " + err.Error())
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
		return errText(fmt.Sprintf("Authentication required (HTTP %d): the Kubeshark Hub is gated. Provide a token with --token or KUBESHARK_HUB_TOKEN (kubectl create token kubeshark-cli -n <namespace> --audience kubeshark-hub).", resp.StatusCode))
	case resp.StatusCode >= 400:
		return errText(fmt.Sprintf("Hub API error (%d): %s", resp.StatusCode, b))
	}
	var ind bytes.Buffer
	if json.Indent(&ind, b, "", "  ") == nil {
		return text(ind.String())
	}
	return text(string(b))
}

func (c *cli) download(ctx context.Context, args map[string]any) textResult {
	p, _ := args["path"].(string)
	if p == "" {
		return errText("path is required")
	}
	dest, _ := args["dest"].(string)
	if dest == "" {
		dest = path.Base(p)
	}
	if answer, ok, err := c.o.Faults.hostileDownload(dest); ok {
		if err != nil {
			return errText("download failed: " + err.Error())
		}
		return text(answer)
	}
	url := c.o.URL + "/api" + p
	// The CLI's download has no overall timeout.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return errText("download failed: " + err.Error())
	}
	if c.o.Token != "" {
		req.Header.Set("X-Kubeshark-Authorization", c.o.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return errText("download failed: " + err.Error())
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return errText(fmt.Sprintf("download failed: HTTP %d: %s", resp.StatusCode, b))
	}
	f, err := os.Create(dest)
	if err != nil {
		return errText("download failed: " + err.Error())
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errText(fmt.Sprintf("download failed after %d bytes: %v", n, err))
	}
	b, _ := json.MarshalIndent(map[string]any{"url": url, "path": dest, "size": n}, "", "  ")
	return text(string(b))
}
