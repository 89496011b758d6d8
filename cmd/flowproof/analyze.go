package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// analyzeOptions are the settings of one analyze run.
type analyzeOptions struct {
	out              string
	tcpTimeout       time.Duration
	udpTimeout       time.Duration
	tcpClosedTimeout time.Duration
	maxFlows         int
	noDecap          bool
	noReassembly     bool
	quiet            bool
	jobs             int
	cpuProfile       string
	memProfile       string
	xc               xcOptions
}

func (o *analyzeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.out, "o", "flowproof-out", "output `directory` (created if missing)")
	fs.DurationVar(&o.tcpTimeout, "tcp-timeout", time.Duration(analyze.DefaultTCPTimeoutNs), "idle time that ends a TCP flow")
	fs.DurationVar(&o.udpTimeout, "udp-timeout", time.Duration(analyze.DefaultUDPTimeoutNs), "idle time that ends a UDP flow")
	fs.DurationVar(&o.tcpClosedTimeout, "tcp-closed-timeout", time.Duration(analyze.DefaultTCPClosedTimeoutNs), "idle time that ends a TCP flow after FIN from both sides or a RST")
	fs.IntVar(&o.maxFlows, "max-flows", analyze.DefaultMaxFlows, "live flows kept at most per capture; beyond it the idlest end early (with a warning)")
	fs.BoolVar(&o.noDecap, "no-decap", false, "do not open tunnels (VXLAN, Geneve, GRE, IP-in-IP): count only their outer packets")
	fs.BoolVar(&o.noReassembly, "no-reassembly", false, "do not reassemble IP fragments: count them only")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress display on a terminal (warnings and errors are still shown)")
	fs.IntVar(&o.jobs, "jobs", defaultJobs(), "captures analyzed at once, each with its own flow table (and its own live flows in memory); the output is the same for any value; the default is half the CPUs")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `file` (go tool pprof)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile at the end of the run to `file`")
	o.xc.register(fs)
}

func (o *analyzeOptions) validate() error {
	for name, d := range map[string]time.Duration{"tcp-timeout": o.tcpTimeout, "udp-timeout": o.udpTimeout, "tcp-closed-timeout": o.tcpClosedTimeout} {
		if d <= 0 {
			return &usageError{fmt.Sprintf("--%s must be positive, got %v", name, d)}
		}
	}
	if o.jobs <= 0 {
		return &usageError{fmt.Sprintf("--jobs must be positive, got %d", o.jobs)}
	}
	if o.maxFlows <= 0 {
		return &usageError{fmt.Sprintf("--max-flows must be positive, got %d", o.maxFlows)}
	}
	if o.out == "" {
		return &usageError{"-o must name a directory"}
	}
	return o.xc.validate()
}

func (o *analyzeOptions) tableConfig() analyze.Config {
	return analyze.Config{
		TCPTimeoutNs:       int64(o.tcpTimeout),
		UDPTimeoutNs:       int64(o.udpTimeout),
		TCPClosedTimeoutNs: int64(o.tcpClosedTimeout),
		MaxFlows:           o.maxFlows,
		NoDecap:            o.noDecap,
		NoReassembly:       o.noReassembly,
		// The sink completes the records, beside the table (analyzeRun).
		DeferStrings: true,
	}
}

func (o *analyzeOptions) settings() map[string]string {
	return map[string]string{
		"tcp_timeout":        o.tcpTimeout.String(),
		"udp_timeout":        o.udpTimeout.String(),
		"tcp_closed_timeout": o.tcpClosedTimeout.String(),
		"max_flows":          strconv.Itoa(o.maxFlows),
		"decap":              strconv.FormatBool(!o.noDecap),
		"reassembly":         strconv.FormatBool(!o.noReassembly),
	}
}

const analyzeUsage = `Usage: flowproof analyze [flags] CAPTURE|DIR ...

Reads pcap and pcapng files (gzip-compressed or not; directories are walked),
rebuilds every TCP and UDP flow and writes OUT/flows.parquet, OUT/report.md
(with its SVG charts) and OUT/manifest.json, and appends to OUT/audit.jsonl.
With Kubeshark data (an evidence directory written by pull, or --l4-flows),
it also cross-checks the flows with Kubeshark's socket counters into
OUT/crosscheck.parquet and names pods (--workloads).
Memory follows the live flows (about 1 KB each): the Go heap is kept within
max(48 MiB, live x 1.25 + 4 MiB), which costs some time; GOGC or GOMEMLIMIT in
the environment turns that off (GOGC=100 trades memory for speed). --jobs
captures are analyzed at once, each holding its own live flows; the outputs
do not depend on --jobs.
Flags may come before or after the inputs.

Flags:
`

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o analyzeOptions
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, analyzeUsage)
		fs.PrintDefaults()
	}
	inputs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return &usageError{"no input: name at least one capture file or directory"}
	}
	if err := o.validate(); err != nil {
		return err
	}
	command := append([]string{"flowproof", "analyze"}, args...)
	return analyzeRun(ctx, o, inputs, command, stdout, stderr)
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// analyzeRun analyzes the inputs into o.out. It returns errPartial when some
// input was bad but outputs were written.
func analyzeRun(ctx context.Context, o analyzeOptions, inputs []string, command []string, stdout, stderr io.Writer) error {
	started := time.Now()
	// Expand each argument on its own, so that a missing one is reported
	// and the others are still analyzed.
	var files []string
	bad := 0
	var missing []string
	evidence := map[string]kubeshark.EvidenceCapture{} // captures of evidence directories
	for _, in := range inputs {
		f, err := expandInput(in, evidence)
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "flowproof analyze: %v (skipped)\n", err)
			missing = append(missing, err.Error())
			continue
		}
		files = append(files, f...)
	}
	if len(files) == 0 {
		return fmt.Errorf("find inputs: no capture files in %q: point flowproof at pcap or pcapng files or directories holding them", inputs)
	}
	xc, err := loadCrossCheck(o.xc, inputs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	if xc != nil {
		if err := xc.open(o.out); err != nil {
			return err
		}
		defer xc.close()
	}

	flowsPath := filepath.Join(o.out, "flows.parquet")
	tmp, err := os.CreateTemp(o.out, ".flows-*.parquet")
	if err != nil {
		return fmt.Errorf("create flows.parquet: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	fw, err := report.NewFlowWriter(tmp, report.FlowWriterOptions{Version: version()})
	if err != nil {
		tmp.Close()
		return fmt.Errorf("create flows.parquet: %w", err)
	}

	m := &report.Manifest{
		Tool:     provenance.Tool{Name: "flowproof", Version: version()},
		Command:  provenance.RedactArgs(command),
		Started:  provenance.Time{Time: started},
		Settings: o.settings(),
		Decode:   map[string]int64{},
		Warnings: missing,
	}
	defer startMemoryPolicy(readGCEnv(nil))()
	stopProfiles, err := startProfiles(o.cpuProfile, o.memProfile)
	if err != nil {
		tmp.Close()
		return err
	}
	defer func() { // the profiles cover the whole run, report included
		if err := stopProfiles(); err != nil {
			fmt.Fprintf(stderr, "flowproof analyze: %v\n", err)
		}
	}()
	sum := report.NewSummary(report.SummaryOptions{})
	if xc != nil {
		m.Warnings = append(m.Warnings, xc.warnings...)
		o.xc.settings(m.Settings)
	}
	var strs analyze.Completer
	sink := newOrderedSink(len(files), func(r *analyze.Record) error {
		r.Complete(&strs)
		if xc != nil {
			xc.observe(r) // identities; capture sums for the cross-check
			if xc.compare {
				return xc.spool(r) // written with its verdict on the second pass
			}
		}
		sum.Add(r)
		return fw.Write(r)
	})
	prog := newProgress(stderr, o.quiet)
	prog.run(len(files))
	results, ready := analyzeFiles(ctx, files, o.jobs, o.tableConfig(), sink, prog)
	canceled := false
	for i, path := range files {
		<-ready[i] // in input order, whatever order they finish in
		r := results[i]
		results[i] = fileResult{} // its table is no longer needed
		if r.canceled {
			canceled = true
			continue
		}
		in, tbl := r.in, r.tbl
		err := withEvidence(&in, evidence, path, r.err)
		if tbl != nil {
			for k, n := range tbl.KindCounts() {
				m.Decode[k] += n
			}
			if tbl.EvictedEarly > 0 {
				m.Warnings = append(m.Warnings, fmt.Sprintf("%s: the flow table reached --max-flows=%d: %d flows were ended early, before their idle timeout (raise --max-flows)", in.Name, o.maxFlows, tbl.EvictedEarly))
			}
			if tbl.BadTCPHeaders > 0 {
				m.Warnings = append(m.Warnings, fmt.Sprintf("%s: %d TCP packets have an impossible header length: counted in their flows, left out of the TCP analysis", in.Name, tbl.BadTCPHeaders))
			}
		}
		if err != nil {
			bad++
			prog.warn(stderr, "flowproof analyze: %v\n", err)
			m.Warnings = append(m.Warnings, err.Error())
		}
		m.Inputs = append(m.Inputs, in)
	}
	prog.stop()
	if canceled {
		sink.close()
		tmp.Close()
		return ctx.Err()
	}
	writeErr := sink.close()
	if writeErr != nil {
		tmp.Close()
		return fmt.Errorf("write flows.parquet: %w", writeErr)
	}
	if err := fw.Close(); err != nil {
		tmp.Close()
		return fmt.Errorf("write flows.parquet: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write flows.parquet: %w", err)
	}
	if err := os.Rename(tmp.Name(), flowsPath); err != nil {
		return fmt.Errorf("write flows.parquet: %w", err)
	}
	out, err := provenance.HashFile(flowsPath)
	if err != nil {
		return err
	}
	m.Outputs = []provenance.File{out}
	m.Flows = fw.Count()
	if xc != nil && xc.compare {
		outs, n, err := xc.finish(o.out, sum, m, o.xc.tolerances())
		if err != nil {
			return err
		}
		m.Outputs, m.Flows = outs, n
	}
	m.Finished = provenance.Time{Time: time.Now()}
	if err := writeOutputs(o.out, "analyze", sum, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "flowproof: %d flows from %d captures (%d packets) -> %s\n", m.Flows, len(files), totalPackets(m), o.out)
	// Exit 1 only when nothing at all was read; a capture read in part still
	// gave flows, so that is a partial result.
	unread := len(missing)
	for _, in := range m.Inputs {
		if in.Status == report.StatusFailed {
			unread++
		}
	}
	if unread == len(files)+len(missing) {
		return fmt.Errorf("no input could be read (see the errors above); the outputs in %s are empty", o.out)
	}
	if bad > 0 {
		return errPartial
	}
	return nil
}

func totalPackets(m *report.Manifest) int64 {
	var n int64
	for _, in := range m.Inputs {
		n += in.Packets
	}
	return n
}

// defaultJobs is half the CPUs Go uses, at least 1: one capture keeps about
// two cores busy (reading, hashing, the flow table, the writer), so more at
// once only adds their live flows to memory. On 2 cores two large captures
// at once took as long as one after the other (1.06 s against 1.05 s) and
// 70 MiB instead of 62 MiB; small captures gain more (the 1,323 corpus
// captures: 0.19 s against 0.21 s).
func defaultJobs() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// fileResult is what analyzing one capture gave, for the manifest.
type fileResult struct {
	in       report.Input
	tbl      *analyze.Table
	err      error
	canceled bool // never started: the run was canceled first
}

// analyzeFiles analyzes files, up to jobs at once (0: defaultJobs),
// each with its own flow table, and sends their flows to sink in input
// order. results[i] is set when ready[i] is closed.
func analyzeFiles(ctx context.Context, files []string, jobs int, cfg analyze.Config, sink *orderedSink, prog *progress) (results []fileResult, ready []chan struct{}) {
	results = make([]fileResult, len(files))
	ready = make([]chan struct{}, len(files))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	if jobs <= 0 {
		jobs = defaultJobs()
	}
	var next atomic.Int64
	for range min(jobs, len(files)) {
		go func() {
			bufs := newSinkBuffers()
			for i := int(next.Add(1) - 1); i < len(files); i = int(next.Add(1) - 1) {
				if ctx.Err() != nil {
					results[i].canceled = true
					sink.skip(i)
				} else {
					cs := sink.capture(i, bufs)
					r := &results[i]
					r.in, r.tbl, r.err = analyzeFile(files[i], i, cfg, cs.emit, prog)
					cs.end()
				}
				close(ready[i])
			}
		}()
	}
	return results, ready
}

// analyzeFile reads capture index (0-based) of the run into a fresh flow
// table whose flows go to emit, and describes the input for the manifest. A
// read error leaves the flows read before it emitted and comes back with a
// hint on what to do.
func analyzeFile(path string, index int, cfg analyze.Config, emit func(*analyze.Record), prog *progress) (report.Input, *analyze.Table, error) {
	in := report.Input{Path: path, Name: filepath.Base(path), Source: "file", Status: report.StatusOK}
	c, err := ingest.Open(path, ingest.Options{})
	if err != nil {
		in.Status = report.StatusFailed
		in.Error = err.Error()
		// Hash it anyway: the manifest proves what was offered, read or not.
		if out, herr := provenance.HashFile(path); herr == nil {
			in.Size, in.SHA256 = out.Size, out.SHA256
		}
		return in, nil, fmt.Errorf("%w (skipped: only pcap and pcapng captures, optionally gzip-compressed, can be analyzed)", err)
	}
	defer c.Close()
	tbl := analyze.NewTable(cfg, in.Name, index+1, emit)
	runErr := analyze.RunConcurrent(prog.start(index, in.Name, c), tbl)
	tbl.Flush()
	prog.finish(index)
	info, finErr := c.Finish()
	in.Size, in.SHA256, in.Format, in.Packets = info.Size, info.SHA256, info.Format, info.Packets
	for _, lt := range info.LinkTypes {
		in.LinkTypes = append(in.LinkTypes, report.LinkTypeCount{LinkType: uint32(lt.LinkType), Name: lt.Name, Packets: lt.Packets})
	}
	sort.Slice(in.LinkTypes, func(i, j int) bool { return in.LinkTypes[i].LinkType < in.LinkTypes[j].LinkType })
	if info.Packets > 0 {
		in.SetTimeRange(info.FirstNs, info.LastNs)
	}
	if runErr != nil {
		in.Status = report.StatusPartial
		in.Error = runErr.Error()
		var fe *ingest.FormatError
		if errors.As(runErr, &fe) {
			return in, tbl, fmt.Errorf("%w (packets read before it: %d, all analyzed and written; the rest of the file was skipped: re-export or re-transfer the capture to recover it)", runErr, info.Packets)
		}
		return in, tbl, runErr
	}
	if finErr != nil {
		in.Status = report.StatusPartial
		in.Error = finErr.Error()
		return in, tbl, fmt.Errorf("hash %s: %w", path, finErr)
	}
	return in, tbl, nil
}
