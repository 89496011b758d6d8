package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest"
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

// TestProgressLine: the line names the earliest capture still running, its
// place in the run, and how many others run beside it.
func TestProgressLine(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) *ingest.Capture {
		c, err := ingest.Open(writeCase(t, dir, name), ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	p := &progress{on: true, active: map[int]*captureProgress{}}
	p.total = 5
	if got := p.line(); got != "" {
		t.Errorf("nothing running: %q", got)
	}
	p.Start(3, "tcp-sf.pcap", open("tcp-sf.pcap"))
	p.Start(1, "tcp-port-reuse.pcap", open("tcp-port-reuse.pcap"))
	got := p.line()
	if !strings.HasPrefix(got, "[2/5] tcp-port-reuse.pcap: ") || !strings.HasSuffix(got, " (+1 more at once)") {
		t.Errorf("two running: %q", got)
	}
	p.Finish(1)
	if got := p.line(); !strings.HasPrefix(got, "[4/5] tcp-sf.pcap: ") || strings.Contains(got, "more at once") {
		t.Errorf("one running: %q", got)
	}
}
