package kubeshark

import (
	"os"
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

// writeRel writes data atomically to Dir/rel and returns its record named
// by rel.
func (p *puller) writeRel(rel string, data []byte) (provenance.File, error) {
	f, err := provenance.WriteFile(filepath.Join(p.req.Dir, filepath.FromSlash(rel)), data, p.fileMode())
	if err == nil && p.req.GroupReadable {
		err = os.Chmod(filepath.Join(p.req.Dir, filepath.FromSlash(rel)), p.fileMode())
	}
	f.Name = rel
	return f, err
}

// fileMode and dirMode are the modes of what a pull creates: the owner's
// alone (a capture may hold credentials and personal data), or readable by
// the group with Request.GroupReadable.
func (p *puller) fileMode() os.FileMode {
	if p.req.GroupReadable {
		return 0o640
	}
	return 0o600
}

func (p *puller) dirMode() os.FileMode {
	if p.req.GroupReadable {
		return 0o750
	}
	return 0o700
}
