package ingest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"b.txt", "a.pcap", ".hidden.pcap", ".git/x.pcap", "sub/z", "sub/c.pcapng", "sub/.cache/y.pcap"} {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"link-to-a": "a.pcap", "link-to-sub": "sub", "broken": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	in := func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }

	got, err := Expand([]string{root, in("a.pcap"), in(".hidden.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		in("a.pcap"), in("b.txt"), in("broken"), in("link-to-a"), in("sub/c.pcapng"), in("sub/z"),
		in(".hidden.pcap"), // hidden, but named explicitly
	}
	if !slices.Equal(got, want) {
		t.Errorf("Expand:\n got %q\nwant %q", got, want)
	}

	missing := in("no-such.pcap")
	if _, err := Expand([]string{root, missing}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing path: got %v, want an error naming %s", err, missing)
	}
}
