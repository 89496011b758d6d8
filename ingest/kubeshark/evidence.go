package kubeshark

import (
	"path/filepath"
	"strings"

	"github.com/flowproof/flowproof/provenance"
)

// safeName keeps a name usable as a file name.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), ".")
	if len(out) > 80 {
		out = out[:80]
	}
	if out == "" {
		out = "capture"
	}
	return out
}

// writeRel writes data atomically to root/rel and returns its record named
// by rel.
func writeRel(root, rel string, data []byte) (provenance.File, error) {
	f, err := provenance.WriteFile(filepath.Join(root, filepath.FromSlash(rel)), data, 0o644)
	f.Name = rel
	return f, err
}
