package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

const genDir = "../testdata/gen"

// TestAnalyzeLibrary drives a whole run through the library: the outputs
// are listed in the manifest with their hashes, the audit trail verifies,
// and the flows are the same bytes for any Jobs.
func TestAnalyzeLibrary(t *testing.T) {
	var flows [][]byte
	for _, jobs := range []int{1, 3} {
		out := t.TempDir()
		res, err := pipeline.Analyze(context.Background(), []string{genDir}, pipeline.Options{Out: out, Jobs: jobs, L7: true, Version: "test", Command: []string{"test"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Captures != 21 || res.Flows != 22 || res.Packets == 0 || res.Bad != 0 {
			t.Errorf("jobs %d: result %+v", jobs, res)
		}
		if res.Manifest.Flows != res.Flows || len(res.Manifest.Inputs) != res.Captures {
			t.Errorf("jobs %d: manifest %d flows, %d inputs", jobs, res.Manifest.Flows, len(res.Manifest.Inputs))
		}
		names := map[string]bool{}
		for _, o := range res.Manifest.Outputs {
			got, err := provenance.HashFile(filepath.Join(out, o.Name))
			if err != nil || got.SHA256 != o.SHA256 || got.Size != o.Size {
				t.Errorf("output %s: %+v, manifest says %+v (%v)", o.Name, got, o, err)
			}
			names[o.Name] = true
		}
		if !names["flows.parquet"] || !names["report.md"] || names[report.CrossCheckFile] {
			t.Errorf("outputs %v", names)
		}
		v, err := report.Verify(out)
		if err != nil || !v.OK() {
			t.Errorf("verify: %+v %v", v, err)
		}
		var all []byte
		for _, name := range []string{"flows.parquet", report.HTTPFile, report.DNSFile} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		flows = append(flows, all)
	}
	if !bytes.Equal(flows[0], flows[1]) {
		t.Error("flows.parquet, http.parquet or dns.parquet differs between Jobs 1 and 3")
	}
}

// TestAnalyzeBadInput: a missing argument and a file that is not a capture
// are reported, the rest is written, and the error is ErrPartial.
func TestAnalyzeBadInput(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notCapture, []byte("not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warned []string
	prog := &recorder{warn: func(s string) { warned = append(warned, s) }}
	res, err := pipeline.Analyze(context.Background(), []string{filepath.Join(genDir, "tcp-sf.pcap"), filepath.Join(dir, "missing.pcap"), notCapture},
		pipeline.Options{Out: filepath.Join(dir, "out"), Progress: prog})
	if !errors.Is(err, pipeline.ErrPartial) || res == nil {
		t.Fatalf("err %v, result %v", err, res)
	}
	if res.Bad != 2 || res.Flows != 1 || len(warned) != 2 || prog.runs != 1 || prog.stops != 1 {
		t.Errorf("bad %d flows %d warnings %q runs %d stops %d", res.Bad, res.Flows, warned, prog.runs, prog.stops)
	}
	if _, err := pipeline.Analyze(context.Background(), []string{notCapture}, pipeline.Options{Out: filepath.Join(dir, "out2")}); err == nil || errors.Is(err, pipeline.ErrPartial) {
		t.Errorf("nothing readable: err %v", err)
	}
}

// TestPullAndAnalyzeEvidence pulls from the in-process stand-in and analyzes
// the evidence directory: its captures and answers are one input, the
// cross-check runs, its verdicts reach flows.parquet, the summary and
// crosscheck.parquet alike, and both audit trails verify.
func TestPullAndAnalyzeEvidence(t *testing.T) {
	hub, err := standin.NewHub(standin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	from, to := hub.Window()
	ev := filepath.Join(t.TempDir(), "evidence")
	req := kubeshark.Request{
		Endpoint: kubeshark.Endpoint{
			Serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
				return standin.ServeCLI(ctx, in, out, standin.CLIOptions{URL: hub.URL})
			},
		},
		HubURL:          hub.URL,
		Window:          kubeshark.Window{From: from, To: to},
		Dir:             ev,
		Session:         kubeshark.SessionOptions{CallTimeout: 30 * time.Second},
		PollInterval:    10 * time.Millisecond,
		SnapshotTimeout: time.Minute,
		Command:         []string{"test", "pull"},
		ToolName:        "flowproof",
		ToolVersion:     "test",
	}
	m, err := kubeshark.Pull(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Kubeshark.Captures) != 1 {
		t.Fatalf("captures %+v", m.Kubeshark.Captures)
	}
	in, err := pipeline.Open(ev)
	if err != nil || len(in.Captures) != 1 || in.L4Flows == "" || in.Workloads == "" || in.Captures[0].SHA256 == "" || !strings.Contains(in.Captures[0].Source, "snapshot") {
		t.Fatalf("Open(evidence) = %+v, %v", in, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	res, err := pipeline.Analyze(context.Background(), []string{ev}, pipeline.Options{Out: out, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	xc, err := report.ReadCrossCheck(filepath.Join(out, report.CrossCheckFile))
	if err != nil {
		t.Fatal(err)
	}
	// Every compared flow carries the verdict of its aggregate.
	verdictOf := map[string]string{}
	for _, x := range xc {
		verdictOf[x.ClientIP+" "+x.ServerIP+" "+itoa(x.ServerPort)] = x.Verdict
	}
	compared := 0
	for _, r := range rows {
		if r.Synthetic {
			if r.CrossCheck != "" {
				t.Errorf("synthetic flow %s has verdict %q", r.FlowID, r.CrossCheck)
			}
			continue
		}
		want, ok := verdictOf[r.SrcIP+" "+r.DstIP+" "+itoa(r.DstPort)]
		if !ok {
			want = verdictOf[r.DstIP+" "+r.SrcIP+" "+itoa(r.SrcPort)]
		}
		if want == "" {
			want = crosscheck.PcapOnly
		}
		if r.CrossCheck != want {
			t.Errorf("flow %s %s->%s:%d: verdict %q, crosscheck.parquet says %q", r.FlowID, r.SrcIP, r.DstIP, r.DstPort, r.CrossCheck, want)
		}
		compared++
	}
	if compared == 0 || int64(len(rows)) != res.Flows {
		t.Errorf("%d rows, %d compared, result %d flows", len(rows), compared, res.Flows)
	}
	md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "flows were compared with Kubeshark's own flow counters") {
		t.Error("report.md has no Cross-check section")
	}
	for _, dir := range []string{ev, out} {
		if v, err := report.Verify(dir); err != nil || !v.OK() {
			t.Errorf("verify %s: %+v %v", dir, v, err)
		}
	}
}

type recorder struct {
	runs, stops int
	warn        func(string)
}

func (r *recorder) Run(int) { r.runs++ }
func (r *recorder) Start(_ int, _ string, c *ingest.Capture) analyze.PacketSource {
	return c
}
func (r *recorder) Finish(int)      {}
func (r *recorder) Warn(msg string) { r.warn(msg) }
func (r *recorder) Stop()           { r.stops++ }

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestHostileAnswersAnalyzed: Kubeshark records with lying counters (2^63-1
// twice, whose sum wraps to the truth; a negative; a fraction) never give
// match, and names with terminal escapes reach neither the report nor the
// manifest raw.
func TestHostileAnswersAnalyzed(t *testing.T) {
	hub, err := standin.NewHub(standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{HugeCounters: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ev := pullStandin(t, hub)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := pipeline.Analyze(context.Background(), []string{ev}, pipeline.Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	xc, err := report.ReadCrossCheck(filepath.Join(out, report.CrossCheckFile))
	if err != nil {
		t.Fatal(err)
	}
	invalid := 0
	for _, x := range xc {
		if x.Verdict == crosscheck.InvalidCounters {
			invalid++
		}
	}
	if invalid < 3 {
		t.Errorf("%d invalid_counters aggregates, want at least 3: %+v", invalid, xc)
	}

	hub2, err := standin.NewHub(standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{Escapes: true, HugeCounters: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub2.Close()
	ev2 := pullStandin(t, hub2)
	out2 := filepath.Join(t.TempDir(), "out")
	if _, err := pipeline.Analyze(context.Background(), []string{ev2}, pipeline.Options{Out: out2}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{report.ReportFile, report.ManifestFile} {
		b, err := os.ReadFile(filepath.Join(out2, name))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(b, "\x1b\x07\u009b") {
			t.Errorf("%s holds a raw control character", name)
		}
		if name == report.ReportFile && !bytes.Contains(b, []byte(`flowproof pull: capture OK`)) {
			xc, _ := report.ReadCrossCheck(filepath.Join(out2, report.CrossCheckFile))
			_ = xc
			t.Errorf("%s does not show the hostile pod name at all: the check proves nothing:\n%s", name, b)
		}
	}
}

// pullStandin pulls the stand-in's whole window into a new evidence
// directory, in process.
func pullStandin(t *testing.T, hub *standin.Hub) string {
	t.Helper()
	from, to := hub.Window()
	ev := filepath.Join(t.TempDir(), "evidence")
	_, err := kubeshark.Pull(context.Background(), kubeshark.Request{
		Endpoint: kubeshark.Endpoint{Serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
			return standin.ServeCLI(ctx, in, out, standin.CLIOptions{URL: hub.URL})
		}},
		HubURL: hub.URL, Window: kubeshark.Window{From: from, To: to}, Dir: ev,
		Session: kubeshark.SessionOptions{CallTimeout: 30 * time.Second}, PollInterval: 10 * time.Millisecond, SnapshotTimeout: time.Minute,
	})
	if err != nil && !errors.Is(err, kubeshark.ErrPartial) {
		t.Fatal(err)
	}
	return ev
}

// TestAnalyzeL7: the recordings' HTTP requests and DNS queries reach
// http.parquet and dns.parquet, each row joins its flow in flows.parquet by
// flow_id, and without L7 neither table is written.
func TestAnalyzeL7(t *testing.T) {
	out := t.TempDir()
	if _, err := pipeline.Analyze(context.Background(), []string{"../testdata/rec/http-v4.pcap", "../testdata/rec/dns-udp.pcap"}, pipeline.Options{Out: out, L7: true}); err != nil {
		t.Fatal(err)
	}
	flows, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]report.FlowRow{}
	for _, f := range flows {
		ids[f.FlowID] = f
	}
	hr, err := report.ReadTable[report.HTTPRow](filepath.Join(out, report.HTTPFile))
	if err != nil {
		t.Fatal(err)
	}
	dr, err := report.ReadTable[report.DNSRow](filepath.Join(out, report.DNSFile))
	if err != nil {
		t.Fatal(err)
	}
	// http-v4.pcap: curl (one request, two keep-alive ones, one closed by the
	// server, the 200 KiB file) and ab -n 20: 25 requests, all answered 200.
	ok := 0
	for _, h := range hr {
		f, found := ids[h.FlowID]
		if !found || f.SrcIP != h.SrcIP || f.DstPort != h.DstPort || f.CommunityID != h.CommunityID {
			t.Errorf("http row %+v does not join its flow %+v", h, f)
		}
		if h.Method == "GET" && h.StatusCode != nil && *h.StatusCode == 200 && h.LatencyNs != nil && *h.LatencyNs > 0 {
			ok++
		}
	}
	if len(hr) != 25 || ok != 25 {
		t.Errorf("%d http rows, %d answered GETs with a latency; want 25", len(hr), ok)
	}
	// dns-udp.pcap: six queries, five answered (the one to port 5353 is not).
	answered := 0
	for _, d := range dr {
		if _, found := ids[d.FlowID]; !found {
			t.Errorf("dns row %+v joins no flow", d)
		}
		if d.Answered {
			answered++
		}
	}
	if len(dr) < 5 || answered != 5 {
		t.Errorf("%d dns rows, %d answered: %+v", len(dr), answered, dr)
	}
	out2 := t.TempDir()
	res, err := pipeline.Analyze(context.Background(), []string{"../testdata/rec/dns-udp.pcap"}, pipeline.Options{Out: out2})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Manifest.Outputs {
		if o.Name == report.HTTPFile || o.Name == report.DNSFile {
			t.Errorf("without L7, %s was written", o.Name)
		}
	}
}

// cancelProgress cancels the run once its capture has given after packets.
type cancelProgress struct {
	cancel func()
	after  int
	read   *atomic.Int64 // packets read in all
}

func (cancelProgress) Run(int) {}
func (p cancelProgress) Start(_ int, _ string, c *ingest.Capture) analyze.PacketSource {
	return &cancelSource{src: c, p: p}
}
func (cancelProgress) Finish(int)  {}
func (cancelProgress) Warn(string) {}
func (cancelProgress) Stop()       {}

type cancelSource struct {
	src analyze.PacketSource
	p   cancelProgress
	n   int
}

func (s *cancelSource) Next(p *ingest.Packet) error {
	if s.n++; s.n == s.p.after {
		s.p.cancel()
	}
	s.p.read.Add(1)
	return s.src.Next(p)
}

// TestAnalyzeCanceledMidCapture cancels a run in the middle of its only
// capture: Analyze stops reading soon after (not at the end of the file),
// returns the context's error, and leaves no output behind, not even a
// temporary file.
func TestAnalyzeCanceledMidCapture(t *testing.T) {
	in := t.TempDir()
	const packets = 50_000
	b, err := capgen.Bulk(packets)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "big.pcap"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var read atomic.Int64
	res, err := pipeline.Analyze(ctx, []string{in}, pipeline.Options{Out: out, Jobs: 1,
		Progress: cancelProgress{cancel: cancel, after: 1000, read: &read}})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Analyze = %v, %v; want context.Canceled and no result", res, err)
	}
	if n := read.Load(); n > 10_000 {
		t.Errorf("%d of %d packets read after the cancel at 1,000", n, packets)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestAnalyzeL7ReportJobs: the report's findings and its HTTP and DNS
// sections, fed from the sink, are the same for any Jobs.
func TestAnalyzeL7ReportJobs(t *testing.T) {
	in := []string{"../testdata/rec/http-v4.pcap", "../testdata/rec/http-v6.pcapng", "../testdata/rec/dns-udp.pcap", "../testdata/rec/any-sll2.pcap"}
	var got []string
	for _, jobs := range []int{1, 2, 4} {
		out := t.TempDir()
		if _, err := pipeline.Analyze(context.Background(), in, pipeline.Options{Out: out, Jobs: jobs, L7: true, Version: "test"}); err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
		if err != nil {
			t.Fatal(err)
		}
		s := string(md)
		f, h, m := strings.Index(s, "## Findings"), strings.Index(s, "## HTTP"), strings.Index(s, "## Method")
		if f < 0 || h < 0 || m < h || !strings.Contains(s[h:m], "## DNS") || !strings.Contains(s[h:m], "<!-- table: http-slowest -->") {
			t.Fatalf("jobs %d: no HTTP and DNS sections in report.md", jobs)
		}
		got = append(got, s[f:strings.Index(s, "## Summary")]+s[h:m])
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[0] {
			t.Errorf("report's L7 sections differ between runs %d and %d", 0, i)
		}
	}
}
