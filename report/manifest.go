package report

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/flowproof/flowproof/provenance"
)

// ManifestVersion is the version of the manifest.json layout.
const ManifestVersion = 1

// Input statuses.
const (
	StatusOK      = "ok"      // read to the end
	StatusPartial = "partial" // read up to an error; what came before was used
	StatusFailed  = "failed"  // nothing from it was used
)

// Manifest is manifest.json: what was analysed, how, and what came out.
// Field order is the JSON order; map keys are written sorted.
type Manifest struct {
	ManifestVersion int               `json:"manifest_version"` // 0 is written as ManifestVersion
	Tool            provenance.Tool   `json:"tool"`
	Command         []string          `json:"command"` // pass it through provenance.RedactArgs
	Started         provenance.Time   `json:"started"`
	Finished        provenance.Time   `json:"finished"`
	Settings        map[string]string `json:"settings"`
	Inputs          []Input           `json:"inputs"`
	Decode          map[string]int64  `json:"decode"` // packets per kind: "tcp", "arp", "unsupported-linktype:NNN", ...
	// L7 counts what the application layer did and where it was bounded:
	// "flows.http", "http.requests", "stream.gap_bytes", "http.header_too_long", ...
	// (absent with --no-l7).
	L7       map[string]int64 `json:"l7,omitempty"`
	Warnings []string         `json:"warnings"`
	// Attacks lists the SYN floods and scans of the report's findings
	// (absent when there are none).
	Attacks *Attacks          `json:"attacks,omitempty"`
	Outputs []provenance.File `json:"outputs"`
	Flows   int64             `json:"flows"` // rows in flows.parquet
	// AuditSeq is the seq of the audit.jsonl entry that records this
	// manifest's SHA-256 (a file cannot hold its own hash); 0 when none.
	AuditSeq int64 `json:"audit_seq,omitempty"`
}

// Input is one capture that was read.
type Input struct {
	Path      string          `json:"path"`             // as given on the command line
	Name      string          `json:"name"`             // base name: the flows' capture column
	Source    string          `json:"source,omitempty"` // provenance, e.g. "file" or a Kubeshark snapshot
	Size      int64           `json:"size"`
	SHA256    string          `json:"sha256"`
	ETag      string          `json:"etag,omitempty"` // s3:// inputs: the object's ETag, of the version read
	Format    string          `json:"format"`         // e.g. "pcap", "pcapng", "pcapng.gz"
	Packets   int64           `json:"packets"`
	LinkTypes []LinkTypeCount `json:"link_types"`
	FirstNs   int64           `json:"first_ns,omitempty"` // first packet, epoch ns
	LastNs    int64           `json:"last_ns,omitempty"`  // last packet, epoch ns
	First     string          `json:"first,omitempty"`    // FirstNs in RFC 3339 (UTC, ns)
	Last      string          `json:"last,omitempty"`     // LastNs in RFC 3339 (UTC, ns)
	Status    string          `json:"status"`             // StatusOK, StatusPartial or StatusFailed
	Error     string          `json:"error,omitempty"`
	// Vantage counts the copies of packets folded because the capture
	// recorded them at two vantage points (absent when none was).
	Vantage *VantageCounts `json:"vantage,omitempty"`
}

// VantageCounts is what folding vantage copies did in one input (package
// analyze: "Vantage copies").
type VantageCounts struct {
	DuplicatesFolded int64 `json:"duplicates_folded"` // records folded into another record of the same packet
	GSOSplit         int64 `json:"gso_split"`         // super-packets matched with the other side's wire-sized segments
	Ambiguous        int64 `json:"ambiguous"`         // repeats with the same TTL where records were compared one by one (the first window, or all of a capture with copies): kept, each counted (a retransmission or a copy no router separates)
	Capped           int64 `json:"capped"`            // records the folding state could not keep: a copy of them may be counted twice
	GSOMismatch      int64 `json:"gso_mismatch"`      // super-packets the other side's segments covered only in part
}

// SetTimeRange records the first and last packet times, in epoch ns and in
// RFC 3339.
func (in *Input) SetTimeRange(firstNs, lastNs int64) {
	in.FirstNs, in.LastNs = firstNs, lastNs
	in.First = provenance.FormatTime(time.Unix(0, firstNs))
	in.Last = provenance.FormatTime(time.Unix(0, lastNs))
}

// LinkTypeCount counts the packets of one link type (pcap LINKTYPE_ value).
type LinkTypeCount struct {
	LinkType uint32 `json:"link_type"`
	Name     string `json:"name,omitempty"`
	Packets  int64  `json:"packets"`
}

// MarshalManifest returns the indented JSON of m, ending in a newline.
// Nil slices and maps are written as [] and {} so the layout never varies.
func MarshalManifest(m *Manifest) ([]byte, error) {
	c := *m
	if c.ManifestVersion == 0 {
		c.ManifestVersion = ManifestVersion
	}
	c.Command = provenance.NonNil(c.Command)
	c.Warnings = provenance.NonNil(c.Warnings)
	c.Outputs = provenance.NonNil(c.Outputs)
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	if c.Decode == nil {
		c.Decode = map[string]int64{}
	}
	c.Inputs = make([]Input, len(m.Inputs))
	for i, in := range m.Inputs {
		in.LinkTypes = provenance.NonNil(in.LinkTypes)
		c.Inputs[i] = in
	}
	b, err := provenance.MarshalIndent(&c)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return b, nil
}

// WriteManifest writes m to path as indented JSON, atomically: it writes a
// temporary file in the same directory, syncs it, and renames it over path.
func WriteManifest(path string, m *Manifest) error {
	b, err := MarshalManifest(m)
	if err != nil {
		return err
	}
	_, err = provenance.WriteFile(path, b, 0o644)
	return err
}

// ReadManifest reads a manifest written by WriteManifest.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}
