package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowproof/flowproof/provenance"
)

// ManifestFile is the manifest's name in an output directory.
const ManifestFile = "manifest.json"

// VerifyResult is what Verify found.
type VerifyResult struct {
	Files    int      // files whose SHA-256 was recomputed
	Entries  int      // audit entries read
	Head     string   // SHA-256 of the last audit line: quote it to pin the trail
	Problems []string // one line each, naming the file or audit line; empty when all holds
}

// OK reports whether nothing changed.
func (r *VerifyResult) OK() bool { return len(r.Problems) == 0 }

// ErrNotOutput is returned by Verify for a directory with neither
// manifest.json nor audit.jsonl.
var ErrNotOutput = errors.New("not a flowproof output directory: it has neither manifest.json nor audit.jsonl")

// Verify re-checks an output (or evidence) directory against its manifest
// and audit trail:
//
//   - every output manifest.json lists: present, same size and SHA-256;
//   - audit.jsonl: every line a complete entry whose sha256 matches its
//     content, seq numbers 1, 2, 3 ... without gap, and each prev_sha256 the
//     SHA-256 of the line before (provenance.GenesisSHA256 for the first);
//   - manifest.json itself: the entry it names (audit_seq) exists, is the
//     last entry that wrote a manifest.json, and recorded this manifest's
//     SHA-256 (a manifest cannot hold its own hash);
//   - the inputs of that entry that lie inside dir (captures the demo wrote,
//     an evidence directory): same size and SHA-256.
//
// Problems are reported, not returned as errors; an error means dir could
// not be examined at all.
func Verify(dir string) (*VerifyResult, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	res := &VerifyResult{}
	mb, merr := os.ReadFile(filepath.Join(dir, ManifestFile))
	ab, aerr := os.ReadFile(filepath.Join(dir, provenance.AuditFileName))
	if errors.Is(merr, fs.ErrNotExist) && errors.Is(aerr, fs.ErrNotExist) {
		return nil, ErrNotOutput
	}
	problem := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }

	var m *Manifest
	switch {
	case errors.Is(merr, fs.ErrNotExist):
		problem("%s: missing", ManifestFile)
	case merr != nil:
		return nil, merr
	default:
		res.Files++
		m = new(Manifest)
		if err := json.Unmarshal(mb, m); err != nil {
			problem("%s: altered (not a valid manifest: %v)", ManifestFile, err)
			m = nil
		}
	}
	if m != nil {
		for _, o := range m.Outputs {
			res.Files++
			checkFile(dir, o.Name, o.Size, o.SHA256, "edited after analysis", problem)
		}
	}

	entries, lines := verifyChain(ab, aerr, res, problem)
	if aerr != nil && !errors.Is(aerr, fs.ErrNotExist) {
		return nil, aerr
	}
	if m == nil || aerr != nil {
		return res, nil
	}

	// The entry that recorded this manifest.
	lastWriter := -1 // index into entries of the last entry that wrote manifest.json
	for i, e := range entries {
		if e != nil && recordOf(e.Outputs, ManifestFile) != nil {
			lastWriter = i
		}
	}
	var rec *provenance.AuditEntry
	recLine := 0
	if m.AuditSeq > 0 {
		for i, e := range entries {
			if e != nil && e.Seq == m.AuditSeq {
				rec, recLine = e, lines[i]
			}
		}
		if rec == nil {
			problem("%s: entry %d removed (it recorded manifest.json)", provenance.AuditFileName, m.AuditSeq)
		}
	} else if lastWriter >= 0 {
		rec, recLine = entries[lastWriter], lines[lastWriter]
	} else {
		problem("%s: no entry records manifest.json", provenance.AuditFileName)
	}
	if rec == nil {
		return res, nil
	}
	if lastWriter >= 0 && entries[lastWriter] != rec {
		problem("%s: replaced by an older one (audit.jsonl line %d recorded a later manifest.json)", ManifestFile, lines[lastWriter])
	} else if r := recordOf(rec.Outputs, ManifestFile); r == nil {
		problem("%s line %d: altered (the entry of manifest.json does not record it)", provenance.AuditFileName, recLine)
	} else if r.SHA256 != provenance.SHA256Hex(mb) || r.Size != int64(len(mb)) {
		problem("%s: sha256 mismatch (edited after analysis)", ManifestFile)
	}
	// Outputs of that entry the manifest does not list (a pull step's
	// captures, whose manifest has its own layout).
	listed := map[string]bool{ManifestFile: true}
	for _, o := range m.Outputs {
		listed[o.Name] = true
	}
	for _, o := range rec.Outputs {
		if !o.InDir || listed[o.Path] {
			continue
		}
		res.Files++
		checkFile(dir, o.Path, o.Size, o.SHA256, "edited after the "+cmpOr(rec.Step, "step"), problem)
	}
	for _, in := range rec.Inputs {
		if !in.InDir {
			continue
		}
		res.Files++
		checkFile(dir, in.Path, in.Size, in.SHA256, "input changed since analysis", problem)
	}
	return res, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func recordOf(files []provenance.AuditFile, name string) *provenance.AuditFile {
	for i := range files {
		if files[i].InDir && files[i].Path == name {
			return &files[i]
		}
	}
	return nil
}

// checkFile re-hashes dir/name (a slash-separated relative path).
func checkFile(dir, name string, size int64, sum, why string, problem func(string, ...any)) {
	clean := path.Clean(name)
	if name == "" || path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") || filepath.IsAbs(filepath.FromSlash(name)) {
		problem("%s: names a file outside the directory (%s)", ManifestFile, name)
		return
	}
	got, err := provenance.HashFile(filepath.Join(dir, filepath.FromSlash(clean)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		problem("%s: missing", name)
	case err != nil:
		problem("%s: unreadable (%v)", name, err)
	case got.SHA256 != sum:
		problem("%s: sha256 mismatch (%s)", name, why)
	case got.Size != size:
		problem("%s: size mismatch (%s)", name, why)
	}
}

// verifyChain walks the audit trail. It returns the entries (nil where a
// line is not an entry) and their line numbers.
func verifyChain(b []byte, readErr error, res *VerifyResult, problem func(string, ...any)) ([]*provenance.AuditEntry, []int) {
	if errors.Is(readErr, fs.ErrNotExist) {
		problem("%s: missing", provenance.AuditFileName)
		return nil, nil
	}
	if readErr != nil {
		return nil, nil
	}
	res.Files++
	if len(b) == 0 {
		problem("%s: empty (every entry removed)", provenance.AuditFileName)
		return nil, nil
	}
	body := b
	if body[len(body)-1] == '\n' {
		body = body[:len(body)-1]
	} else {
		problem("%s: the last line is incomplete (cut short, or edited)", provenance.AuditFileName)
	}
	raw := bytes.Split(body, []byte("\n"))
	res.Entries = len(raw)
	res.Head = provenance.SHA256Hex(raw[len(raw)-1])

	// Reasons per altered line, reported once each.
	altered := map[int][]string{}
	alter := func(line int, why string) { altered[line] = append(altered[line], why) }

	entries := make([]*provenance.AuditEntry, len(raw))
	lines := make([]int, len(raw))
	prev := provenance.GenesisSHA256
	want := int64(1)
	for i, line := range raw {
		n := i + 1
		lines[i] = n
		var e provenance.AuditEntry
		if len(line) == 0 {
			alter(n, "empty line")
		} else if err := json.Unmarshal(line, &e); err != nil || e.Seq <= 0 {
			alter(n, "not an audit entry")
		} else {
			entries[i] = &e
			if _, ok := provenance.LineHashOK(line); !ok {
				alter(n, "its sha256 does not match its content")
			}
			gap := false
			switch {
			case e.Seq > want:
				gap = true
				if e.Seq == want+1 {
					problem("%s: entry %d removed (before line %d)", provenance.AuditFileName, want, n)
				} else {
					problem("%s: entries %d to %d removed (before line %d)", provenance.AuditFileName, want, e.Seq-1, n)
				}
			case e.Seq < want:
				alter(n, fmt.Sprintf("seq %d after seq %d: an entry copied or moved", e.Seq, want-1))
			}
			if e.PrevSHA256 != prev && !gap {
				if n == 1 {
					alter(n, "prev_sha256 is not the genesis value")
				} else {
					alter(n-1, fmt.Sprintf("hash chain broken at line %d", n))
				}
			}
			want = e.Seq + 1
		}
		prev = provenance.SHA256Hex(line)
	}
	keys := make([]int, 0, len(altered))
	for k := range altered {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		problem("%s line %d: altered (%s)", provenance.AuditFileName, k, strings.Join(altered[k], "; "))
	}
	return entries, lines
}
