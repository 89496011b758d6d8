//go:build unix

package kubeshark

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

// TestEvidencePermissions: what a pull creates is the owner's alone, under
// any umask; --group-readable opens it to the group, not to others.
func TestEvidencePermissions(t *testing.T) {
	for _, tt := range []struct {
		name             string
		umask            int
		group            bool
		wantDir, wantFil fs.FileMode
	}{
		{"umask 022", 0o022, false, 0o700, 0o600},
		{"umask 077", 0o077, false, 0o700, 0o600},
		{"group-readable, umask 022", 0o022, true, 0o750, 0o640},
		{"group-readable, umask 077", 0o077, true, 0o750, 0o640},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old := syscall.Umask(tt.umask)
			defer syscall.Umask(old)
			f := newFixture(t, "http", standin.Options{}, "")
			req := f.request(t)
			req.GroupReadable = tt.group
			if _, err := Pull(bg(), req); err != nil {
				t.Fatal(err)
			}
			n := 0
			filepath.WalkDir(req.Dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					t.Fatal(err)
				}
				st, _ := os.Lstat(path)
				want := tt.wantFil
				if d.IsDir() {
					want = tt.wantDir
				}
				if got := st.Mode().Perm(); got != want {
					t.Errorf("%s: mode %v, want %v", path, got, want)
				}
				n++
				return nil
			})
			if n < 6 {
				t.Errorf("only %d entries checked", n)
			}
		})
	}
}

// TestEvidenceDirRules: -o must be absent or an empty directory; anything
// else is refused and left untouched, links included.
func TestEvidenceDirRules(t *testing.T) {
	f := newFixture(t, "http", standin.Options{}, "")
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		ok    bool
	}{
		{"absent", func(t *testing.T, dir string) {}, true},
		{"empty", func(t *testing.T, dir string) { os.Mkdir(dir, 0o755) }, true},
		{"holds a user's file", func(t *testing.T, dir string) {
			os.Mkdir(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
		}, false},
		{"holds a stale capture part", func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "captures"), 0o755)
			os.WriteFile(filepath.Join(dir, "captures", "snapshot-x.part"), []byte("mine"), 0o644)
		}, false},
		{"is a link to a directory", func(t *testing.T, dir string) {
			target := t.TempDir()
			os.Symlink(target, dir)
		}, false},
		{"holds a planted captures link", func(t *testing.T, dir string) {
			os.Mkdir(dir, 0o755)
			os.Symlink(t.TempDir(), filepath.Join(dir, "captures"))
		}, false},
		{"is a file", func(t *testing.T, dir string) { os.WriteFile(dir, []byte("mine"), 0o644) }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(t)
			tt.setup(t, req.Dir)
			before := snapshotTree(t, filepath.Dir(req.Dir))
			_, err := Pull(bg(), req)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if KindOf(err) != KindUsage {
				t.Fatalf("err %v (kind %v), want a usage error", err, KindOf(err))
			}
			if after := snapshotTree(t, filepath.Dir(req.Dir)); after != before {
				t.Errorf("the directory changed:\n%s\nbecame\n%s", before, after)
			}
		})
	}
}

// snapshotTree lists a tree's entries, with link targets and file contents.
func snapshotTree(t *testing.T, dir string) string {
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		line := path
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			line += " -> " + target
		} else if !d.IsDir() {
			b, _ := os.ReadFile(path)
			line += " = " + string(b)
		}
		out = append(out, line)
		return nil
	})
	return sprintf("%q", out)
}
