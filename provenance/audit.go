package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// AuditFileName is the audit trail in an output or evidence directory.
const AuditFileName = "audit.jsonl"

// GenesisSHA256 is the prev_sha256 of the first audit entry.
const GenesisSHA256 = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditEntry is one line of audit.jsonl: one pull or analyze step. The JSON
// field order is the struct order; sha256 is always last.
type AuditEntry struct {
	Seq        int64             `json:"seq"`  // 1, 2, 3, ... in file order
	Time       Time              `json:"time"` // when the step finished
	Step       string            `json:"step"` // "analyze", "pull", ...
	Tool       Tool              `json:"tool"`
	Command    []string          `json:"command"`    // after RedactArgs
	Parameters map[string]string `json:"parameters"` // settings of the step
	Inputs     []AuditFile       `json:"inputs"`
	Outputs    []AuditFile       `json:"outputs"`
	PrevSHA256 string            `json:"prev_sha256"` // SHA-256 of the previous line's bytes, or GenesisSHA256
	SHA256     string            `json:"sha256"`      // SHA-256 of this line with this value empty
}

// AuditFile is a file an audit entry read or wrote.
type AuditFile struct {
	// Path is slash-separated and relative to the audit file's directory
	// when InDir is true; otherwise it is the path as given on the command
	// line (or a remote source's name).
	Path   string `json:"path"`
	InDir  bool   `json:"in_dir,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// auditTail is what the end of every audit line looks like.
const auditTail = `,"sha256":"`

// NextAuditSeq returns the seq the next entry appended to dir/audit.jsonl
// will get: 1 for a new trail.
func NextAuditSeq(dir string) (int64, error) {
	_, last, err := readAuditTail(dir)
	if err != nil {
		return 0, err
	}
	if last == nil {
		return 1, nil
	}
	var e struct{ Seq int64 }
	if err := json.Unmarshal(last, &e); err != nil || e.Seq <= 0 {
		return 0, fmt.Errorf("%s: the last entry is not readable: run flowproof verify on %s", filepath.Join(dir, AuditFileName), dir)
	}
	return e.Seq + 1, nil
}

// readAuditTail returns the trail's bytes and its last line (nil when the
// trail is absent or empty). A trail that does not end in a newline was
// cut short by an interrupted write and is refused.
func readAuditTail(dir string) (all, last []byte, err error) {
	path := filepath.Join(dir, AuditFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if len(b) == 0 {
		return b, nil, nil
	}
	if b[len(b)-1] != '\n' {
		return nil, nil, fmt.Errorf("%s: the last line is incomplete (an interrupted write?); run flowproof verify on %s and keep the directory as it is", path, dir)
	}
	body := b[:len(b)-1]
	return b, body[bytes.LastIndexByte(body, '\n')+1:], nil
}

// MarshalAuditEntry returns e's JSON line (without newline) with its sha256
// computed: the SHA-256 of the line with an empty sha256 value.
func MarshalAuditEntry(e AuditEntry) ([]byte, error) {
	e.SHA256 = ""
	e.Command = NonNil(RedactArgs(e.Command))
	e.Inputs = NonNil(e.Inputs)
	e.Outputs = NonNil(e.Outputs)
	if e.Parameters == nil {
		e.Parameters = map[string]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&e); err != nil {
		return nil, fmt.Errorf("encode audit entry: %w", err)
	}
	line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if !bytes.HasSuffix(line, []byte(auditTail+`"}`)) {
		return nil, errors.New("provenance: audit entry does not end in its sha256 field")
	}
	sum := sha256.Sum256(line)
	h := hex.EncodeToString(sum[:])
	out := make([]byte, 0, len(line)+64)
	out = append(out, line[:len(line)-2]...)
	out = append(out, h...)
	out = append(out, `"}`...)
	return out, nil
}

// LineHashOK checks a line's own sha256: it returns the value the line
// states and whether it matches the line's content.
func LineHashOK(line []byte) (stated string, ok bool) {
	i := bytes.LastIndex(line, []byte(auditTail))
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}`)) || len(line)-2-(i+len(auditTail)) != 64 {
		return "", false
	}
	stated = string(line[i+len(auditTail) : len(line)-2])
	blank := make([]byte, 0, len(line))
	blank = append(blank, line[:i+len(auditTail)]...)
	blank = append(blank, `"}`...)
	sum := sha256.Sum256(blank)
	return stated, hex.EncodeToString(sum[:]) == stated
}

// AppendAudit appends e to dir/audit.jsonl (creating it), after setting its
// Seq (the last entry's plus one), PrevSHA256 (the SHA-256 of the last line,
// or GenesisSHA256) and SHA256, and redacting its command. If e.Seq is
// already set it must be the seq the entry gets (see NextAuditSeq), which
// catches a concurrent writer. The line is written with one append and
// synced. It returns the entry as written.
//
// The trail is never rewritten; one process at a time may append to it.
func AppendAudit(dir string, e AuditEntry) (AuditEntry, error) {
	_, last, err := readAuditTail(dir)
	if err != nil {
		return e, err
	}
	seq, prev := int64(1), GenesisSHA256
	if last != nil {
		var l struct{ Seq int64 }
		if err := json.Unmarshal(last, &l); err != nil || l.Seq <= 0 {
			return e, fmt.Errorf("%s: the last entry is not readable: run flowproof verify on %s", filepath.Join(dir, AuditFileName), dir)
		}
		seq, prev = l.Seq+1, SHA256Hex(last)
	}
	if e.Seq != 0 && e.Seq != seq {
		return e, fmt.Errorf("%s: expected to write entry %d but the trail is at %d: another process wrote to it", filepath.Join(dir, AuditFileName), e.Seq, seq-1)
	}
	e.Seq, e.PrevSHA256 = seq, prev
	line, err := MarshalAuditEntry(e)
	if err != nil {
		return e, err
	}
	e.SHA256 = string(line[len(line)-66 : len(line)-2])
	e.Command = RedactArgs(e.Command)
	path := filepath.Join(dir, AuditFileName)
	perm := auditPerm(dir)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|oNoFollow, perm)
	if err != nil {
		return e, err
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		f.Chmod(perm) // a new trail is as open as its directory, whatever the umask
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return e, fmt.Errorf("append %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return e, fmt.Errorf("sync %s: %w", path, err)
	}
	return e, f.Close()
}

// ReadAudit reads every entry of dir/audit.jsonl, without checking it
// (Verify does).
func ReadAudit(dir string) ([]AuditEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, AuditFileName))
	if err != nil {
		return nil, err
	}
	var out []AuditEntry
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var e AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return out, fmt.Errorf("%s line %d: %w", AuditFileName, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// AuditFileOf describes an input for an audit entry: relative to dir when
// the file lies inside it (so verify can re-hash it wherever dir is moved),
// else by the path as given.
func AuditFileOf(dir, path string, size int64, sum string) AuditFile {
	f := AuditFile{Path: path, Size: size, SHA256: sum}
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return f
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return f
	}
	f.Path, f.InDir = filepath.ToSlash(rel), true
	return f
}

// auditPerm is the mode a new audit trail gets: readable by those who can
// list its directory (the owner; the group; everyone).
func auditPerm(dir string) os.FileMode {
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 == 0 {
		return 0o600
	} else if err == nil && st.Mode().Perm()&0o007 == 0 {
		return 0o640
	}
	return 0o644
}

// Step is one pull or analyze step, as AppendStep records it.
type Step struct {
	// Seq is the seq the step's manifest names (NextAuditSeq before it was
	// written); 0 takes whatever comes next.
	Seq        int64
	Name       string // "pull", "analyze"
	Time       time.Time
	Tool       Tool
	Command    []string // redacted when written
	Parameters map[string]string
	Inputs     []AuditFile
	Outputs    []File // files in dir, by relative name
	// Manifest is the name in dir of the step's manifest, hashed now and
	// recorded as its last output (a file cannot hold its own hash).
	Manifest string
}

// AppendStep appends the audit entry of a step to dir/audit.jsonl.
func AppendStep(dir string, s Step) (AuditEntry, error) {
	e := AuditEntry{
		Seq:        s.Seq,
		Time:       Time{Time: s.Time},
		Step:       s.Name,
		Tool:       s.Tool,
		Command:    s.Command,
		Parameters: s.Parameters,
		Inputs:     s.Inputs,
	}
	outs := s.Outputs
	if s.Manifest != "" {
		mo, err := HashFile(filepath.Join(dir, filepath.FromSlash(s.Manifest)))
		if err != nil {
			return e, err
		}
		mo.Name = s.Manifest
		outs = append(outs[:len(outs):len(outs)], mo)
	}
	for _, o := range outs {
		e.Outputs = append(e.Outputs, AuditFile{Path: o.Name, InDir: true, Size: o.Size, SHA256: o.SHA256})
	}
	e, err := AppendAudit(dir, e)
	if err != nil {
		return e, fmt.Errorf("append %s: %w", AuditFileName, err)
	}
	return e, nil
}
