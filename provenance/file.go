package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// File is one file a manifest lists.
type File struct {
	Name   string `json:"name"` // relative to the manifest's directory, forward slashes
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// HashFile returns the base name, size and SHA-256 of the file at path.
func HashFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return File{Name: filepath.Base(path), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// SHA256Hex returns the SHA-256 of b in lower-case hex.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TimeLayout is RFC 3339 with exactly nine fractional digits, so that the
// strings sort and compare as the instants do.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime formats t in UTC with TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

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

// Tool names the program that wrote a manifest or audit entry.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// MarshalIndent returns the JSON of v as every manifest is written:
// indented by two spaces, HTML characters unescaped, ending in a newline.
// DEL and the C1 controls, which encoding/json leaves raw, are escaped too,
// so that printing a manifest cannot drive a terminal.
func MarshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return escapeControls(buf.Bytes()), nil
}

// escapeControls writes DEL (0x7f) and the C1 controls (U+0080..U+009F, in
// UTF-8 0xc2 0x80..0x9f) as \u escapes; in JSON they can only be inside
// strings, where the escape means the same character.
func escapeControls(b []byte) []byte {
	if !bytes.ContainsAny(b, "\x7f\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008a\u008b\u008c\u008d\u008e\u008f\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009a\u009b\u009c\u009d\u009e\u009f") {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == 0x7f:
			out = append(out, `\u007f`...)
		case b[i] == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, b[i+1])
			i++
		default:
			out = append(out, b[i])
		}
	}
	return out
}

// NonNil returns s, or an empty slice when s is nil, so that JSON writes []
// and a manifest's layout never varies.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
