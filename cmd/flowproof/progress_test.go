package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAnalyzeQuietWhenNotATerminal: with stderr not a terminal, a clean run
// writes nothing there (no progress), and the profiles asked for are written.
func TestAnalyzeQuietWhenNotATerminal(t *testing.T) {
	dir := t.TempDir()
	capture := writeCase(t, dir, "tcp-sf.pcap")
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	code, _, stderr := run(t, "analyze", "-o", filepath.Join(dir, "out"), "--cpuprofile", cpu, "--memprofile", mem, capture)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr is not a terminal, yet got %q", stderr)
	}
	for _, p := range []string{cpu, mem} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("profile %s not written: %v", p, err)
		}
	}
}

// TestProgressOnlyOnTerminal: progress is off for a pipe or a file, and
// always off with --quiet.
func TestProgressOnlyOnTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgress(f, false).on {
		t.Error("progress on for a regular file")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if newProgress(tty, true).on {
			t.Error("progress on with --quiet")
		}
	}
}
