package standin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// newMCPHandler serves the Hub's tools over streamable HTTP with mcp-go,
// answering like kubeshark mcp does (one text item holding the Hub's
// indented JSON; isError on failure), plus, in the snapshot dialect, the
// CLI's get_file_url and download_file. In the export_pcap dialect's blob and
// link modes the capture comes back as an embedded resource or a
// resource_link.
func (h *Hub) newMCPHandler() http.Handler {
	s := server.NewMCPServer("kubeshark-mcp", "1.0.0",
		server.WithToolCapabilities(false),
		server.WithInstructions(Instructions))
	var tools []ToolDef
	if h.opts.Dialect == Snapshot {
		tools = append(tools, localTools...)
	}
	tools = append(tools, h.Tools()...)
	for _, t := range tools {
		name := t.Name
		s.AddTool(mcp.NewToolWithRawSchema(t.Name, t.Description, t.InputSchema), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return h.mcpCall(ctx, name, req.GetArguments()), nil
		})
	}
	sh := server.NewStreamableHTTPServer(s, server.WithDisableLocalhostProtection(true))
	return h.mcpFaults(sh)
}

func textOnly(s string, isErr bool) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(s)}, IsError: isErr}
}

func (h *Hub) mcpCall(ctx context.Context, name string, args map[string]any) *mcp.CallToolResult {
	switch name {
	case "check_kubeshark_status":
		return textOnly(fmt.Sprintf("Kubeshark is accessible at %s (URL mode - externally managed)", h.URL), false)
	case "get_file_url":
		p, _ := args["path"].(string)
		if u := h.opts.Faults.MCP.FileURL; u != "" {
			return textOnly(u, false)
		}
		return textOnly(h.URL+"/api"+p, false)
	case "download_file":
		return h.mcpDownload(ctx, args)
	}
	a := h.Call(ctx, name, normalize(args), "mcp")
	if a.Status >= 400 {
		return textOnly(fmt.Sprintf("Hub API error (%d): %s", a.Status, a.Body), true)
	}
	if a.Capture != nil {
		switch h.opts.ExportResult {
		case ExportBlob:
			return &mcp.CallToolResult{Content: []mcp.Content{
				mcp.NewTextContent(fmt.Sprintf("PCAP export: %d bytes", len(a.Capture))),
				mcp.NewEmbeddedResource(mcp.BlobResourceContents{URI: "kubeshark://exports/capture.pcap", MIMEType: "application/vnd.tcpdump.pcap", Blob: base64.StdEncoding.EncodeToString(a.Capture)}),
			}}
		case ExportLink:
			return &mcp.CallToolResult{Content: []mcp.Content{
				mcp.NewTextContent("PCAP export ready"),
				mcp.NewResourceLink(a.CaptureURL, "capture.pcap", "merged PCAP export", "application/vnd.tcpdump.pcap"),
			}}
		}
	}
	var ind bytes.Buffer
	if json.Indent(&ind, a.Body, "", "  ") == nil {
		return textOnly(ind.String(), false)
	}
	return textOnly(string(a.Body), false)
}

// normalize turns float64 numbers (as mcp-go decodes them) into json.Number,
// as the REST path does.
func normalize(args map[string]any) map[string]any {
	b, _ := json.Marshal(args)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out map[string]any
	d.Decode(&out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func (h *Hub) mcpDownload(ctx context.Context, args map[string]any) *mcp.CallToolResult {
	p, _ := args["path"].(string)
	dest, _ := args["dest"].(string)
	if dest == "" {
		dest = path.Base(p)
	}
	if answer, ok, err := h.opts.Faults.MCP.hostileDownload(dest); ok {
		if err != nil {
			return textOnly("download failed: "+err.Error(), true)
		}
		return textOnly(answer, false)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/api"+p, nil)
	if h.opts.Token != "" {
		req.Header.Set("X-Kubeshark-Authorization", h.opts.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return textOnly("download failed: "+err.Error(), true)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return textOnly(fmt.Sprintf("download failed: HTTP %d", resp.StatusCode), true)
	}
	f, err := os.Create(dest)
	if err != nil {
		return textOnly("download failed: "+err.Error(), true)
	}
	n, err := io.Copy(f, resp.Body)
	f.Close()
	if err != nil {
		return textOnly(fmt.Sprintf("download failed after %d bytes: %v", n, err), true)
	}
	b, _ := json.MarshalIndent(map[string]any{"url": h.URL + "/api" + p, "path": dest, "size": n}, "", "  ")
	return textOnly(string(b), false)
}

// mcpFaults injects the MCP faults in front of the streamable HTTP server.
func (h *Hub) mcpFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := h.opts.Faults.MCP
		if r.Method != http.MethodPost || (f.ExitOn == "" && f.SlowOn == "" && f.MalformedOn == "" && f.OversizeOn == "" && !f.RejectNotifications) {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		json.Unmarshal(body, &m)
		if f.RejectNotifications && len(m.ID) == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found","data":"` + m.Method + `"}}`))
			return
		}
		tool := ""
		if m.Method == "tools/call" {
			tool = m.Params.Name
		}
		switch {
		case tool == "":
		case tool == f.ExitOn:
			// The server dies: the connection drops without an answer.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case tool == f.SlowOn:
			select {
			case <-time.After(f.Slow):
			case <-r.Context().Done():
				return
			}
		case tool == f.MalformedOn:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"content":[{"type":"text","text":"{\"trunc`))
			return
		case tool == f.OversizeOn:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"content":[{"type":"text","text":"` + strings.Repeat("x", f.OversizeBytes) + `"}]}}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}
