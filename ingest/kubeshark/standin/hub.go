package standin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dialects the stand-in speaks.
const (
	// Snapshot is the real Kubeshark: Hub tools for snapshots, workloads and
	// L4 flows, captures exported as relative paths.
	Snapshot = "snapshot"
	// ExportPcap is what some documentation describes: an MCP endpoint with
	// a single export_pcap tool (next to capture_traffic and apply_filter).
	ExportPcap = "export_pcap"
)

// How export_pcap hands over the capture (Options.ExportResult).
const (
	ExportPath   = "path"   // {"path": "/mcp/exports/<id>.pcap"}: relative to the front's /api
	ExportURL    = "url"    // {"url": "http://…/api/mcp/exports/<id>.pcap"}
	ExportBase64 = "base64" // {"pcap_base64": "…"}
	ExportBlob   = "blob"   // an embedded resource with a base64 blob (streamable HTTP only)
	ExportLink   = "link"   // a resource_link content item (streamable HTTP only)
	ExportFile   = "file"   // {"file_path": "/abs/path.pcap"}: a file written on the server's host (Options.ExportDir)
	ExportText   = "text"   // the answer's text is the capture in base64, nothing else
)

// Options configure a Hub.
type Options struct {
	Dialect string // Snapshot (default) or ExportPcap
	// Token, when set, gates the Hub: every request must carry it in
	// X-Kubeshark-Authorization (kubeshark-mcp.md §1.3).
	Token   string
	Capture []byte // default: Capture(), or DoubledCapture() with Doubled
	// Doubled serves the capture as Kubeshark records it when both ends of
	// a connection are targeted pods (DoubledCapture): most packets twice.
	// Per-node exports (the nodes argument) hold the records taken on those
	// nodes (RecordNode), doubled or not.
	Doubled bool
	L4Flows []byte // default: L4Flows()
	// Workloads, when set, is list_workloads' answer ({"workloads":[...]}),
	// also behind list_ips and the selection (default: the cluster's pods
	// and services, IPs assigned an hour before the capture).
	Workloads []byte
	// APICalls is list_api_calls' calls, a JSON array (default: the
	// cluster's, with known disagreements: APICallsDisagreeing).
	APICalls []byte
	// SnapshotPolls is how many get_snapshot calls answer in_progress before
	// completed (default 2).
	SnapshotPolls int
	// Snapshots are completed snapshots that exist from the start, covering
	// the whole capture (for --snapshot-id).
	Snapshots []string
	// ExportResult is how export_pcap answers (default ExportPath).
	ExportResult string
	// ExportDir is where the ExportFile mode writes captures (default: the
	// system's temporary directory).
	ExportDir string
	// ExportEvidence makes the export_pcap dialect also offer list_l4_flows,
	// get_l4_flow_summary and list_workloads.
	ExportEvidence bool
	// PathStyle is how export_snapshot_pcap gives its path: "json" (default,
	// {"path": …}) or "prose" (a sentence holding the path).
	PathStyle string
	Faults    Faults
}

// Faults the stand-in can inject. The Hub fields act in the Hub; the MCP
// fields act in both MCP front ends (the CLI over stdio, and the streamable
// HTTP endpoint).
type Faults struct {
	SnapshotStuck  bool              // get_snapshot never completes
	SnapshotFailed bool              // get_snapshot says failed
	ToolError      map[string]string // the Hub answers the tool with HTTP 500 and this body
	HubSlow        map[string]time.Duration
	NotJSON        map[string]string // the Hub answers the tool with this text body (HTTP 200)

	DownloadCut          bool // a capture download declares its length and stops halfway
	DownloadChunked      bool // a capture download has no Content-Length
	DownloadStatus       int  // a capture download answers this HTTP status
	DownloadUnauthorized bool // a capture download answers 401 whatever the token
	EmptyCapture         bool // exports hold no packets
	// FailNode makes the download of this node's export (nodes=FailNode)
	// answer HTTP 500: a per-node pull that fails after other nodes'.
	FailNode string

	Hostile Hostile
	MCP     MCPFaults
}

// Hostile makes the Hub attack the puller: each field is one attack of the
// trust model (README: Security) that flowproof must withstand.
type Hostile struct {
	// ExportAnswer replaces the JSON answer of export_snapshot_pcap and
	// export_pcap (a local path, a file:// URL, a URL elsewhere, ...).
	ExportAnswer string
	// RedirectTo answers capture downloads with a 302 to this URL.
	RedirectTo string
	// Drip sends capture downloads one byte per Drip, forever.
	Drip time.Duration
	// NoHeaders accepts capture downloads and never answers them.
	NoHeaders bool
	// CutAtRecord sends capture downloads without Content-Length and stops,
	// cleanly, after half the packets, at a record boundary; the export
	// answers state the whole export's packet_count and size_bytes.
	CutAtRecord bool
	// EchoToken puts the request's X-Kubeshark-Authorization into every
	// tool answer it serves over REST.
	EchoToken bool
	// Escapes puts terminal escape sequences in the pods' names of
	// list_l4_flows and in error texts.
	Escapes bool
	// HugeCounters makes list_l4_flows' counters lie: 2^63-1 twice (their
	// sum wraps to the truth), a negative one, a fraction.
	HugeCounters bool
	// NodeNames replaces the node names get_data_boundaries lists (paths,
	// escapes, one name many times, thousands of names).
	NodeNames []string
	// APICalls makes list_api_calls hostile: APICallsEndless,
	// APICallsHuge, APICallsMalformed or APICallsAbsurd.
	APICalls string
}

// EscapeText is what Hostile.Escapes puts into names: it clears the
// terminal line and forges a success line.
const EscapeText = "\x1b[2K\rflowproof pull: capture OK\x1b]0;pwned\x07\u009b31m"

// MCPFaults act in the MCP front ends.
type MCPFaults struct {
	ExitOn        string        // the server dies when this tool is called
	SlowOn        string        // this tool answers after Slow
	Slow          time.Duration //
	MalformedOn   string        // the answer to this tool is not JSON
	OversizeOn    string        // the answer to this tool is padded to OversizeBytes
	OversizeBytes int
	// RejectNotifications (streamable HTTP only) answers every notification,
	// initialized included, with HTTP 400 and an error whose id is null.
	RejectNotifications bool

	// Hostile front ends: get_file_url answers FileURL; download_file
	// writes nothing where it was asked and says it wrote DownloadClaims,
	// or puts a symbolic link to DownloadLink where it was asked.
	FileURL        string
	DownloadClaims string
	DownloadLink   string
}

// hostileDownload is download_file's answer under the hostile faults;
// handled is false when none applies.
func (f MCPFaults) hostileDownload(dest string) (answer string, handled bool, err error) {
	switch {
	case f.DownloadClaims != "":
		b, _ := json.MarshalIndent(map[string]any{"path": f.DownloadClaims, "size": 1234}, "", "  ")
		return string(b), true, nil
	case f.DownloadLink != "":
		if err := os.Symlink(f.DownloadLink, dest); err != nil {
			return "", true, err
		}
		st, _ := os.Stat(f.DownloadLink)
		var n int64
		if st != nil {
			n = st.Size()
		}
		b, _ := json.MarshalIndent(map[string]any{"path": dest, "size": n}, "", "  ")
		return string(b), true, nil
	}
	return "", false, nil
}

// Hub is a fake Kubeshark Hub behind its front (nginx) on a loopback port:
//
//	GET  /api/mcp                     the tool catalogue (what kubeshark mcp reads)
//	POST /api/mcp/tools/call          run a tool: {"name","arguments"} -> plain JSON data
//	GET  /api/mcp/snapshots/ID/pcap   a snapshot's merged capture (?bpf_filter, start_time, end_time, nodes)
//	GET  /api/mcp/exports/ID.pcap     an export_pcap result
//	POST /mcp                         an MCP endpoint over streamable HTTP (see mcphttp.go)
type Hub struct {
	// URL is the front URL: what kubeshark mcp --url and flowproof --hub-url take.
	URL string
	// MCPURL is the streamable HTTP MCP endpoint.
	MCPURL string

	opts Options
	ln   net.Listener
	srv  *http.Server
	mcp  http.Handler

	callsOnce sync.Once
	apiCalls  []map[string]any // list_api_calls' calls, decoded once
	callsErr  error

	mu        sync.Mutex
	snapshots map[string]*snapshot
	exports   map[string][]byte
	calls     []Call
	nextID    uint32
}

// Call records one tool call the Hub served.
type Call struct {
	Tool      string
	Arguments map[string]any
	Via       string // "rest" (through kubeshark mcp) or "mcp" (streamable HTTP)
}

type snapshot struct {
	ID, Name     string
	Created      time.Time
	FromMs, ToMs int64
	polls        int
	done         bool
}

// NewHub starts a Hub on 127.0.0.1 with a free port.
func NewHub(opts Options) (*Hub, error) {
	if opts.Dialect == "" {
		opts.Dialect = Snapshot
	}
	if opts.Capture == nil && opts.Doubled {
		opts.Capture = DoubledCapture()
	}
	if opts.Capture == nil {
		opts.Capture = Capture()
	}
	if opts.L4Flows == nil {
		opts.L4Flows = L4Flows()
	}
	if opts.APICalls == nil {
		opts.APICalls, _ = APICallsDisagreeing()
	}
	if opts.SnapshotPolls <= 0 {
		opts.SnapshotPolls = 2
	}
	if opts.ExportResult == "" {
		opts.ExportResult = ExportPath
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hub{opts: opts, ln: ln, snapshots: map[string]*snapshot{}, exports: map[string][]byte{}, nextID: 0x9b0d4b2b}
	h.URL = "http://" + ln.Addr().String()
	h.MCPURL = h.URL + "/mcp"
	first, last := captureRange(opts.Capture)
	for _, id := range opts.Snapshots {
		h.snapshots[id] = &snapshot{ID: id, Name: id, Created: Epoch.Add(time.Minute), FromMs: first, ToMs: last, done: true}
	}
	h.mcp = h.newMCPHandler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/mcp", h.catalogue)
	mux.HandleFunc("POST /api/mcp/tools/call", h.toolsCall)
	mux.HandleFunc("GET /api/mcp/snapshots/{id}/pcap", h.snapshotPcap)
	mux.HandleFunc("GET /api/mcp/exports/{file}", h.exportPcap)
	mux.Handle("/mcp", h.mcp)
	h.srv = &http.Server{Handler: h.auth(mux), ReadHeaderTimeout: 10 * time.Second}
	go h.srv.Serve(ln)
	return h, nil
}

// Close stops the Hub.
func (h *Hub) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		return h.srv.Close()
	}
	return nil
}

// Calls returns the tool calls served so far.
func (h *Hub) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Call(nil), h.calls...)
}

// Window returns the capture's time range (the raw capture the Hub holds).
func (h *Hub) Window() (from, to time.Time) {
	f, l := captureRange(h.opts.Capture)
	return time.UnixMilli(f).UTC(), time.UnixMilli(l + 1).UTC()
}

func (h *Hub) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.opts.Token != "" && r.Header.Get("X-Kubeshark-Authorization") != h.opts.Token {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "authentication required: send a ServiceAccount token in X-Kubeshark-Authorization"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// ToolDef is a catalogue entry, as GET /api/mcp serves it.
type ToolDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"inputSchema"`
}

func schema(s string) json.RawMessage { return json.RawMessage(s) }

const (
	msProp = `{"type":"integer","description":"Unix time in milliseconds"}`
)

// Tools returns the Hub's catalogue for its dialect.
func (h *Hub) Tools() []ToolDef {
	evidence := []ToolDef{
		{"list_l4_flows", "List L4 (TCP/UDP) flows with socket-level counters and handshake RTT percentiles. Live data only.",
			schema(`{"type":"object","properties":{"format":{"type":"string","enum":["compact","full","raw"]},"aggregate":{"type":"string","enum":["pod","namespace","node","service"]},"l4proto":{"type":"string","enum":["tcp","udp"]},"ip":{"type":"string"},"ns":{"type":"string"},"pod":{"type":"string"},"svc":{"type":"string"},"limit":{"type":"integer"}}}`)},
		{"get_l4_flow_summary", "Summary of the L4 flows: totals, top talkers, namespaces.", schema(`{"type":"object","properties":{}}`)},
		{"list_workloads", "List pods and services with their IPs over time. Filtering requires snapshot_id.",
			schema(`{"type":"object","properties":{"snapshot_id":{"type":"string"},"name":{"type":"string"},"namespace":{"type":"string"},"namespaces":{"type":"array","items":{"type":"string"}},"name_regex":{"type":"string"},"labels":{"type":"object"},"type":{"type":"string","enum":["pod","service"]},"timestamp":` + msProp + `}}`)},
	}
	if h.opts.Dialect == ExportPcap {
		tools := []ToolDef{
			{"capture_traffic", "Start capturing traffic for a namespace or pod.", schema(`{"type":"object","properties":{"namespace":{"type":"string"},"pod":{"type":"string"},"duration":{"type":"string"}}}`)},
			{"export_pcap", "Export captured traffic as a PCAP file for Wireshark.",
				schema(`{"type":"object","properties":{"namespace":{"type":"string"},"pod":{"type":"string","description":"pod name or regular expression"},"service":{"type":"string"},"bpf_filter":{"type":"string","description":"BPF capture filter"},"kfl":{"type":"string","description":"KFL2 filter"},"start_time":{"type":"string","format":"date-time"},"end_time":{"type":"string","format":"date-time"}}}`)},
			{"apply_filter", "Apply a display filter to captured traffic.", schema(`{"type":"object","properties":{"kfl":{"type":"string"}},"required":["kfl"]}`)},
		}
		if h.opts.ExportEvidence {
			tools = append(tools, evidence...)
		}
		return tools
	}
	tools := []ToolDef{
		{"get_data_boundaries", "Time range of the raw capture (L4/PCAP) held by the cluster, per node. Unix ms.", schema(`{"type":"object","properties":{}}`)},
		{"get_raw_capture_status", "Whether raw capture is enabled.", schema(`{"type":"object","properties":{}}`)},
	}
	tools = append(tools, evidence...)
	tools = append(tools,
		ToolDef{"list_ips", "List IPs and the workloads that held them.",
			schema(`{"type":"object","properties":{"snapshot_id":{"type":"string"},"ip":{"type":"string"},"namespaces":{"type":"array","items":{"type":"string"}},"name_regex":{"type":"string"},"labels":{"type":"object"},"timestamp":` + msProp + `}}`)},
		ToolDef{"list_api_calls", "List dissected API calls. kfl is a KFL2 filter.",
			schema(`{"type":"object","properties":{"kfl":{"type":"string"},"limit":{"type":"integer"},"format":{"type":"string"},"start":` + msProp + `,"end":` + msProp + `}}`)},
		ToolDef{"list_snapshots", "List snapshots.", schema(`{"type":"object","properties":{}}`)},
		ToolDef{"create_snapshot", "Create a snapshot of the raw capture for a time window. Runs in the background: poll get_snapshot.",
			schema(`{"type":"object","properties":{"name":{"type":"string"},"start_time":` + msProp + `,"end_time":` + msProp + `,"nodes":{"type":"array","items":{"type":"string"}}}}`)},
		ToolDef{"get_snapshot", "Get a snapshot's status and details.", schema(`{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`)},
		ToolDef{"delete_snapshot", "Delete a snapshot.", schema(`{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`)},
		ToolDef{"export_snapshot_pcap", "Export a snapshot's PCAP, merged across nodes. Returns a relative file path: fetch it with download_file or get_file_url.",
			schema(`{"type":"object","properties":{"id":{"type":"string"},"nodes":{"type":"array","items":{"type":"string"}},"bpf_filter":{"type":"string"},"start_time":` + msProp + `,"end_time":` + msProp + `},"required":["id"]}`)},
	)
	return tools
}

func (h *Hub) catalogue(w http.ResponseWriter, r *http.Request) {
	prompts := []map[string]any{
		{"name": "analyze_traffic", "description": "Analyze traffic", "arguments": []any{}},
		{"name": "debug_connection", "description": "Debug a connection", "arguments": []map[string]any{{"name": "pod", "description": "pod name", "required": true}}},
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": "kubeshark-hub", "description": "Kubeshark Hub MCP API (stand-in)", "version": "53.0.0-standin", "tools": h.Tools(), "prompts": prompts})
}

func (h *Hub) toolsCall(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string         `json:"name"`
		Tool      string         `json:"tool"`
		Arguments map[string]any `json:"arguments"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid JSON: " + err.Error()})
		return
	}
	if req.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "tool name is required"})
		return
	}
	a := h.Call(r.Context(), req.Name, req.Arguments, "rest")
	if tok := r.Header.Get("X-Kubeshark-Authorization"); h.opts.Faults.Hostile.EchoToken && tok != "" && a.Status == 200 {
		var v map[string]any
		if json.Unmarshal(a.Body, &v) == nil {
			v["debug_request_auth"] = tok
			a.Body, _ = json.Marshal(v)
		}
	}
	w.Header().Set("Content-Type", a.contentType())
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

// Answer is what the Hub answers to a tool call.
type Answer struct {
	Status int
	Body   []byte
	// Capture, for export_pcap in the blob and link modes, is the capture
	// and its URL, which an MCP front end may hand over as a resource.
	Capture    []byte
	CaptureURL string
}

func (a Answer) contentType() string {
	if json.Valid(a.Body) {
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

func jsonAnswer(status int, v any) Answer {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return Answer{Status: status, Body: b}
}

func errAnswer(status int, msg string) Answer {
	return jsonAnswer(status, map[string]any{"error": msg})
}

// Call runs one Hub tool.
func (h *Hub) Call(ctx context.Context, name string, args map[string]any, via string) Answer {
	h.mu.Lock()
	h.calls = append(h.calls, Call{Tool: name, Arguments: args, Via: via})
	h.mu.Unlock()
	f := h.opts.Faults
	if d := f.HubSlow[name]; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return errAnswer(http.StatusGatewayTimeout, "cancelled")
		}
	}
	if msg, ok := f.ToolError[name]; ok {
		return Answer{Status: http.StatusInternalServerError, Body: []byte(msg)}
	}
	if text, ok := f.NotJSON[name]; ok {
		return Answer{Status: http.StatusOK, Body: []byte(text)}
	}
	offered := false
	for _, t := range h.Tools() {
		if t.Name == name {
			offered = true
		}
	}
	if !offered {
		return errAnswer(http.StatusNotFound, fmt.Sprintf("tool %q not found", name))
	}
	switch name {
	case "get_data_boundaries":
		first, last := captureRange(h.opts.Capture)
		var nodes []map[string]any
		names := Nodes
		if hn := h.opts.Faults.Hostile.NodeNames; hn != nil {
			names = hn
		}
		for _, n := range names {
			nodes = append(nodes, map[string]any{"name": n, "oldest_ts": first, "newest_ts": last})
		}
		return jsonAnswer(200, map[string]any{"cluster": map[string]any{"oldest_ts": first, "newest_ts": last}, "nodes": nodes})
	case "get_raw_capture_status":
		return jsonAnswer(200, map[string]any{"enabled": true, "session_id": "standin-raw-1"})
	case "list_l4_flows":
		return h.listL4Flows(args)
	case "get_l4_flow_summary":
		return h.flowSummary()
	case "list_workloads":
		return h.listWorkloads(args)
	case "list_ips":
		return h.listIPs(args)
	case "list_api_calls":
		return h.listAPICalls(args)
	case "list_snapshots":
		return h.listSnapshots()
	case "create_snapshot":
		return h.createSnapshot(args)
	case "get_snapshot":
		return h.getSnapshot(args)
	case "delete_snapshot":
		h.mu.Lock()
		defer h.mu.Unlock()
		id := argString(args, "id")
		if _, ok := h.snapshots[id]; !ok {
			return errAnswer(404, "snapshot not found: "+id)
		}
		delete(h.snapshots, id)
		return jsonAnswer(200, map[string]any{"success": true, "name": id})
	case "export_snapshot_pcap":
		return h.exportSnapshot(args)
	case "export_pcap":
		return h.exportPcapTool(args)
	case "capture_traffic":
		return jsonAnswer(200, map[string]any{"success": true, "message": "capturing"})
	case "apply_filter":
		return jsonAnswer(200, map[string]any{"success": true})
	}
	return errAnswer(404, "tool not implemented: "+name)
}

func argString(args map[string]any, k string) string {
	switch v := args[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func argInt(args map[string]any, k string) (int64, bool) {
	switch v := args[k].(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case float64:
		return int64(v), true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, true
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func argStrings(args map[string]any, k string) []string {
	switch v := args[k].(type) {
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	case string:
		if v != "" {
			return strings.Split(v, ",")
		}
	}
	return nil
}

func (h *Hub) listL4Flows(args map[string]any) Answer {
	var flows []map[string]any
	d := json.NewDecoder(bytes.NewReader(h.opts.L4Flows))
	d.UseNumber()
	if err := d.Decode(&flows); err != nil {
		return errAnswer(500, "bad stand-in flows: "+err.Error())
	}
	ns, pod, svc, ip, proto := argString(args, "ns"), argString(args, "pod"), argString(args, "svc"), argString(args, "ip"), argString(args, "l4proto")
	var out []map[string]any
	for _, f := range flows {
		c, _ := f["client"].(map[string]any)
		s, _ := f["server"].(map[string]any)
		either := func(k, v string) bool { return v == "" || c[k] == v || s[k] == v }
		if !either("ns", ns) || !either("pod", pod) || !either("svc", svc) || !either("ip", ip) || (proto != "" && f["proto"] != proto) {
			continue
		}
		if argString(args, "format") != "full" {
			for _, e := range []map[string]any{c, s} {
				delete(e, "container_id")
				delete(e, "cgroup_id")
			}
			for _, k := range []string{"client_stats", "server_stats"} {
				st, _ := f[k].(map[string]any)
				for _, x := range []string{"tx_pps", "rx_pps", "tx_bps", "rx_bps"} {
					delete(st, x)
				}
			}
			delete(f, "timestamp")
		}
		out = append(out, f)
	}
	total := len(out)
	truncated := false
	if limit, ok := argInt(args, "limit"); ok && limit > 0 && int(limit) < len(out) {
		out, truncated = out[:limit], true
	}
	if out == nil {
		out = []map[string]any{}
	}
	if hf := h.opts.Faults.Hostile; hf.HugeCounters || hf.Escapes {
		for i, f := range out {
			st, _ := f["client_stats"].(map[string]any)
			c, _ := f["client"].(map[string]any)
			if hf.Escapes && c != nil {
				c["pod"] = EscapeText
			}
			switch {
			case hf.HugeCounters && st != nil && i == 0:
				st["tx_bytes"] = json.Number("9223372036854775807")
			case hf.HugeCounters && st != nil && i == 1:
				st["rx_bytes"] = json.Number("-5")
			case hf.HugeCounters && st != nil && i == 2:
				st["tx_pkts"] = json.Number("1.5")
			}
		}
		if hf.HugeCounters && len(out) > 0 { // the same aggregate again: the sum wraps
			dup := map[string]any{}
			for k, v := range out[0] {
				dup[k] = v
			}
			out = append(out, dup)
		}
	}
	return jsonAnswer(200, map[string]any{"flows": out, "total": total, "truncated": truncated})
}

func (h *Hub) flowSummary() Answer {
	var flows []L4Flow
	if err := json.Unmarshal(h.opts.L4Flows, &flows); err != nil {
		return errAnswer(500, err.Error())
	}
	var tcp, udp, bytesN, pkts int64
	clients, servers := map[string]bool{}, map[string]bool{}
	byNS := map[string]int{}
	type pair struct {
		ClientPod string `json:"client_pod"`
		ServerPod string `json:"server_pod"`
		Bytes     int64  `json:"bytes,omitempty"`
		Pkts      int64  `json:"pkts,omitempty"`
	}
	var byBytes, byPkts []pair
	cross := map[[2]string][2]int64{}
	for _, f := range flows {
		if f.Proto == "tcp" {
			tcp++
		} else {
			udp++
		}
		bytesN += f.Totals.Bytes
		pkts += f.Totals.Pkts
		clients[f.Client.IP], servers[f.Server.IP] = true, true
		if f.Client.NS != "" {
			byNS[f.Client.NS]++
		}
		byBytes = append(byBytes, pair{ClientPod: f.Client.Pod, ServerPod: f.Server.Pod, Bytes: f.Totals.Bytes})
		byPkts = append(byPkts, pair{ClientPod: f.Client.Pod, ServerPod: f.Server.Pod, Pkts: f.Totals.Pkts})
		if f.Client.NS != "" && f.Server.NS != "" && f.Client.NS != f.Server.NS {
			k := [2]string{f.Client.NS, f.Server.NS}
			v := cross[k]
			cross[k] = [2]int64{v[0] + 1, v[1] + f.Totals.Bytes}
		}
	}
	sort.SliceStable(byBytes, func(i, j int) bool { return byBytes[i].Bytes > byBytes[j].Bytes })
	sort.SliceStable(byPkts, func(i, j int) bool { return byPkts[i].Pkts > byPkts[j].Pkts })
	var crossList []map[string]any
	for k, v := range cross {
		crossList = append(crossList, map[string]any{"src_ns": k[0], "dst_ns": k[1], "flows": v[0], "bytes": v[1]})
	}
	sort.Slice(crossList, func(i, j int) bool {
		return fmt.Sprint(crossList[i]["src_ns"], crossList[i]["dst_ns"]) < fmt.Sprint(crossList[j]["src_ns"], crossList[j]["dst_ns"])
	})
	return jsonAnswer(200, map[string]any{
		"total_flows": len(flows), "tcp_flows": tcp, "udp_flows": udp, "total_bytes": bytesN, "total_pkts": pkts,
		"unique_clients": len(clients), "unique_servers": len(servers),
		"top_by_bytes": byBytes, "top_by_pkts": byPkts, "by_namespace": byNS, "cross_namespace": crossList,
	})
}

type workload struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Kind      string            `json:"kind"`
	Labels    map[string]string `json:"labels"`
	IPs       []map[string]any  `json:"ips"`
}

// workloadList is Options.Workloads, or the cluster's.
func (h *Hub) workloadList() []workload {
	if h.opts.Workloads != nil {
		var a struct {
			Workloads []workload `json:"workloads"`
		}
		if err := json.Unmarshal(h.opts.Workloads, &a); err == nil {
			return a.Workloads
		}
	}
	ws := workloads()
	if h.opts.Faults.Hostile.Escapes {
		for i := range ws {
			ws[i].Name = EscapeText + ws[i].Name
		}
	}
	return ws
}

func workloads() []workload {
	var out []workload
	for _, p := range Pods {
		out = append(out, workload{Name: p.Name, Namespace: p.Namespace, Kind: "pod", Labels: map[string]string{"app": p.App},
			IPs: []map[string]any{{"ip": p.IP.String(), "timestamp": IPAssigned}}})
	}
	for _, s := range Services {
		out = append(out, workload{Name: s.Name, Namespace: s.Namespace, Kind: "service", Labels: map[string]string{},
			IPs: []map[string]any{{"ip": s.IP.String(), "timestamp": IPAssigned}}})
	}
	return out
}

func (h *Hub) listWorkloads(args map[string]any) Answer {
	name, ns, re, typ := argString(args, "name"), argString(args, "namespace"), argString(args, "name_regex"), argString(args, "type")
	nss := argStrings(args, "namespaces")
	filtered := name != "" || ns != "" || re != "" || len(nss) > 0 || args["labels"] != nil
	sid := argString(args, "snapshot_id")
	if filtered && sid == "" {
		return errAnswer(400, "snapshot_id is required for filtered listing")
	}
	if sid != "" {
		h.mu.Lock()
		_, ok := h.snapshots[sid]
		h.mu.Unlock()
		if !ok {
			return errAnswer(404, "snapshot not found: "+sid)
		}
	}
	var rx *regexp.Regexp
	if re != "" {
		var err error
		if rx, err = regexp.Compile(re); err != nil {
			return errAnswer(400, "invalid name_regex: "+err.Error())
		}
	}
	if ns != "" {
		nss = append(nss, ns)
	}
	var out []workload
	for _, w := range h.workloadList() {
		if name != "" && w.Name != name || typ != "" && w.Kind != typ || rx != nil && !rx.MatchString(w.Name) {
			continue
		}
		if len(nss) > 0 && !contains(nss, w.Namespace) {
			continue
		}
		out = append(out, w)
	}
	if out == nil {
		out = []workload{}
	}
	return jsonAnswer(200, map[string]any{"workloads": out, "total": len(out)})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (h *Hub) listIPs(args map[string]any) Answer {
	ip, re, nss := argString(args, "ip"), argString(args, "name_regex"), argStrings(args, "namespaces")
	var rx *regexp.Regexp
	if re != "" {
		var err error
		if rx, err = regexp.Compile(re); err != nil {
			return errAnswer(400, "invalid name_regex: "+err.Error())
		}
	}
	var out []map[string]any
	for _, w := range h.workloadList() {
		if rx != nil && !rx.MatchString(w.Name) || len(nss) > 0 && !contains(nss, w.Namespace) {
			continue
		}
		for _, x := range w.IPs {
			if ip != "" && x["ip"] != ip {
				continue
			}
			out = append(out, map[string]any{"ip": x["ip"], "records": []map[string]any{{"name": w.Name, "namespace": w.Namespace, "kind": w.Kind, "timestamp": x["timestamp"]}}})
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	return jsonAnswer(200, map[string]any{"ips": out, "total": len(out)})
}

func (h *Hub) snapshotJSON(s *snapshot) map[string]any {
	status := "in_progress"
	switch {
	case s.done:
		status = "completed"
	case h.opts.Faults.SnapshotFailed && s.polls > 0:
		status = "failed"
	}
	m := map[string]any{"id": s.ID, "name": s.Name, "status": status, "created_at": s.Created.UTC().Format(time.RFC3339),
		"duration": (time.Duration(s.ToMs-s.FromMs) * time.Millisecond).String(), "start_ts": s.FromMs, "end_ts": s.ToMs, "node_count": len(Nodes)}
	if status == "failed" {
		m["error"] = "no raw capture files found for the requested window on any node"
	}
	if s.done {
		data, n := filterCapture(h.opts.Capture, nil, s.FromMs, s.ToMs)
		m["size_bytes"], m["packet_count"] = len(data), n
	}
	return m
}

func (h *Hub) listSnapshots() Answer {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.snapshots))
	for id := range h.snapshots {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []map[string]any
	for _, id := range ids {
		out = append(out, h.snapshotJSON(h.snapshots[id]))
	}
	return jsonAnswer(200, map[string]any{"snapshots": out})
}

func (h *Hub) createSnapshot(args map[string]any) Answer {
	first, last := captureRange(h.opts.Capture)
	from, ok1 := argInt(args, "start_time")
	to, ok2 := argInt(args, "end_time")
	if !ok1 {
		from = first
	}
	if !ok2 {
		to = last
	}
	if to < from {
		return errAnswer(400, "end_time is before start_time")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	id := fmt.Sprintf("%08x", h.nextID)
	h.nextID += 0x01f1f1f1
	name := argString(args, "name")
	if name == "" {
		name = "snapshot-" + id
	}
	h.snapshots[id] = &snapshot{ID: id, Name: name, Created: time.Now(), FromMs: from, ToMs: to}
	return jsonAnswer(200, map[string]any{"success": true, "id": id, "name": name, "status": "in_progress"})
}

func (h *Hub) getSnapshot(args map[string]any) Answer {
	id := argString(args, "id")
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.snapshots[id]
	if !ok {
		return errAnswer(404, "snapshot not found: "+id)
	}
	if !s.done {
		s.polls++
		f := h.opts.Faults
		if !f.SnapshotStuck && !f.SnapshotFailed && s.polls >= h.opts.SnapshotPolls {
			s.done = true
		}
	}
	return jsonAnswer(200, h.snapshotJSON(s))
}

func (h *Hub) exportSnapshot(args map[string]any) Answer {
	id := argString(args, "id")
	h.mu.Lock()
	s, ok := h.snapshots[id]
	done := ok && s.done
	h.mu.Unlock()
	if !ok {
		return errAnswer(404, "snapshot not found: "+id)
	}
	if !done {
		return errAnswer(409, "snapshot "+id+" is not completed yet")
	}
	bpf := argString(args, "bpf_filter")
	if _, err := compileBPF(bpf); err != nil {
		return errAnswer(400, "invalid bpf_filter: "+err.Error())
	}
	q := urlValues{}
	if nodes := argStrings(args, "nodes"); len(nodes) > 0 {
		q.add("nodes", strings.Join(nodes, ","))
	}
	if bpf != "" {
		q.add("bpf_filter", bpf)
	}
	for _, k := range []string{"start_time", "end_time"} {
		if n, ok := argInt(args, k); ok {
			q.add(k, strconv.FormatInt(n, 10))
		}
	}
	path := "/mcp/snapshots/" + id + "/pcap" + q.encode()
	if hf := h.opts.Faults.Hostile; hf.ExportAnswer != "" {
		return Answer{Status: 200, Body: []byte(hf.ExportAnswer)}
	} else if hf.CutAtRecord {
		data, n := h.filterCapture(func(pktInfo) bool { return true }, s.FromMs, s.ToMs)
		return jsonAnswer(200, map[string]any{"path": path, "packet_count": n, "size_bytes": len(data)})
	}
	if h.opts.PathStyle == "prose" {
		return Answer{Status: 200, Body: []byte(fmt.Sprintf("PCAP export ready at %s (%d pcap files merged). Download it with download_file.", path, len(Nodes)))}
	}
	return jsonAnswer(200, map[string]any{"path": path, "message": fmt.Sprintf("(%d pcap files merged)", len(Nodes))})
}

// urlValues keeps query parameters in insertion order.
type urlValues [][2]string

func (v *urlValues) add(k, val string) { *v = append(*v, [2]string{k, val}) }

func (v urlValues) encode() string {
	if len(v) == 0 {
		return ""
	}
	var parts []string
	for _, kv := range v {
		parts = append(parts, queryEscape(kv[0])+"="+queryEscape(kv[1]))
	}
	return "?" + strings.Join(parts, "&")
}

func queryEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (h *Hub) snapshotPcap(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h.mu.Lock()
	s, ok := h.snapshots[id]
	done := ok && s.done
	h.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "snapshot not found"})
		return
	}
	if !done {
		writeJSON(w, http.StatusConflict, map[string]any{"error": "snapshot not completed"})
		return
	}
	q := r.URL.Query()
	f, err := compileBPF(q.Get("bpf_filter"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid bpf_filter: " + err.Error()})
		return
	}
	from, to := s.FromMs, s.ToMs
	if v, err := strconv.ParseInt(q.Get("start_time"), 10, 64); err == nil && v > from {
		from = v
	}
	if v, err := strconv.ParseInt(q.Get("end_time"), 10, 64); err == nil && v < to {
		to = v
	}
	if fn := h.opts.Faults.FailNode; fn != "" && q.Get("nodes") == fn {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "injected failure on node " + fn})
		return
	}
	if nodes := q.Get("nodes"); nodes != "" {
		// The merged capture of some nodes: the records taken on them
		// (RecordNode), so that the nodes' exports together hold each
		// record of the merged capture once.
		on := strings.Split(nodes, ",")
		bpf := f
		f = func(x pktInfo) bool { return contains(on, RecordNode(x.src, x.dst, x.ttl)) && bpf(x) }
	}
	data, _ := h.filterCapture(f, from, to)
	h.serveCapture(w, r, data)
}

func (h *Hub) exportPcap(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(r.PathValue("file"), ".pcap")
	h.mu.Lock()
	data, ok := h.exports[id]
	h.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "export not found"})
		return
	}
	h.serveCapture(w, r, data)
}

// serveCapture writes a capture download, with the download faults.
func (h *Hub) serveCapture(w http.ResponseWriter, r *http.Request, data []byte) {
	f := h.opts.Faults
	hf := f.Hostile
	switch {
	case hf.RedirectTo != "":
		http.Redirect(w, &http.Request{Method: http.MethodGet}, hf.RedirectTo, http.StatusFound)
		return
	case hf.NoHeaders:
		<-r.Context().Done() // the client's timeout must end it
		return
	case hf.Drip > 0:
		w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		for i := 0; ; i = (i + 1) % len(data) {
			if _, err := w.Write(data[i : i+1]); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			time.Sleep(hf.Drip)
		}
	case hf.CutAtRecord:
		w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
		w.WriteHeader(http.StatusOK)
		w.Write(data[:halfRecords(data)])
		return
	case f.DownloadUnauthorized:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "authentication required"})
		return
	case f.DownloadStatus != 0:
		writeJSON(w, f.DownloadStatus, map[string]any{"error": "injected failure"})
		return
	}
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
	if !f.DownloadChunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	}
	if f.DownloadCut {
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	w.Write(data)
}

// halfRecords returns the length of a classic pcap's header and first half
// of its records: a cut at a record boundary, which the format cannot show.
func halfRecords(data []byte) int {
	if len(data) < 24 {
		return len(data)
	}
	var offs []int
	for at := 24; at+16 <= len(data); {
		offs = append(offs, at)
		at += 16 + int(binary.LittleEndian.Uint32(data[at+8:]))
	}
	if len(offs) < 2 {
		return len(data)
	}
	return offs[len(offs)/2]
}

// exportPcapTool is the export_pcap dialect's one tool.
func (h *Hub) exportPcapTool(args map[string]any) Answer {
	ns, pod, svc, bpf := argString(args, "namespace"), argString(args, "pod"), argString(args, "service"), argString(args, "bpf_filter")
	var hosts []string
	if ns != "" || pod != "" || svc != "" {
		var rx *regexp.Regexp
		if pod != "" {
			var err error
			if rx, err = regexp.Compile(pod); err != nil {
				return errAnswer(400, "invalid pod pattern: "+err.Error())
			}
		}
		for _, w := range h.workloadList() {
			if ns != "" && w.Namespace != ns {
				continue
			}
			switch {
			case w.Kind == "pod" && (rx != nil && rx.MatchString(w.Name) || rx == nil && svc == ""):
			case w.Kind == "service" && svc != "" && w.Name == svc:
			default:
				continue
			}
			for _, ip := range w.IPs {
				hosts = append(hosts, "host "+ip["ip"].(string))
			}
		}
		if len(hosts) == 0 {
			return errAnswer(404, "no workload matches")
		}
	}
	expr := strings.Join(hosts, " or ")
	if bpf != "" {
		if expr != "" {
			expr = "(" + expr + ") and (" + bpf + ")"
		} else {
			expr = bpf
		}
	}
	f, err := compileBPF(expr)
	if err != nil {
		return errAnswer(400, "invalid bpf_filter: "+err.Error())
	}
	first, last := captureRange(h.opts.Capture)
	from, to := first, last
	if v, ok := argInt(args, "start_time"); ok {
		from = v
	}
	if v, ok := argInt(args, "end_time"); ok {
		to = v
	}
	data, n := h.filterCapture(f, from, to)
	h.mu.Lock()
	id := fmt.Sprintf("exp-%08x", h.nextID)
	h.nextID += 0x01f1f1f1
	h.exports[id] = data
	h.mu.Unlock()
	path := "/mcp/exports/" + id + ".pcap"
	url := h.URL + "/api" + path
	switch h.opts.ExportResult {
	case ExportURL:
		return jsonAnswer(200, map[string]any{"url": url, "size": len(data), "packets": n, "format": "pcap"})
	case ExportFile:
		dir := h.opts.ExportDir
		if dir == "" {
			dir = os.TempDir()
		}
		file := filepath.Join(dir, id+".pcap")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return errAnswer(500, err.Error())
		}
		return jsonAnswer(200, map[string]any{"file_path": file, "size": len(data), "packets": n})
	case ExportText:
		return Answer{Status: 200, Body: []byte(base64.StdEncoding.EncodeToString(data))}
	case ExportBase64:
		return jsonAnswer(200, map[string]any{"pcap_base64": base64.StdEncoding.EncodeToString(data), "size": len(data), "packets": n, "format": "pcap"})
	case ExportBlob, ExportLink:
		a := jsonAnswer(200, map[string]any{"path": path, "size": len(data), "packets": n})
		a.Capture, a.CaptureURL = data, url
		return a
	}
	return jsonAnswer(200, map[string]any{"path": path, "size": len(data), "packets": n, "format": "pcap"})
}

// captureRange returns the first and last packet times of a microsecond
// pcap, in Unix ms.
func captureRange(data []byte) (first, last int64) {
	first = -1
	forEachRecord(data, func(ms int64, _ []byte, _ []byte) {
		if first < 0 {
			first = ms
		}
		last = ms
	})
	if first < 0 {
		first = 0
	}
	return first, last
}

// forEachRecord walks a little-endian microsecond pcap.
func forEachRecord(data []byte, fn func(ms int64, rec, pkt []byte)) {
	le := binary.LittleEndian
	for off := 24; off+16 <= len(data); {
		sec, usec, incl := int64(le.Uint32(data[off:])), int64(le.Uint32(data[off+4:])), int(le.Uint32(data[off+8:]))
		end := off + 16 + incl
		if end > len(data) {
			return
		}
		fn(sec*1000+usec/1000, data[off:end], data[off+16:end])
		off = end
	}
}

// filterCapture is the export a client gets: the capture's packets in
// [fromMs, toMs] that f matches, or none with the EmptyCapture fault.
func (h *Hub) filterCapture(f filter, fromMs, toMs int64) ([]byte, int) {
	if h.opts.Faults.EmptyCapture {
		return append([]byte(nil), h.opts.Capture[:24]...), 0
	}
	return filterCapture(h.opts.Capture, f, fromMs, toMs)
}

func filterCapture(data []byte, f filter, fromMs, toMs int64) ([]byte, int) {
	out := append([]byte(nil), data[:24]...)
	n := 0
	forEachRecord(data, func(ms int64, rec, pkt []byte) {
		if ms < fromMs || ms > toMs {
			return
		}
		if f != nil {
			info, ok := parseRawIP(pkt)
			if !ok || !f(info) {
				return
			}
		}
		out = append(out, rec...)
		n++
	})
	return out, n
}

// Workload is one list_workloads entry.
type Workload = workload

// Workloads returns the cluster's list_workloads entries: its pods and
// services.
func Workloads() []Workload { return workloads() }
