// Package evidence reads and describes an evidence directory, what pull
// writes: the captures (captures/), Kubeshark's answers byte-exact
// (kubeshark/), and manifest.json, whose "kubeshark" section records where
// each came from (server, tool calls and arguments, times, sizes, SHA-256).
// It has no MCP dependency, so that analysis can open evidence without
// linking the client that pulled it.
package evidence

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
	"github.com/flowproof/flowproof/provenance"
)

// Kind marks a manifest.json written by Pull.
const Kind = "flowproof-evidence"

// Layout of an evidence directory.
const (
	ManifestFile = "manifest.json"
	CapturesDir  = "captures"  // the pulled captures
	KubesharkDir = "kubeshark" // tool answers, byte-exact
)

// Manifest is an evidence directory's manifest.json. Its common fields
// (manifest_version, tool, command, started, finished, settings, warnings,
// outputs) have the same JSON layout as the analysis manifest, so a reader of
// one can read the other; "kind" tells them apart and "kubeshark" holds the
// provenance.
type Manifest struct {
	ManifestVersion int               `json:"manifest_version"`
	Kind            string            `json:"kind"`
	Tool            provenance.Tool   `json:"tool"`
	Command         []string          `json:"command"`
	Started         provenance.Time   `json:"started"`
	Finished        provenance.Time   `json:"finished"`
	Settings        map[string]string `json:"settings"`
	Warnings        []string          `json:"warnings"`
	// Outputs lists every file of the directory except manifest.json (and
	// the audit trail), by path relative to it (forward slashes), with its
	// size and SHA-256.
	Outputs []provenance.File `json:"outputs"`
	// AuditSeq is the seq of the audit.jsonl entry that records this
	// manifest (Request.AuditSeq), as in the analysis manifest; 0 when none.
	AuditSeq  int64      `json:"audit_seq,omitempty"`
	Kubeshark Provenance `json:"kubeshark"`
}

// Provenance says where the evidence came from and how.
type Provenance struct {
	Transport       string `json:"transport"` // stdio, http or in-process
	Endpoint        string `json:"endpoint"`  // the command or URL, secrets removed
	Server          Server `json:"server"`
	ProtocolVersion string `json:"protocol_version"`
	HubURL          string `json:"hub_url,omitempty"`
	TokenUsed       bool   `json:"token_used"` // whether a Hub token was given (never the token)
	// Dialect is the capture route chosen from tools/list: "snapshot"
	// (create_snapshot, get_snapshot, export_snapshot_pcap) or "export_pcap".
	Dialect       string `json:"dialect"`
	DialectReason string `json:"dialect_reason"`

	Window         *WindowInfo   `json:"window,omitempty"`
	DataBoundaries *Boundaries   `json:"data_boundaries,omitempty"`
	Selection      SelectionInfo `json:"selection"`
	BPFFilter      string        `json:"bpf_filter,omitempty"` // the filter sent with the export
	SelectedIPs    []SelectedIP  `json:"selected_ips,omitempty"`
	Snapshot       *SnapshotInfo `json:"snapshot,omitempty"`
	Captures       []CaptureInfo `json:"captures"`
	Evidence       []Answer      `json:"evidence"`
	// APICalls says how list_api_calls was paged and whether the pages
	// hold every call of the window (nil when it was not called).
	APICalls *APICallsInfo `json:"api_calls,omitempty"`
	Calls    []Call        `json:"calls"`
}

// Server is the MCP server's serverInfo.
type Server struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// WindowInfo is the requested time window.
type WindowInfo struct {
	From   string `json:"from"`
	To     string `json:"to"`
	FromMs int64  `json:"from_ms"`
	ToMs   int64  `json:"to_ms"`
	Source string `json:"source"` // "--since 30m", "--from/--to", "default (last 15m)", "snapshot"
}

// Boundaries is get_data_boundaries' cluster range (Unix ms).
type Boundaries struct {
	OldestMs int64 `json:"oldest_ms"`
	NewestMs int64 `json:"newest_ms"`
}

// SelectionInfo records the selection flags.
type SelectionInfo struct {
	NS      string   `json:"ns,omitempty"`
	Pod     string   `json:"pod,omitempty"`
	Svc     string   `json:"svc,omitempty"`
	BPF     string   `json:"bpf,omitempty"`
	KFL     string   `json:"kfl,omitempty"`
	KFLUsed bool     `json:"kfl_used"` // whether a tool took the KFL filter
	Nodes   []string `json:"nodes,omitempty"`
}

// SnapshotInfo describes the snapshot the capture came from.
type SnapshotInfo struct {
	ID          string `json:"id"`
	Reused      bool   `json:"reused"` // given with --snapshot-id
	Status      string `json:"status"`
	Polls       int    `json:"polls"`
	WaitedMs    int64  `json:"waited_ms"`
	SizeBytes   int64  `json:"size_bytes,omitempty"`
	PacketCount int64  `json:"packet_count,omitempty"`
}

// CaptureInfo describes one pulled capture.
type CaptureInfo struct {
	File string `json:"file"` // relative path, e.g. captures/snapshot-ab12.pcap
	// Node is the node whose records the capture holds (pull --per-node:
	// captures/NODE-snapshot-ID.pcap); "" for a merged capture.
	Node    string `json:"node,omitempty"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Format  string `json:"format"`
	Packets int64  `json:"packets"`
	FirstNs int64  `json:"first_ns,omitempty"`
	LastNs  int64  `json:"last_ns,omitempty"`
	// Source is the one-line provenance analyze records for the capture.
	Source string `json:"source"`
	// Via says how the bytes were fetched: "http GET <url>", "download_file",
	// "base64 in export_pcap's answer", "embedded resource", ...
	Via  string `json:"via"`
	Note string `json:"note,omitempty"`
	// Incomplete says why the capture is known to lack packets (it
	// disagrees with a size the server stated); its file then ends in
	// .partial, and analysis marks it partial.
	Incomplete string `json:"incomplete,omitempty"`
}

// Answer is a Kubeshark answer kept for the cross-check.
// APICallsInfo is how list_api_calls was paged (see the package kubeshark
// doc): pages asked, calls they held, and Incomplete saying why they may
// not hold every call of the window ("" when they do).
type APICallsInfo struct {
	Pages      int    `json:"pages"`
	Calls      int64  `json:"calls"` // in all pages, duplicates included
	Bytes      int64  `json:"bytes"`
	Incomplete string `json:"incomplete,omitempty"`
}

type Answer struct {
	Tool      string         `json:"tool"`
	Arguments map[string]any `json:"arguments"`
	File      string         `json:"file"`
	Size      int64          `json:"size"`
	SHA256    string         `json:"sha256"`
}

// Call is one MCP request made during the pull.
type Call struct {
	Seq          int            `json:"seq"`
	Method       string         `json:"method"` // tools/list or tools/call
	Tool         string         `json:"tool,omitempty"`
	Arguments    map[string]any `json:"arguments,omitempty"`
	Started      string         `json:"started"`
	DurationMs   float64        `json:"duration_ms"`
	IsError      bool           `json:"is_error,omitempty"`
	Error        string         `json:"error,omitempty"`
	ResultBytes  int            `json:"result_bytes"`
	ResultSHA256 string         `json:"result_sha256,omitempty"` // of the JSON-RPC result, byte-exact
	SavedAs      string         `json:"saved_as,omitempty"`
}

// Dir is an evidence directory opened for analysis.
type Dir struct {
	Dir      string
	Manifest Manifest
}

// ErrNotEvidence means a directory has no evidence manifest.
var ErrNotEvidence = errors.New("not a flowproof evidence directory")

// Open reads dir/manifest.json. It returns an error wrapping
// ErrNotEvidence when there is none, or when it is not an evidence manifest
// (an analysis output directory, for example).
func Open(dir string) (*Dir, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s: %w (not a directory)", dir, ErrNotEvidence)
	}
	b, err := jsonv.ReadFile(filepath.Join(dir, ManifestFile), maxEvidenceManifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (no %s)", dir, ErrNotEvidence, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Kind != Kind {
		return nil, fmt.Errorf("%s: %w (its manifest.json is not of kind %q)", dir, ErrNotEvidence, Kind)
	}
	// The manifest names files to read: none may lead out of the directory.
	for _, c := range m.Kubeshark.Captures {
		if !filepath.IsLocal(filepath.FromSlash(c.File)) {
			return nil, fmt.Errorf("%s: capture %q is not a path inside the evidence directory: refusing to read it (the manifest was edited or is hostile)", filepath.Join(dir, ManifestFile), c.File)
		}
	}
	for _, f := range m.Kubeshark.Evidence {
		if !filepath.IsLocal(filepath.FromSlash(f.File)) {
			return nil, fmt.Errorf("%s: evidence file %q is not a path inside the evidence directory: refusing to read it (the manifest was edited or is hostile)", filepath.Join(dir, ManifestFile), f.File)
		}
	}
	return &Dir{Dir: dir, Manifest: m}, nil
}

// maxEvidenceManifest caps the manifest.json read from an evidence
// directory; a real one is a few KiB.
const maxEvidenceManifest = 16 << 20

// Captures returns the captures' paths (under Dir) and their provenance.
func (e *Dir) Captures() []Capture {
	var out []Capture
	for _, c := range e.Manifest.Kubeshark.Captures {
		out = append(out, Capture{Path: filepath.Join(e.Dir, filepath.FromSlash(c.File)), Node: c.Node, Source: c.Source, SHA256: c.SHA256, Size: c.Size, Incomplete: c.Incomplete})
	}
	return out
}

// Capture is one capture of an evidence directory.
type Capture struct {
	Path       string
	Node       string // the node whose records it holds (a per-node pull); "" when merged
	Source     string
	SHA256     string // as pulled; analysis compares it with what it reads
	Size       int64
	Incomplete string // why it is known to lack packets; "" when it is not
}

// File returns the path of the answer saved for tool (for example
// "list_l4_flows"), or "" when there is none.
// Files returns the paths of every saved answer of tool, in the order they
// were taken (the pages of a paged tool).
func (e *Dir) Files(tool string) []string {
	var out []string
	for _, f := range e.Manifest.Kubeshark.Evidence {
		if f.Tool == tool {
			out = append(out, filepath.Join(e.Dir, filepath.FromSlash(f.File)))
		}
	}
	return out
}

func (e *Dir) File(tool string) string {
	for _, f := range e.Manifest.Kubeshark.Evidence {
		if f.Tool == tool {
			return filepath.Join(e.Dir, filepath.FromSlash(f.File))
		}
	}
	return ""
}

// Marshal returns the indented JSON of m, with [] and {} for empty
// lists and maps so that the layout never varies.
func Marshal(m *Manifest) ([]byte, error) {
	c := *m
	c.Command = provenance.NonNil(c.Command)
	c.Warnings = provenance.NonNil(c.Warnings)
	c.Outputs = provenance.NonNil(c.Outputs)
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	c.Kubeshark.Captures = provenance.NonNil(c.Kubeshark.Captures)
	c.Kubeshark.Evidence = provenance.NonNil(c.Kubeshark.Evidence)
	c.Kubeshark.Calls = provenance.NonNil(c.Kubeshark.Calls)
	return provenance.MarshalIndent(&c)
}

// SelectedIP is one address a workload selection resolved to.
type SelectedIP struct {
	IP        string `json:"ip"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Kind      string `json:"kind,omitempty"`
	// Timestamp is when Kubeshark saw the workload with this IP (Unix ms),
	// when it said.
	Timestamp int64  `json:"timestamp,omitempty"`
	Via       string `json:"via"` // the tool that named it
}
