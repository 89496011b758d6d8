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
//
// A file that would hold a secret (a Hub that echoes the token in an
// answer) is saved with it replaced: evidence is shared, the token must not
// be. The pull goes on, with a warning: the rest of the answer is still
// evidence, and the call's result_sha256 stays that of the bytes received.
func (p *puller) writeRel(rel string, data []byte) (provenance.File, error) {
	if red, n := p.red.Bytes(data); n > 0 {
		data = red
		p.warn("%s: the server's answer held the Hub token or another secret %d time(s); it was replaced by %s before saving, so this file differs from the answer received (whose SHA-256 the manifest's call records)", rel, n, provenance.Redacted)
	}
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
