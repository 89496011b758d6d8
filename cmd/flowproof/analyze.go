package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/pipeline"
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
	l7               bool // registerL7
	noDedup          bool
	dupSameTTL       bool
	floodMin         int64
	scanMinHosts     int
	scanMinPorts     int
	slowRequest      time.Duration
	dupWindow        time.Duration
	quiet            bool
	jobs             int
	cpuProfile       string
	memProfile       string
	xc               xcOptions
	shard            string          // --shard i/n as given
	shardSpec        *pipeline.Shard // resolved from --shard and the Job's environment (shard.go)
	s3               s3Options
}

func (o *analyzeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.out, "o", "flowproof-out", "output `directory` (created if missing), or s3://bucket/prefix (written locally, then uploaded)")
	fs.DurationVar(&o.tcpTimeout, "tcp-timeout", time.Duration(analyze.DefaultTCPTimeoutNs), "idle time that ends a TCP flow")
	fs.DurationVar(&o.udpTimeout, "udp-timeout", time.Duration(analyze.DefaultUDPTimeoutNs), "idle time that ends a UDP flow")
	fs.DurationVar(&o.tcpClosedTimeout, "tcp-closed-timeout", time.Duration(analyze.DefaultTCPClosedTimeoutNs), "idle time that ends a TCP flow after FIN from both sides or a RST")
	fs.IntVar(&o.maxFlows, "max-flows", analyze.DefaultMaxFlows, "live flows kept at most per capture; beyond it the idlest end early (with a warning)")
	fs.BoolVar(&o.noDecap, "no-decap", false, "do not open tunnels (VXLAN, Geneve, GRE, IP-in-IP): count only their outer packets")
	fs.BoolVar(&o.noReassembly, "no-reassembly", false, "do not reassemble IP fragments: count them only")
	fs.BoolVar(&o.noDedup, "no-dedup", false, "count every record of a packet: do not fold copies of one packet recorded at two vantage points (Kubeshark)")
	fs.BoolVar(&o.dupSameTTL, "dup-same-ttl", false, "also fold two records of one packet with the same TTL (pods bridged on one node, where no router lowers it); a retransmission within --dup-window is then folded too")
	fs.DurationVar(&o.dupWindow, "dup-window", time.Duration(analyze.DefaultDupWindowNs), "how far apart in capture time two records of one packet may be to be folded as vantage copies")
	fs.Int64Var(&o.floodMin, "flood-min", report.DefaultFloodMinHalfOpen, "half-open connections to one server (from at least 100 sources) that the report calls a SYN flood")
	fs.IntVar(&o.scanMinHosts, "scan-min-hosts", report.DefaultScanMinHosts, "distinct hosts one source must probe in vain (failed TCP handshakes, unanswered UDP) for the report to call it an address scan")
	fs.IntVar(&o.scanMinPorts, "scan-min-ports", report.DefaultScanMinPorts, "distinct ports one source must probe in vain for the report to call it a port scan")
	fs.DurationVar(&o.slowRequest, "slow-request", time.Duration(report.DefaultSlowRequestNs), "HTTP latency (time to first byte) from which the report flags a request slow")
	registerL7(fs, &o.l7, "flows only: no application layer (http.parquet, dns.parquet, the TLS columns of flows.parquet, the L7 cross-check); about 0.8x the time (README: Application layer)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress display on a terminal (warnings and errors are still shown)")
	fs.IntVar(&o.jobs, "jobs", pipeline.DefaultJobs(), "captures analyzed at once, each with its own flow table (and its own live flows in memory); the output is the same for any value; the default is half the CPUs")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `file` (go tool pprof)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile at the end of the run to `file`")
	fs.StringVar(&o.shard, "shard", "", "analyze only shard `i/n` (0-based) of the inputs into OUT's hive layout, for flowproof merge; default from JOB_COMPLETION_INDEX/JOB_COMPLETIONS (README: Sharded batch runs)")
	o.xc.register(fs)
	o.s3.register(fs, readAWSEnv(nil))
}

func (o *analyzeOptions) validate() error {
	for name, d := range map[string]time.Duration{"tcp-timeout": o.tcpTimeout, "udp-timeout": o.udpTimeout, "tcp-closed-timeout": o.tcpClosedTimeout, "dup-window": o.dupWindow} {
		if d <= 0 {
			return &usageError{fmt.Sprintf("--%s must be positive, got %v", name, d)}
		}
	}
	if o.slowRequest <= 0 {
		return &usageError{fmt.Sprintf("--slow-request must be positive, got %v", o.slowRequest)}
	}
	if o.xc.apiCalls != "" && !o.l7 {
		return &usageError{"--api-calls: the L7 cross-check compares Kubeshark's API calls with http.parquet, which --no-l7 turns off: drop --no-l7"}
	}
	if o.jobs <= 0 {
		return &usageError{fmt.Sprintf("--jobs must be positive, got %d", o.jobs)}
	}
	if o.maxFlows <= 0 {
		return &usageError{fmt.Sprintf("--max-flows must be positive, got %d", o.maxFlows)}
	}
	for name, n := range map[string]int64{"flood-min": o.floodMin, "scan-min-hosts": int64(o.scanMinHosts), "scan-min-ports": int64(o.scanMinPorts)} {
		if n <= 0 {
			return &usageError{fmt.Sprintf("--%s must be positive, got %d", name, n)}
		}
	}
	if o.out == "" {
		return &usageError{"-o must name a directory"}
	}
	if objstore.IsURL(o.out) {
		if _, err := objstore.ParseURL(o.out); err != nil {
			return &usageError{"-o: " + err.Error()}
		}
	}
	if err := o.s3.validate(); err != nil {
		return err
	}
	return o.xc.validate()
}

// options builds the pipeline's options from the flags.
func (o *analyzeOptions) options(command []string, stderr io.Writer) pipeline.Options {
	return pipeline.Options{
		Out: o.out,
		Table: analyze.Config{
			TCPTimeoutNs:       int64(o.tcpTimeout),
			UDPTimeoutNs:       int64(o.udpTimeout),
			TCPClosedTimeoutNs: int64(o.tcpClosedTimeout),
			MaxFlows:           o.maxFlows,
			NoDecap:            o.noDecap,
			NoReassembly:       o.noReassembly,
			NoDedup:            o.noDedup,
			DupSameTTL:         o.dupSameTTL,
			DupWindowNs:        int64(o.dupWindow),
		},
		Jobs:             o.jobs,
		L7:               o.l7,
		FloodMinHalfOpen: o.floodMin,
		ScanMinHosts:     o.scanMinHosts,
		ScanMinPorts:     o.scanMinPorts,
		SlowRequestNs:    int64(o.slowRequest),
		Tolerances:       o.xc.tolerances(),
		L7Tolerances:     o.xc.l7Tolerances(),
		APICalls:         o.xc.apiCalls,
		L4Flows:          o.xc.l4Flows,
		Workloads:        o.xc.workloads,
		S3:               o.s3.config(readAWSEnv(nil)),
		Version:          version(),
		Command:          command,
		Progress:         newProgress(stderr, o.quiet),
	}
}

const analyzeUsage = `Usage: flowproof analyze [flags] CAPTURE|DIR|s3://BUCKET/KEY ...

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
Inputs and -o may be in S3-compatible object storage (s3://bucket/key, or
s3://bucket/prefix/ for every object under it): captures are streamed, never
staged; outputs are written to a temporary directory, then uploaded, each
visible only when complete. Credentials come from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (AWS_REGION, AWS_PROFILE and the AWS files too).
Flags may come before or after the inputs.

Flags:
`

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runAnalyzeEnv(ctx, args, stdout, stderr, nil)
}

// runAnalyzeEnv is runAnalyze with the environment read through getenv
// (os.Getenv when nil).
func runAnalyzeEnv(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
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
	if o.shardSpec, err = resolveShard(o.shard, readJobEnv(getenv)); err != nil {
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

// registerL7 registers --l7 and --no-l7 on fs, both setting *on, which
// starts true: the application layer is the default, and --l7 (which
// turned it on before) still parses. The last of the two given wins.
func registerL7(fs *flag.FlagSet, on *bool, noUsage string) {
	fs.BoolVar(on, "l7", true, "the application layer (the default; kept so that command lines from before it was one still run)")
	fs.BoolFunc("no-l7", noUsage, func(s string) error {
		off, err := strconv.ParseBool(s)
		if err == nil {
			*on = !off
		}
		return err
	})
}

// memoryPlan is the memory policy's plan for the run.
func (o analyzeOptions) memoryPlan() memoryPlan {
	if o.l7 {
		return l7Memory
	}
	return plainMemory
}

// analyzeRun analyzes the inputs into o.out with the process's memory
// policy and profiles, and prints what it wrote. It returns errPartial when
// some input was bad but outputs were written.
func analyzeRun(ctx context.Context, o analyzeOptions, inputs []string, command []string, stdout, stderr io.Writer) error {
	defer startMemoryPolicy(readGCEnv(nil), o.memoryPlan())()
	stopProfiles, err := startProfiles(o.cpuProfile, o.memProfile)
	if err != nil {
		return err
	}
	defer func() { // the profiles cover the whole run, report included
		if err := stopProfiles(); err != nil {
			fmt.Fprintf(stderr, "flowproof analyze: %v\n", err)
		}
	}()
	if o.shardSpec != nil {
		return analyzeShard(ctx, o, inputs, command, stdout, stderr)
	}
	res, err := pipeline.Analyze(ctx, inputs, o.options(command, stderr))
	if res != nil {
		fmt.Fprintf(stdout, "flowproof: %d flows from %d captures (%d packets) -> %s\n", res.Flows, res.Captures, res.Packets, res.Dir)
	}
	if errors.Is(err, pipeline.ErrPartial) {
		return errPartial
	}
	return err
}

// xcOptions are the cross-check's settings.
type xcOptions struct {
	l4Flows     string
	workloads   string
	bytesPct    float64
	bytesSlack  int64
	rttPct      float64
	rttSlack    time.Duration
	windowSlack time.Duration
	maxPcapOnly int
	apiCalls    string
	l7Count     int64
	l7LatPct    float64
	l7LatSlack  time.Duration
}

func (o *xcOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.l4Flows, "l4-flows", "", "Kubeshark list_l4_flows answer saved in `file` (JSON) to cross-check with; evidence directories bring their own")
	fs.StringVar(&o.workloads, "workloads", "", "Kubeshark list_workloads or list_ips answer saved in `file` (JSON), for Kubernetes identities")
	fs.Float64Var(&o.bytesPct, "xc-bytes-tolerance", crosscheck.DefaultBytesRel*100, "cross-check: bytes agree within this `percent` of the larger value (or --xc-bytes-slack)")
	fs.Int64Var(&o.bytesSlack, "xc-bytes-slack", crosscheck.DefaultBytesAbs, "cross-check: bytes agree within this many `bytes` whatever the percentage")
	fs.Float64Var(&o.rttPct, "xc-rtt-tolerance", crosscheck.DefaultRTTRel*100, "cross-check: handshake RTT medians agree within this `percent` (or --xc-rtt-slack)")
	fs.DurationVar(&o.rttSlack, "xc-rtt-slack", time.Duration(crosscheck.DefaultRTTAbsNs), "cross-check: handshake RTT medians agree within this `duration` whatever the percentage")
	fs.DurationVar(&o.windowSlack, "xc-window-slack", time.Duration(crosscheck.DefaultWindowSlackNs), "cross-check: a Kubeshark record dated more than this outside the capture's time range is outside_window")
	fs.StringVar(&o.apiCalls, "api-calls", "", "Kubeshark list_api_calls answer saved in `file` (JSON) to cross-check http.parquet with (not with --no-l7); evidence directories bring their own")
	fs.Int64Var(&o.l7Count, "xc-l7-count-slack", 0, "L7 cross-check: call counts of a group agree within this many `calls`")
	fs.Float64Var(&o.l7LatPct, "xc-l7-latency-tolerance", crosscheck.DefaultLatencyRel*100, "L7 cross-check: latency medians agree within this `percent` (or --xc-l7-latency-slack)")
	fs.DurationVar(&o.l7LatSlack, "xc-l7-latency-slack", time.Duration(crosscheck.DefaultLatencyAbsNs), "L7 cross-check: latency medians agree within this `duration` whatever the percentage")
	fs.IntVar(&o.maxPcapOnly, "xc-max-pcap-only", crosscheck.DefaultMaxPcapOnly, "cross-check: pcap_only aggregates kept in crosscheck.parquet at most")
}

func (o *xcOptions) validate() error {
	switch {
	case o.bytesPct < 0 || o.rttPct < 0:
		return &usageError{"--xc-bytes-tolerance and --xc-rtt-tolerance must not be negative"}
	case o.bytesSlack < 0 || o.rttSlack < 0 || o.windowSlack < 0:
		return &usageError{"--xc-bytes-slack, --xc-rtt-slack and --xc-window-slack must not be negative"}
	case o.l7Count < 0 || o.l7LatPct < 0 || o.l7LatSlack < 0:
		return &usageError{"--xc-l7-count-slack, --xc-l7-latency-tolerance and --xc-l7-latency-slack must not be negative"}
	case o.maxPcapOnly < 0:
		return &usageError{"--xc-max-pcap-only must not be negative"}
	}
	return nil
}

func (o *xcOptions) tolerances() crosscheck.Tolerances {
	return crosscheck.Tolerances{BytesRel: o.bytesPct / 100, BytesAbs: o.bytesSlack, RTTRel: o.rttPct / 100, RTTAbsNs: int64(o.rttSlack),
		WindowSlackNs: int64(o.windowSlack), MaxPcapOnly: o.maxPcapOnly}
}

func (o *xcOptions) l7Tolerances() crosscheck.L7Tolerances {
	t := crosscheck.DefaultL7Tolerances()
	t.CountAbs, t.LatencyRel, t.LatencyAbsNs, t.WindowSlackNs = o.l7Count, o.l7LatPct/100, int64(o.l7LatSlack), int64(o.windowSlack)
	return t
}
