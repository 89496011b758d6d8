package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
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
	Tool            Tool              `json:"tool"`
	Command         []string          `json:"command"` // pass it through RedactArgs
	Started         Time              `json:"started"`
	Finished        Time              `json:"finished"`
	Settings        map[string]string `json:"settings"`
	Inputs          []Input           `json:"inputs"`
	Decode          map[string]int64  `json:"decode"` // packets per kind: "tcp", "arp", "unsupported-linktype:NNN", ...
	Warnings        []string          `json:"warnings"`
	Outputs         []Output          `json:"outputs"`
	Flows           int64             `json:"flows"` // rows in flows.parquet
	// AuditSeq is the seq of the audit.jsonl entry that records this
	// manifest's SHA-256 (a file cannot hold its own hash); 0 when none.
	AuditSeq int64 `json:"audit_seq,omitempty"`
}

// Tool names the program that wrote the manifest.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Input is one capture that was read.
type Input struct {
	Path      string          `json:"path"`             // as given on the command line
	Name      string          `json:"name"`             // base name: the flows' capture column
	Source    string          `json:"source,omitempty"` // provenance, e.g. "file" or a Kubeshark snapshot
	Size      int64           `json:"size"`
	SHA256    string          `json:"sha256"`
	Format    string          `json:"format"` // e.g. "pcap", "pcapng", "pcapng.gz"
	Packets   int64           `json:"packets"`
	LinkTypes []LinkTypeCount `json:"link_types"`
	FirstNs   int64           `json:"first_ns,omitempty"` // first packet, epoch ns
	LastNs    int64           `json:"last_ns,omitempty"`  // last packet, epoch ns
	First     string          `json:"first,omitempty"`    // FirstNs in RFC 3339 (UTC, ns)
	Last      string          `json:"last,omitempty"`     // LastNs in RFC 3339 (UTC, ns)
	Status    string          `json:"status"`             // StatusOK, StatusPartial or StatusFailed
	Error     string          `json:"error,omitempty"`
}

// SetTimeRange records the first and last packet times, in epoch ns and in
// RFC 3339.
func (in *Input) SetTimeRange(firstNs, lastNs int64) {
	in.FirstNs, in.LastNs = firstNs, lastNs
	in.First = FormatTime(time.Unix(0, firstNs))
	in.Last = FormatTime(time.Unix(0, lastNs))
}

// LinkTypeCount counts the packets of one link type (pcap LINKTYPE_ value).
type LinkTypeCount struct {
	LinkType uint32 `json:"link_type"`
	Name     string `json:"name,omitempty"`
	Packets  int64  `json:"packets"`
}

// Output is one file written, as HashFile describes it.
type Output struct {
	Name   string `json:"name"` // path relative to the output directory
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// timeLayout is RFC 3339 with exactly nine fractional digits, so that the
// strings sort and compare as the instants do.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime formats t in UTC as RFC 3339 with nanoseconds.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// Time is a time.Time that is written to JSON with FormatTime.
type Time struct{ time.Time }

// MarshalJSON writes t with FormatTime.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + FormatTime(t.Time) + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// HashFile returns the base name, size and SHA-256 (lower-case hex) of the
// file at path.
func HashFile(path string) (Output, error) {
	f, err := os.Open(path)
	if err != nil {
		return Output{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Output{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return Output{Name: filepath.Base(path), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// MarshalManifest returns the indented JSON of m, ending in a newline.
// Nil slices and maps are written as [] and {} so the layout never varies.
func MarshalManifest(m *Manifest) ([]byte, error) {
	c := *m
	if c.ManifestVersion == 0 {
		c.ManifestVersion = ManifestVersion
	}
	c.Command = nonNil(c.Command)
	c.Warnings = nonNil(c.Warnings)
	c.Outputs = nonNil(c.Outputs)
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	if c.Decode == nil {
		c.Decode = map[string]int64{}
	}
	c.Inputs = make([]Input, len(m.Inputs))
	for i, in := range m.Inputs {
		in.LinkTypes = nonNil(in.LinkTypes)
		c.Inputs[i] = in
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WriteManifest writes m to path as indented JSON, atomically: it writes a
// temporary file in the same directory, syncs it, and renames it over path.
func WriteManifest(path string, m *Manifest) error {
	b, err := MarshalManifest(m)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o644)
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

func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename durable; not every platform can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// secretFlags are the flag names whose values RedactArgs hides.
var secretFlags = []string{"token", "license", "password", "secret"}

// Redacted replaces a secret flag value in RedactArgs's result.
const Redacted = "REDACTED"

// RedactArgs returns a copy of a command line with the values of secret flags
// replaced by Redacted. A flag is secret when its name is token, license,
// password or secret, or ends in "-" or "_" and one of them (--hub-token,
// --db_password). Both "-name value" and "-name=value" forms, with one or two
// dashes, are handled. Arguments after "--" are positional and kept.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, _, hasValue := strings.Cut(name, "=")
		if !isSecretFlag(name) {
			continue
		}
		if hasValue {
			out[i] = a[:strings.IndexByte(a, '=')+1] + Redacted
		} else if i+1 < len(out) {
			i++
			out[i] = Redacted
		}
	}
	return out
}

func isSecretFlag(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretFlags {
		if name == s || strings.HasSuffix(name, "-"+s) || strings.HasSuffix(name, "_"+s) {
			return true
		}
	}
	return false
}
