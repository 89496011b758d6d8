package provenance_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/flowproof/flowproof/provenance"
)

func TestAtomicCommit(t *testing.T) {
	dir := t.TempDir()
	a, err := provenance.CreateTemp(dir, "out.bin", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hello ", "world"} {
		if _, err := a.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	final := filepath.Join(dir, "out.bin")
	if _, err := os.Stat(final); !os.IsNotExist(err) {
		t.Fatalf("the final name exists before Commit: %v", err)
	}
	f, err := a.Commit(final)
	if err != nil {
		t.Fatal(err)
	}
	want, err := provenance.HashFile(final)
	if err != nil {
		t.Fatal(err)
	}
	if f != want || f.Size != 11 {
		t.Errorf("Commit = %+v, HashFile = %+v", f, want)
	}
	a.Abort() // after Commit: must not remove the file
	if _, err := os.Stat(final); err != nil {
		t.Errorf("Abort after Commit removed the file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestAtomicAbort(t *testing.T) {
	dir := t.TempDir()
	a, err := provenance.CreatePart(filepath.Join(dir, "cap"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if a.TempPath() != filepath.Join(dir, "cap.part") {
		t.Errorf("TempPath = %s", a.TempPath())
	}
	a.Write([]byte("x"))
	a.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Abort left %v", entries)
	}
	if _, err := a.Commit(filepath.Join(dir, "cap.pcap")); err == nil {
		t.Error("Commit after Abort succeeded")
	}
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	for _, s := range []string{"first, longer content", "second"} {
		f, err := provenance.WriteFile(path, []byte(s), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != "manifest.json" || f.Size != int64(len(s)) || f.SHA256 != provenance.SHA256Hex([]byte(s)) {
			t.Errorf("WriteFile = %+v", f)
		}
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(b) != "second" || st.Mode().Perm() != 0o600 {
		t.Errorf("content %q mode %v", b, st.Mode().Perm())
	}
}

func TestRedactArgs(t *testing.T) {
	tests := []struct {
		name     string
		in, want []string
	}{
		{"flag value", []string{"flowproof", "pull", "--token", "s3", "-o", "x"}, []string{"flowproof", "pull", "--token", "REDACTED", "-o", "x"}},
		{"flag=value", []string{"--hub-token=s3", "--db_password=p"}, []string{"--hub-token=REDACTED", "--db_password=REDACTED"}},
		{"license key", []string{"--license-key", "k"}, []string{"--license-key", "REDACTED"}},
		{"url user and query", []string{"--hub-url", "https://u:p@h/x?token=q&a=1"}, []string{"--hub-url", "https://REDACTED@h/x?a=1&token=REDACTED"}},
		{"command inside a flag", []string{"--mcp-command", "kubeshark mcp --token abc --url http://h"}, []string{"--mcp-command", "kubeshark mcp --token REDACTED --url http://h"}},
		{"command inside flag=value", []string{"--mcp-command=kubeshark mcp --license-key=k"}, []string{"--mcp-command=kubeshark mcp --license-key=REDACTED"}},
		{"positional after --", []string{"--", "--token", "t"}, []string{"--", "--token", "t"}},
		{"nothing secret", []string{"analyze", "-o", "out", "a b.pcap"}, []string{"analyze", "-o", "out", "a b.pcap"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := provenance.RedactArgs(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("RedactArgs(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Error("RedactArgs modified its input")
			}
		})
	}
}

func TestSafeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain pod-1", "plain pod-1"},
		{"line\nnext\ttab", "line\nnext\ttab"},
		{"\x1b[2K\rcapture OK", `\x1b[2K\rcapture OK`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"del \x7f", `del \x7f`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"sep \u2028", `sep \u2028`},
		{"ünïcode ok", "ünïcode ok"},
	}
	for _, tt := range tests {
		if got := provenance.SafeText(tt.in); got != tt.want {
			t.Errorf("SafeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeText(f *testing.F) {
	for _, s := range []string{"x", "\x1b[31m", "\u009b", "\xff\xfe", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := provenance.SafeText(s)
		for _, r := range got {
			if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r < 0xa0) {
				t.Fatalf("SafeText(%q) = %q keeps control %U", s, got, r)
			}
		}
		if !utf8.ValidString(got) {
			t.Fatalf("SafeText(%q) = %q is not valid UTF-8", s, got)
		}
	})
}

func TestMarshalIndentControls(t *testing.T) {
	b, err := provenance.MarshalIndent(map[string]string{"name": "kubeshark\x1b[2K\u009b31m\x7f", "ok": "ünï"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"\x1b", "\u009b", "\x7f"} {
		if bytes.Contains(b, []byte(c)) {
			t.Errorf("raw %q in %s", c, b)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(b, &back); err != nil || back["name"] != "kubeshark\x1b[2K\u009b31m\x7f" || back["ok"] != "ünï" {
		t.Errorf("round trip: %q %v", back, err)
	}
}
