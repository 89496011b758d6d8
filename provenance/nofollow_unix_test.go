//go:build unix

package provenance_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/provenance"
)

// TestAuditNoFollow: an audit.jsonl planted as a link to another file is
// not appended to, and the file it points to is left as it was.
func TestAuditNoFollow(t *testing.T) {
	dir, other := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(other, []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(dir, provenance.AuditFileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := provenance.AppendAudit(dir, provenance.AuditEntry{Step: "analyze"}); err == nil {
		t.Error("appended through a link")
	}
	if b, _ := os.ReadFile(other); string(b) != "mine\n" {
		t.Errorf("the link's target changed: %q", b)
	}
}

// TestWriteFileReplacesLink: writing a file whose name is a planted link
// replaces the link, never the file it points to.
func TestWriteFileReplacesLink(t *testing.T) {
	dir, other := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(other, []byte("mine"), 0o600)
	path := filepath.Join(dir, "manifest.json")
	os.Symlink(other, path)
	if _, err := provenance.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(other); string(b) != "mine" {
		t.Errorf("the link's target changed: %q", b)
	}
	if st, _ := os.Lstat(path); st.Mode()&os.ModeSymlink != 0 {
		t.Error("still a link")
	}
}
