package kubeshark

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
	"github.com/flowproof/flowproof/provenance"
)

// Capture routes ("dialects"), chosen from tools/list.
const (
	DialectAuto       = "auto"
	DialectSnapshot   = "snapshot"    // create_snapshot -> get_snapshot -> export_snapshot_pcap (the real Kubeshark)
	DialectExportPcap = "export_pcap" // a single export_pcap tool (as some documentation describes)
)

// Defaults of a Request.
const (
	DefaultSince           = 15 * time.Minute
	DefaultSnapshotTimeout = 10 * time.Minute
	DefaultPollInterval    = 2 * time.Second
	DefaultMaxCaptureBytes = int64(16) << 30
	// A download (HTTP or download_file) ends with an error after an hour in
	// all, 30 s without response headers, or a minute in which less than
	// 16 KiB arrived: a Hub that stalls or drips cannot hold a pull forever.
	DefaultDownloadTimeout = time.Hour
	DefaultHeaderTimeout   = 30 * time.Second
	DefaultIdleTimeout     = time.Minute
)

// staleCapture is how far the newest raw capture may lag the window's end
// before flowproof warns (the Hub's boundaries trail live traffic a little).
const staleCapture = 2 * time.Minute

// Request is what to pull, from where, and into which directory.
type Request struct {
	Endpoint Endpoint
	// HubURL is the Kubeshark front URL (the one given to kubeshark mcp
	// --url); a relative path P returned by a tool is fetched from
	// HubURL + "/api" + P, as Kubeshark's get_file_url builds it.
	HubURL string

	Window     Window // zero: the last DefaultSince, unless SnapshotID is set
	WindowText string // how the window was given, for the manifest ("--since 30m")
	Selection  Selection
	SnapshotID string // reuse this snapshot instead of creating one
	Dialect    string // DialectAuto (or ""), DialectSnapshot or DialectExportPcap
	// PerNode exports the snapshot one node at a time (export_snapshot_pcap's
	// nodes argument), the nodes being Selection.Nodes or else those
	// get_data_boundaries names: captures/NODE-snapshot-ID.pcap, each with
	// its node in the manifest. Analysis merges them by time. Snapshot
	// route only.
	PerNode bool

	// Dir is the evidence directory: it must not exist, or be empty. What
	// the pull creates is the owner's alone (0700 directories, 0600 files),
	// or readable by the group too with GroupReadable (0750, 0640).
	Dir           string
	GroupReadable bool

	Session         SessionOptions
	SnapshotTimeout time.Duration     // how long to wait for the snapshot; 0: DefaultSnapshotTimeout
	PollInterval    time.Duration     // between get_snapshot calls; 0: DefaultPollInterval
	DownloadTimeout time.Duration     // bounds a capture download; 0: DefaultDownloadTimeout
	HeaderTimeout   time.Duration     // bounds the wait for a download's response headers; 0: DefaultHeaderTimeout
	IdleTimeout     time.Duration     // a download receiving less than 16 KiB in this time is ended; 0: DefaultIdleTimeout
	MaxCaptureBytes int64             // 0: DefaultMaxCaptureBytes
	APICallsLimit   int               // list_api_calls' limit per page; 0: DefaultAPICallsLimit
	MaxAPICallPages int               // list_api_calls pages at most; 0: DefaultMaxAPICallPages
	MaxAPICallBytes int64             // no further list_api_calls page is asked for once this many bytes are saved; 0: DefaultMaxAPICallBytes
	HTTPTransport   http.RoundTripper // for downloads; nil: http.DefaultTransport
	// TrustOrigins are origins (scheme://host:port) besides the Hub's that
	// captures may be downloaded from (see trusted).
	TrustOrigins []string

	Command     []string // the command line, recorded (secrets redacted again)
	ToolName    string   // "flowproof"
	ToolVersion string
	// Log receives progress lines (already redacted); nil discards them.
	Log func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ErrPartial means the pull wrote a complete evidence directory, but some
// Kubeshark evidence could not be collected (see the manifest's warnings).
var ErrPartial = errors.New("some Kubeshark evidence could not be collected")

type puller struct {
	req      Request
	red      *Redactor
	s        *Session
	m        *evidence.Manifest
	outputs  []provenance.File
	partial  bool
	kflUsed  bool // a capture tool took --kfl
	kflCalls bool // list_api_calls took it
	seq      int
	snapshot *evidence.SnapshotInfo
	// boundaryNodes are the nodes get_data_boundaries named, in its order.
	boundaryNodes []string
	window        Window   // the window in effect; zero for a reused snapshot without one
	created       []string // directories prepareDir created

	downloadTimeoutGiven bool // Request.DownloadTimeout was set, not defaulted
	warned               map[string]bool
}

// Pull connects to the MCP server, chooses the capture route from its
// tools/list, pulls the capture and the Kubeshark evidence into req.Dir, and
// writes the evidence manifest last. On failure no capture file is left that
// looks complete, no manifest is written, and the error says what to do.
// When only evidence (not the capture) is missing, it returns the manifest and
// an error wrapping ErrPartial.
func Pull(ctx context.Context, req Request) (*evidence.Manifest, error) {
	p := &puller{req: req, red: NewRedactor(append(secretsIn(req.Endpoint.Command), req.Endpoint.Token)...)}
	m, err := p.run(ctx)
	if p.s != nil {
		p.s.Close()
	}
	if err != nil && !errors.Is(err, ErrPartial) {
		p.cleanup()
	}
	return m, p.red.Error(err)
}

// cleanup removes what a failed pull wrote (answers saved along the way
// would look like complete evidence) and the directories it created, so
// that the pull can simply be run again.
func (p *puller) cleanup() {
	for _, o := range p.outputs {
		os.Remove(filepath.Join(p.req.Dir, filepath.FromSlash(o.Name)))
	}
	for i := len(p.created) - 1; i >= 0; i-- {
		os.Remove(p.created[i]) // only when empty
	}
}

func (p *puller) logf(format string, args ...any) {
	if p.req.Log != nil {
		p.req.Log("%s", p.red.String(fmt.Sprintf(format, args...)))
	}
}

func (p *puller) warn(format string, args ...any) {
	msg := p.red.String(fmt.Sprintf(format, args...))
	p.m.Warnings = append(p.m.Warnings, msg)
	p.logf("warning: %s", msg)
}

func (p *puller) now() time.Time {
	if p.req.Now != nil {
		return p.req.Now()
	}
	return time.Now()
}

func (p *puller) defaults() error {
	r := &p.req
	if r.Dir == "" {
		return newErr(KindUsage, "pull", errors.New("no evidence directory"), "give -o DIR")
	}
	switch r.Dialect {
	case "":
		r.Dialect = DialectAuto
	case DialectAuto, DialectSnapshot, DialectExportPcap:
	default:
		return newErr(KindUsage, "pull", fmt.Errorf("unknown --dialect %q", r.Dialect), "use auto, snapshot or export_pcap")
	}
	if err := r.Selection.Validate(); err != nil {
		return newErr(KindUsage, "pull", err, "")
	}
	if r.SnapshotTimeout <= 0 {
		r.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if r.PollInterval <= 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.MaxCaptureBytes <= 0 {
		r.MaxCaptureBytes = DefaultMaxCaptureBytes
	}
	p.downloadTimeoutGiven = r.DownloadTimeout > 0
	if r.DownloadTimeout <= 0 {
		r.DownloadTimeout = DefaultDownloadTimeout
	}
	if r.HeaderTimeout <= 0 {
		r.HeaderTimeout = DefaultHeaderTimeout
	}
	if r.IdleTimeout <= 0 {
		r.IdleTimeout = DefaultIdleTimeout
	}
	for _, o := range r.TrustOrigins {
		if originOf(o) == "" {
			return newErr(KindUsage, "pull", fmt.Errorf("--trust-origin %q is not an http(s) origin", provenance.RedactURL(o)), "give scheme://host[:port], e.g. https://hub.example.com")
		}
	}
	if r.HTTPTransport == nil {
		r.HTTPTransport = http.DefaultTransport
	}
	if r.ToolName == "" {
		r.ToolName = "flowproof"
	}
	if r.ToolVersion == "" {
		r.ToolVersion = "dev"
	}
	r.Session.ClientName, r.Session.ClientVersion = r.ToolName, r.ToolVersion
	r.Session.defaults()
	if r.HubURL != "" {
		r.HubURL = strings.TrimRight(r.HubURL, "/")
		if !strings.HasPrefix(r.HubURL, "http://") && !strings.HasPrefix(r.HubURL, "https://") {
			return newErr(KindUsage, "pull", fmt.Errorf("--hub-url %q is not an http(s) URL", provenance.RedactURL(r.HubURL)), "give the Kubeshark front URL, e.g. http://127.0.0.1:8899")
		}
	}
	return nil
}

func (p *puller) run(ctx context.Context) (*evidence.Manifest, error) {
	started := p.now()
	if err := p.defaults(); err != nil {
		return nil, err
	}
	r := &p.req
	p.m = &evidence.Manifest{
		ManifestVersion: 1,
		Kind:            evidence.Kind,
		Tool:            provenance.Tool{Name: r.ToolName, Version: r.ToolVersion},
		Command:         provenance.RedactArgs(r.Command),
		Started:         provenance.Time{Time: started},
		Settings:        p.settings(),
	}
	for i, a := range p.m.Command {
		p.m.Command[i] = p.red.String(a)
	}
	if err := p.prepareDir(); err != nil {
		return nil, err
	}
	// The seq of the audit entry this pull appends: the manifest names it.
	seq, err := provenance.NextAuditSeq(r.Dir)
	if err != nil {
		return nil, newErr(KindIO, "read "+provenance.AuditFileName, err, "run flowproof verify on the directory")
	}
	p.m.AuditSeq = seq
	p.window = r.Window
	var winInfo *evidence.WindowInfo
	switch {
	case !r.Window.IsZero():
		winInfo = windowInfo(r.Window, r.WindowText)
	case r.SnapshotID == "":
		p.window = Window{From: started.Add(-DefaultSince).Truncate(time.Millisecond), To: started.Truncate(time.Millisecond)}
		winInfo = windowInfo(p.window, "default (last "+compactDuration(DefaultSince)+")")
	}
	prov := &p.m.Kubeshark
	prov.Transport, prov.Endpoint = r.Endpoint.Transport(), p.red.String(r.Endpoint.Describe())
	prov.HubURL, prov.TokenUsed = provenance.RedactURL(r.HubURL), r.Endpoint.Token != ""
	prov.Window = winInfo
	prov.Selection = evidence.SelectionInfo{NS: r.Selection.NS, Pod: r.Selection.Pod, Svc: r.Selection.Svc, BPF: r.Selection.BPF, KFL: r.Selection.KFL, Nodes: r.Selection.Nodes}

	if r.Endpoint.URL != "" && r.Endpoint.Token != "" {
		if req, err := http.NewRequest(http.MethodPost, r.Endpoint.URL, nil); err == nil {
			p.warnExposure(req)
		}
	}
	p.logf("connecting to %s", prov.Endpoint)
	s, err := Dial(ctx, r.Endpoint, r.Session)
	if err != nil {
		return nil, err
	}
	p.s = s
	prov.Server = evidence.Server{Name: s.ServerName, Version: s.ServerVersion}
	prov.ProtocolVersion = s.ProtocolVersion
	if err := p.saveToolsList(); err != nil {
		return nil, err
	}
	dialect, reason, err := p.chooseDialect()
	if err != nil {
		return nil, err
	}
	prov.Dialect, prov.DialectReason = dialect, reason
	p.logf("%s %s over %s (protocol %s), %d tools; route: %s (%s)", s.ServerName, s.ServerVersion, transportText(prov.Transport), s.ProtocolVersion, len(s.Tools), dialect, reason)

	if err := p.boundaries(ctx); err != nil {
		return nil, err
	}
	// Live evidence first: list_l4_flows is not windowed (kubeshark-mcp.md
	// §2.2), so it is taken as close to the window as possible.
	p.evidence(ctx, "list_l4_flows", p.l4FlowsArgs())
	p.evidence(ctx, "get_l4_flow_summary", nil)

	var caps []nodeCapture
	switch dialect {
	case DialectSnapshot:
		caps, err = p.snapshotRoute(ctx)
	default:
		var c *captured
		var via string
		if c, via, err = p.exportRoute(ctx); err == nil {
			caps = []nodeCapture{{c: c, via: via}}
		}
	}
	if err != nil {
		return nil, p.explain(err)
	}
	p.evidence(ctx, "list_workloads", p.workloadsEvidenceArgs())
	p.apiCalls(ctx)
	if r.Selection.KFL != "" && !p.kflUsed {
		p.warn("--kfl did not filter the capture: no capture tool on the %s route takes a KFL filter (captures are filtered with BPF: use --bpf)%s", dialect,
			map[bool]string{true: "; it filtered only Kubeshark's API calls (list_api_calls)"}[p.kflCalls])
	}
	prov.Selection.KFLUsed = p.kflUsed

	var captureFiles []provenance.File
	for _, nc := range caps {
		c := nc.c
		rel, _ := filepath.Rel(r.Dir, c.path)
		rel = filepath.ToSlash(rel)
		ci := evidence.CaptureInfo{File: rel, Node: provenance.SafeText(nc.node), Size: c.size, SHA256: c.sha256, Format: c.format, Packets: c.packets, FirstNs: c.firstNs, LastNs: c.lastNs, Via: p.red.String(nc.via), Note: c.note}
		if c.incomplete != "" {
			ci.Incomplete = c.incomplete
			p.partial = true
			p.warn("%s is incomplete: %s; it is kept as %s, and analysis marks it partial", rel, c.incomplete, filepath.Base(c.path))
		}
		ci.Source = p.sourceLine(nc.node)
		prov.Captures = append(prov.Captures, ci)
		if c.note != "" {
			p.warn("%s: %s", rel, c.note)
		}
		f := provenance.File{Name: rel, Size: c.size, SHA256: c.sha256}
		captureFiles = append(captureFiles, f)
		p.outputs = slices.DeleteFunc(p.outputs, func(o provenance.File) bool { return o.Name == f.Name || o.Name+".partial" == f.Name })
		p.logf("capture %s: %s, %d packets, sha256 %s", rel, sizeText(c.size), c.packets, c.sha256)
	}
	p.outputs = append(captureFiles, p.outputs...)

	p.m.Outputs = p.outputs
	p.m.Finished = provenance.Time{Time: p.now()}
	b, err := evidence.Marshal(p.m)
	if err != nil {
		return nil, newErr(KindIO, "write manifest.json", err, "")
	}
	if _, err := p.writeRel(evidence.ManifestFile, b); err != nil {
		return nil, newErr(KindIO, "write manifest.json", err, "check the evidence directory")
	}
	if _, err := provenance.AppendStep(r.Dir, provenance.Step{
		Seq:        seq,
		Name:       "pull",
		Time:       p.m.Finished.Time,
		Tool:       p.m.Tool,
		Command:    p.m.Command,
		Parameters: p.m.Settings,
		Inputs:     []provenance.AuditFile{{Path: prov.Transport + ": " + prov.Endpoint}},
		Outputs:    p.m.Outputs,
		Manifest:   evidence.ManifestFile,
	}); err != nil {
		return nil, newErr(KindIO, "append "+provenance.AuditFileName, err, "check the evidence directory")
	}
	if p.partial {
		return p.m, ErrPartial
	}
	return p.m, nil
}

// explain adds what the selection tells about an empty capture.
func (p *puller) explain(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindEmptyCapture {
		return err
	}
	for _, ip := range p.m.Kubeshark.SelectedIPs {
		if ip.Kind == "service" {
			e.Fix += "; note that --svc selected the service's ClusterIP, and captures taken at the pods see the pods' IPs (after DNAT): select the pods behind it with --pod"
			break
		}
	}
	return err
}

func transportText(t string) string {
	if t == "in-process" {
		return "in-process pipes (stdio framing)"
	}
	return t
}

func windowInfo(w Window, source string) *evidence.WindowInfo {
	return &evidence.WindowInfo{From: provenance.FormatTime(w.From), To: provenance.FormatTime(w.To), FromMs: w.From.UnixMilli(), ToMs: w.To.UnixMilli(), Source: source}
}

func (p *puller) settings() map[string]string {
	r := p.req
	s := map[string]string{
		"dialect":          r.Dialect,
		"timeout":          r.Session.CallTimeout.String(),
		"snapshot_timeout": r.SnapshotTimeout.String(),
		"max_capture":      strconv.FormatInt(r.MaxCaptureBytes, 10),
		"max_response":     strconv.FormatInt(r.Session.MaxResponseBytes, 10),
	}
	if r.DownloadTimeout > 0 {
		s["download_timeout"] = r.DownloadTimeout.String()
	}
	if r.SnapshotID != "" {
		s["snapshot_id"] = r.SnapshotID
	}
	return s
}

// prepareDir creates DIR/captures and DIR/kubeshark. A directory that
// already holds a manifest.json is refused: evidence is never mixed.
func (p *puller) prepareDir() error {
	dir := p.req.Dir
	fix := "pull into a new directory (evidence is never overwritten or mixed with other files)"
	switch st, err := os.Lstat(dir); {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return newErr(KindIO, "create "+filepath.Dir(dir), err, "check the path and permissions")
		}
		if err := os.Mkdir(dir, p.dirMode()); err != nil {
			return newErr(KindIO, "create "+dir, err, "check the path and permissions")
		}
		p.created = append(p.created, dir)
	case err != nil:
		return newErr(KindIO, "pull into "+dir, err, "check the path and permissions")
	case st.Mode()&os.ModeSymlink != 0:
		return newErr(KindUsage, "pull into "+dir, errors.New("it is a symbolic link"), fix)
	case !st.IsDir():
		return newErr(KindUsage, "pull into "+dir, errors.New("it is not a directory"), fix)
	default:
		entries, err := os.ReadDir(dir)
		if err != nil {
			return newErr(KindIO, "pull into "+dir, err, "check the permissions")
		}
		if len(entries) > 0 {
			what := "it is not empty"
			if _, err := os.Lstat(filepath.Join(dir, evidence.ManifestFile)); err == nil {
				what = "it already holds a manifest.json"
			}
			return newErr(KindUsage, "pull into "+dir, errors.New(what), fix+", or remove it first")
		}
	}
	if p.req.GroupReadable {
		if err := os.Chmod(dir, p.dirMode()); err != nil {
			return newErr(KindIO, "pull into "+dir, err, "check the permissions")
		}
	}
	for _, d := range []string{evidence.CapturesDir, evidence.KubesharkDir} {
		path := filepath.Join(dir, d)
		if err := os.Mkdir(path, p.dirMode()); err != nil {
			return newErr(KindIO, "create "+path, err, "check the path and permissions")
		}
		p.created = append(p.created, path)
		if p.req.GroupReadable {
			if err := os.Chmod(path, p.dirMode()); err != nil {
				return newErr(KindIO, "create "+path, err, "check the permissions")
			}
		}
	}
	return nil
}

func (p *puller) saveToolsList() error {
	raws := p.s.ToolsRaw
	var data []byte
	if len(raws) == 1 {
		data = raws[0]
	} else {
		var err error
		msgs := make([]json.RawMessage, len(raws))
		for i, r := range raws {
			msgs[i] = r
		}
		if data, err = json.Marshal(msgs); err != nil {
			return newErr(KindIO, "save tools/list", err, "")
		}
	}
	f, err := p.writeRel(evidence.KubesharkDir+"/tools.json", data)
	if err != nil {
		return newErr(KindIO, "save tools/list", err, "check the evidence directory")
	}
	p.outputs = append(p.outputs, f)
	p.seq++
	p.m.Kubeshark.Calls = append(p.m.Kubeshark.Calls, evidence.Call{Seq: p.seq, Method: "tools/list", Started: provenance.FormatTime(p.now()), ResultBytes: len(data), ResultSHA256: f.SHA256, SavedAs: f.Name})
	return nil
}

// snapshotTools are what the snapshot route needs to create a snapshot.
var snapshotTools = []string{"create_snapshot", "get_snapshot", "export_snapshot_pcap"}

// localOnlyTools are the tools Kubeshark's CLI serves itself: a catalogue of
// only these means the CLI could not reach the Hub.
var localOnlyTools = map[string]bool{"check_kubeshark_status": true, "get_file_url": true, "download_file": true, "start_kubeshark": true, "stop_kubeshark": true}

func (p *puller) chooseDialect() (dialect, reason string, err error) {
	s, r := p.s, p.req
	snapshotOK := s.Has(snapshotTools...) || (r.SnapshotID != "" && s.Has("export_snapshot_pcap"))
	exportOK := s.Has("export_pcap")
	switch r.Dialect {
	case DialectSnapshot:
		if snapshotOK {
			return DialectSnapshot, "asked with --dialect snapshot", nil
		}
	case DialectExportPcap:
		if exportOK {
			if r.PerNode {
				return "", "", newErr(KindUsage, "pull", errors.New("--per-node needs the snapshot route"), "drop --dialect export_pcap or --per-node")
			}
			if r.SnapshotID != "" {
				return "", "", newErr(KindUsage, "pull", errors.New("--snapshot-id needs the snapshot route"), "drop --dialect export_pcap or --snapshot-id")
			}
			return DialectExportPcap, "asked with --dialect export_pcap", nil
		}
	default:
		switch {
		case snapshotOK && r.SnapshotID != "":
			return DialectSnapshot, "--snapshot-id given and the server offers export_snapshot_pcap", nil
		case snapshotOK:
			return DialectSnapshot, "the server offers create_snapshot, get_snapshot and export_snapshot_pcap", nil
		case exportOK && r.SnapshotID == "" && !r.PerNode:
			return DialectExportPcap, "the server offers export_pcap and not the snapshot tools", nil
		}
	}
	offered := s.ToolNames()
	want := "create_snapshot, get_snapshot and export_snapshot_pcap (the snapshot route), or export_pcap"
	switch {
	case r.SnapshotID != "":
		want = "export_snapshot_pcap (needed by --snapshot-id)"
	case r.PerNode:
		want = "create_snapshot, get_snapshot and export_snapshot_pcap (needed by --per-node)"
	case r.Dialect == DialectSnapshot:
		want = "create_snapshot, get_snapshot and export_snapshot_pcap (--dialect snapshot)"
	case r.Dialect == DialectExportPcap:
		want = "export_pcap (--dialect export_pcap)"
	}
	fix := "it offers: " + strings.Join(offered, ", ")
	onlyLocal := len(offered) > 0
	for _, n := range offered {
		if !localOnlyTools[n] {
			onlyLocal = false
		}
	}
	if onlyLocal {
		fix += ": these are only the CLI's own tools, so kubeshark mcp could not reach the Hub (it then lists its own tools silently): check the --url given to it, " + fixRunning + " For a gated Hub, " + fixToken
	} else if len(offered) == 0 {
		fix = "it offers no tools at all: is this the Kubeshark MCP server?"
	}
	return "", "", newErr(KindToolMissing, "choose the capture route", fmt.Errorf("the MCP server does not offer %s", want), fix)
}

// call runs a tool and records it; saveAs, when not empty, names the file
// under kubeshark/ that keeps the answer, and call returns its record.
func (p *puller) call(ctx context.Context, tool string, args map[string]any, timeout time.Duration, saveAs string) (*Result, provenance.File, error) {
	if args == nil {
		args = map[string]any{}
	}
	p.seq++
	rec := evidence.Call{Seq: p.seq, Method: "tools/call", Tool: tool, Arguments: args, Started: provenance.FormatTime(p.now())}
	res, err := p.s.Call(ctx, tool, args, timeout)
	if err != nil {
		rec.Error = p.red.String(err.Error())
		p.m.Kubeshark.Calls = append(p.m.Kubeshark.Calls, rec)
		return nil, provenance.File{}, err
	}
	rec.DurationMs = float64(res.Duration.Microseconds()) / 1000
	rec.ResultBytes = len(res.Raw)
	sum := sha256.Sum256(res.Raw)
	rec.ResultSHA256 = hex.EncodeToString(sum[:])
	rec.IsError = res.IsError
	if res.IsError {
		rec.Error = p.red.String(res.ErrorText())
	}
	var saved provenance.File
	if !res.IsError && saveAs != "" {
		saved, err = p.save(saveAs, res)
		if err != nil {
			p.m.Kubeshark.Calls = append(p.m.Kubeshark.Calls, rec)
			return nil, provenance.File{}, err
		}
		rec.SavedAs = saved.Name
	}
	p.m.Kubeshark.Calls = append(p.m.Kubeshark.Calls, rec)
	return res, saved, nil
}

// save keeps an answer byte-exact: the text item (the Hub's JSON, as the
// server sent it) as NAME.json, or NAME.txt when it is not JSON; an answer
// without text keeps its whole JSON-RPC result as NAME.result.json. A file
// saved earlier under the same name (get_snapshot's polls) is replaced.
func (p *puller) save(name string, res *Result) (provenance.File, error) {
	stem := strings.TrimSuffix(name, ".json")
	var rel string
	var data []byte
	switch {
	case res.Text != "" && jsonv.Parse([]byte(res.Text)) != nil:
		rel, data = evidence.KubesharkDir+"/"+stem+".json", []byte(res.Text)
	case res.Text != "":
		rel, data = evidence.KubesharkDir+"/"+stem+".txt", []byte(res.Text)
	default:
		rel, data = evidence.KubesharkDir+"/"+stem+".result.json", res.Raw
	}
	f, err := p.writeRel(rel, data)
	if err != nil {
		return provenance.File{}, newErr(KindIO, "save "+rel, err, "check the evidence directory")
	}

	for i := range p.outputs {
		if p.outputs[i].Name == f.Name {
			p.outputs[i] = f
			return f, nil
		}
	}
	p.outputs = append(p.outputs, f)
	return f, nil
}

// toolFailed turns an isError answer into an *Error, recognising Kubeshark's
// own messages.
func (p *puller) toolFailed(res *Result) error {
	text := res.ErrorText()
	low := strings.ToLower(text)
	op := "tools/call " + res.Tool
	err := fmt.Errorf("the tool failed (isError): %s", text)
	switch {
	case strings.Contains(low, "not running") || strings.Contains(low, "error calling hub api") || strings.Contains(low, "connection refused") || strings.Contains(low, "no such host"):
		return newErr(KindConnect, op, err, "kubeshark mcp cannot reach the Hub: "+fixRunning)
	case reAuth.MatchString(low):
		return newErr(KindAuth, op, err, fixToken)
	}
	return newErr(KindToolError, op, err, "see the message; the Hub's logs (kubectl logs deploy/kubeshark-hub) may say more")
}

// evidence calls a tool whose answer is kept for the cross-check. A tool the
// server does not offer is a warning; a failing one makes the pull partial.
func (p *puller) evidence(ctx context.Context, tool string, args map[string]any) {
	if !p.s.Has(tool) {
		why := map[string]string{
			"list_l4_flows":       "there is nothing to cross-check the capture's flows against",
			"get_l4_flow_summary": "the evidence lacks Kubeshark's own totals",
			"list_workloads":      "flows are named from the other answers only",
		}[tool]
		p.warn("the server does not offer %s: %s", tool, why)
		return
	}
	res, f, err := p.call(ctx, tool, args, 0, tool+".json")
	if err != nil {
		p.partial = true
		p.warn("%s failed: %v", tool, err)
		return
	}
	if res.IsError {
		p.partial = true
		p.warn("%s failed: %s", tool, res.ErrorText())
		return
	}
	p.m.Kubeshark.Evidence = append(p.m.Kubeshark.Evidence, evidence.Answer{Tool: tool, Arguments: res.Args, File: f.Name, Size: f.Size, SHA256: f.SHA256})
	if tr, ok := jsonv.Lookup(res.Data, "truncated"); ok && tr == true {
		total, _ := jsonv.LookupInt(res.Data, "total")
		p.warn("%s's answer is truncated (total %d): the cross-check covers only the records it holds", tool, total)
	}
	p.logf("saved %s (%s)", f.Name, sizeText(f.Size))
}

func (p *puller) l4FlowsArgs() map[string]any {
	t, ok := p.s.Tool("list_l4_flows")
	if !ok {
		return nil
	}
	a := newArgs(t)
	a.set("full", "format")
	if t.Has("limit") {
		a.m["limit"] = 10000
	}
	if ns := p.req.Selection.NS; ns != "" {
		a.set(ns, "ns", "namespace")
	}
	return a.m
}

func (p *puller) workloadsEvidenceArgs() map[string]any {
	t, ok := p.s.Tool("list_workloads")
	if !ok {
		return nil
	}
	m := map[string]any{}
	switch {
	case p.snapshot != nil && t.Has("snapshot_id"):
		m["snapshot_id"] = p.snapshot.ID
	case !p.window.IsZero() && t.Has("timestamp"):
		m["timestamp"] = p.window.To.UnixMilli()
	}
	return m
}

// boundaries asks get_data_boundaries (when offered) for the raw-capture
// range and refuses a window entirely outside it.
func (p *puller) boundaries(ctx context.Context) error {
	if !p.s.Has("get_data_boundaries") {
		return nil
	}
	res, _, err := p.call(ctx, "get_data_boundaries", nil, 0, "get_data_boundaries.json")
	if err != nil {
		p.warn("get_data_boundaries failed: %v", err)
		return nil
	}
	if res.IsError {
		p.warn("get_data_boundaries failed: %s", res.ErrorText())
		return nil
	}
	if nodes, ok := jsonv.Lookup(res.Data, "nodes"); ok {
		seen := map[string]bool{}
		for _, n := range objects(nodes) {
			if name := str(n["name"]); name != "" && !seen[name] {
				seen[name] = true
				p.boundaryNodes = append(p.boundaryNodes, name)
			}
		}
	}
	cluster, ok := jsonv.Lookup(res.Data, "cluster")
	if !ok {
		cluster = res.Data
	}
	oldest, ok1 := jsonv.LookupInt(cluster, "oldest_ts", "oldest", "oldestTs")
	newest, ok2 := jsonv.LookupInt(cluster, "newest_ts", "newest", "newestTs")
	if !ok1 || !ok2 || newest <= 0 {
		return nil
	}
	p.m.Kubeshark.DataBoundaries = &evidence.Boundaries{OldestMs: oldest, NewestMs: newest}
	if p.window.IsZero() {
		return nil
	}
	from, to := p.window.From.UnixMilli(), p.window.To.UnixMilli()
	rangeText := fmt.Sprintf("%s .. %s", provenance.FormatTime(time.UnixMilli(oldest)), provenance.FormatTime(time.UnixMilli(newest)))
	if to < oldest || from > newest {
		return newErr(KindEmptyCapture, "check the window", fmt.Errorf("the window %s is outside the raw capture Kubeshark holds (%s)", p.window, rangeText),
			"check the window and retention: choose --from/--to inside that range (older traffic is gone: tap.capture.raw.storageSize bounds the retention)")
	}
	if from < oldest {
		p.warn("the window %s starts before the oldest raw capture Kubeshark still holds (%s): older traffic is gone (tap.capture.raw.storageSize bounds the retention)", p.window, rangeText)
	}
	if lag := to - newest; lag > staleCapture.Milliseconds() {
		p.warn("Kubeshark's newest raw capture is %v older than the window's end (%s): raw capture may have stopped writing (kubeshark#1874); the capture covers only what it holds", time.Duration(lag)*time.Millisecond, rangeText)
	}
	return nil
}

// sourceLine is the capture's one-line provenance for analyze.
func (p *puller) sourceLine(node string) string {
	prov := p.m.Kubeshark
	var b strings.Builder
	b.WriteString("kubeshark ")
	if p.snapshot != nil {
		b.WriteString("snapshot " + p.snapshot.ID)
		if node != "" {
			b.WriteString(" node " + p.red.String(provenance.SafeText(node)))
		}
	} else {
		b.WriteString("export_pcap")
	}
	fmt.Fprintf(&b, " via %s %s (%s)", prov.Server.Name, prov.Server.Version, prov.Transport)
	if prov.Window != nil {
		fmt.Fprintf(&b, "; window %s .. %s", prov.Window.From, prov.Window.To)
	}
	if prov.BPFFilter != "" {
		fmt.Fprintf(&b, "; bpf %q", prov.BPFFilter)
	}
	return b.String()
}

// compactDuration formats d as Kubeshark's durations are written ("1h",
// "30m", "1h30m", "45s").
func compactDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		d -= m * time.Minute
	}
	if s := d / time.Second; s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}
