package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func readManifest(t *testing.T, dir string) report.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m report.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// writeCase writes one generated capture into dir and returns its path.
func writeCase(t *testing.T, dir, name string) string {
	t.Helper()
	files, err := capgen.Files()
	if err != nil {
		t.Fatal(err)
	}
	data, ok := files[name]
	if !ok {
		t.Fatalf("no generated capture %q", name)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeCut writes cut.pcap into dir: tcp-port-reuse.pcap with its last 10
// bytes missing, so its two connections are whole but the last record is
// not. It returns the path.
func writeCut(t *testing.T, dir string) string {
	t.Helper()
	path := writeCase(t, dir, "tcp-port-reuse.pcap")
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, full[:len(full)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	return cut
}

func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := run(t, "demo", "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	if !strings.Contains(stdout, "flows from") {
		t.Errorf("stdout %q does not summarise the run", stdout)
	}
	rows, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, out)
	if int64(len(rows)) != m.Flows || m.Flows == 0 {
		t.Errorf("flows.parquet has %d rows, manifest says %d", len(rows), m.Flows)
	}
	if len(m.Outputs) < 2 || m.Outputs[0].Name != "flows.parquet" || !hasOutput(m.Outputs, "report.md") || len(m.Outputs[0].SHA256) != 64 {
		t.Errorf("manifest outputs = %+v", m.Outputs)
	}
	for _, in := range m.Inputs {
		if in.Status != report.StatusOK || len(in.SHA256) != 64 || in.Packets == 0 {
			t.Errorf("input %+v", in)
		}
	}
}

// TestAnalyzePartial: a truncated capture and a file that is not a capture
// are reported with file, packet and offset; the good captures and the good
// part of the truncated one are still written; exit code 3.
func TestAnalyzePartial(t *testing.T) {
	dir := t.TempDir()
	good := writeCase(t, dir, "tcp-sf.pcap")
	truncated := writeCut(t, dir)
	notCapture := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notCapture, []byte("incident notes, not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := run(t, "analyze", good, truncated, notCapture, filepath.Join(dir, "missing.pcap"), "-o", out)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitPartial, stderr)
	}
	for _, want := range []string{"cut.pcap: packet", "byte offset", "notes.txt", "missing.pcap"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr)
		}
	}
	m := readManifest(t, out)
	status := map[string]string{}
	for _, in := range m.Inputs {
		status[in.Name] = in.Status
	}
	if status["tcp-sf.pcap"] != report.StatusOK || status["cut.pcap"] != report.StatusPartial || status["notes.txt"] != report.StatusFailed {
		t.Errorf("input statuses %v", status)
	}
	rows, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	byCapture := map[string]int{}
	for _, r := range rows {
		byCapture[r.Capture]++
	}
	// tcp-sf has one flow; the cut port-reuse capture keeps both of its
	// connections (only the last packet's tail is missing).
	if byCapture["tcp-sf.pcap"] != 1 || byCapture["cut.pcap"] != 2 {
		t.Errorf("flows per capture %v", byCapture)
	}
}

func TestAnalyzeNothingReadable(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "empty.pcap")
	if err := os.WriteFile(bad, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "analyze", "-o", filepath.Join(dir, "out"), bad)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailed, stderr)
	}
	if !strings.Contains(stderr, "empty.pcap") {
		t.Errorf("stderr does not name the file: %s", stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"no inputs", []string{"analyze"}, "no input"},
		{"bad flag", []string{"analyze", "--no-such-flag", "x.pcap"}, "no-such-flag"},
		{"bad timeout", []string{"analyze", "--udp-timeout", "-1s", "x.pcap"}, "udp-timeout"},
		{"demo inputs", []string{"demo", "x.pcap"}, "no inputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := run(t, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "flowproof ") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func hasOutput(outs []provenance.File, name string) bool {
	for _, o := range outs {
		if o.Name == name {
			return true
		}
	}
	return false
}

// TestAnalyzeOnlyInputTruncated: a single capture cut short still gives
// the flows of its good part: a partial result (exit 3), not a failure.
func TestAnalyzeOnlyInputTruncated(t *testing.T) {
	dir := t.TempDir()
	cut := writeCut(t, dir)
	out := filepath.Join(dir, "out")
	code, _, stderr := run(t, "analyze", "-o", out, cut)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitPartial, stderr)
	}
	if m := readManifest(t, out); m.Flows != 2 {
		t.Errorf("%d flows written, want the 2 of the good part", m.Flows)
	}
}

// TestAnalyzeJobsSameOutput: however many captures are analyzed at once,
// flows.parquet is the same bytes and the manifest lists the same inputs,
// warnings and counts in the same order; errors come out in input order.
func TestAnalyzeJobsSameOutput(t *testing.T) {
	dir := t.TempDir()
	cut := writeCut(t, dir)
	notCapture := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notCapture, []byte("not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := append(testdataCaptures(t), cut, notCapture)
	inputs = append(inputs, testdataCaptures(t)[:3]...) // again: later ordinals, same names

	type result struct {
		flows  []byte
		m      report.Manifest
		stderr string
	}
	analyzeWith := func(jobs string) result {
		out := filepath.Join(t.TempDir(), "out")
		code, _, stderr := run(t, append([]string{"analyze", "--jobs", jobs, "-o", out}, inputs...)...)
		if code != exitPartial {
			t.Fatalf("--jobs %s: exit %d, want %d: %s", jobs, code, exitPartial, stderr)
		}
		flows, err := os.ReadFile(filepath.Join(out, "flows.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		return result{flows, readManifest(t, out), strings.ReplaceAll(stderr, out, "OUT")}
	}
	one := analyzeWith("1")
	for _, jobs := range []string{"2", "5"} {
		many := analyzeWith(jobs)
		if !bytes.Equal(one.flows, many.flows) {
			t.Errorf("--jobs %s: flows.parquet differs from --jobs 1", jobs)
		}
		for _, c := range []struct {
			what      string
			got, want any
		}{
			{"inputs", many.m.Inputs, one.m.Inputs},
			{"warnings", many.m.Warnings, one.m.Warnings},
			{"decode counts", many.m.Decode, one.m.Decode},
			{"flows", many.m.Flows, one.m.Flows},
			{"stderr", many.stderr, one.stderr},
		} {
			if g, w := fmt.Sprint(c.got), fmt.Sprint(c.want); g != w {
				t.Errorf("--jobs %s: %s\n%s\nwant (--jobs 1)\n%s", jobs, c.what, g, w)
			}
		}
	}
	if len(one.m.Inputs) != len(inputs) || one.m.Flows == 0 {
		t.Errorf("%d inputs, %d flows", len(one.m.Inputs), one.m.Flows)
	}
}
