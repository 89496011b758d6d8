package main

import (
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/report"
)

// TestL7Default: analyze writes the application layer's tables unless
// --no-l7 (or --l7=false, as before L7 was the default) turns it off; --l7
// still parses and changes nothing.
func TestL7Default(t *testing.T) {
	in := filepath.Join("..", "..", "testdata", "rec", "http-v4.pcap")
	for _, c := range []struct {
		name  string
		flags []string
		l7    bool
	}{
		{"default", nil, true},
		{"--l7", []string{"--l7"}, true},
		{"--no-l7", []string{"--no-l7"}, false},
		{"--l7=false", []string{"--l7=false"}, false},
		{"--no-l7 wins over --l7", []string{"--l7", "--no-l7"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append(append([]string{"analyze", "--quiet"}, c.flags...), "-o", out, in)
			if code, _, stderr := run(t, args...); code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			m := readManifest(t, out)
			for _, f := range []string{report.HTTPFile, report.DNSFile} {
				if got := hasOutput(m.Outputs, f); got != c.l7 {
					t.Errorf("%s written: %v, want %v", f, got, c.l7)
				}
			}
			if _, got := m.Settings["l7"]; got != c.l7 {
				t.Errorf("manifest setting l7 present: %v, want %v (settings %v)", got, c.l7, m.Settings)
			}
		})
	}
}
