package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/objstore"
)

// pullOptions are the flags of pull (and of run, without -o).
type pullOptions struct {
	out string

	mcpURL, mcpCommand, hubURL, token string

	since, from, to        string
	ns, pod, svc, bpf, kfl string
	nodes                  string
	snapshotID, dialect    string

	timeout, snapshotTimeout, downloadTimeout, pollInterval time.Duration
	headerTimeout, idleTimeout                              time.Duration
	trustOrigins                                            stringList
	maxResponse, maxCapture, maxAPICallBytes                byteSize
	maxAPICallPages                                         int
	quiet, groupReadable, perNode                           bool

	set map[string]bool // the flags given on the command line
}

func (o *pullOptions) register(fs *flag.FlagSet, withOut bool) {
	if withOut {
		fs.StringVar(&o.out, "o", "flowproof-evidence", "evidence `directory` to create (must not hold a manifest.json yet)")
	}
	fs.StringVar(&o.mcpURL, "mcp-url", "", "MCP server over streamable HTTP (env "+envMCPURL+")")
	fs.StringVar(&o.mcpCommand, "mcp-command", "", "MCP server to spawn and speak stdio to, e.g. \"kubeshark mcp --url http://127.0.0.1:8899\" (env "+envMCPCommand+")")
	fs.StringVar(&o.hubURL, "hub-url", "", "Kubeshark front URL: relative paths from tools are fetched from URL/api/PATH (env "+envHubURL+")")
	fs.StringVar(&o.token, "token", "", "Hub token, sent as X-Kubeshark-Authorization; prefer env "+envHubToken+" (a flag shows in ps)")
	fs.StringVar(&o.since, "since", "", "pull the last `DURATION` (30m, 2h, 1d); default 15m")
	fs.StringVar(&o.from, "from", "", "window start: RFC 3339 time or Unix ms")
	fs.StringVar(&o.to, "to", "", "window end: RFC 3339 time or Unix ms (default now)")
	fs.StringVar(&o.ns, "ns", "", "namespace of the workloads to select")
	fs.StringVar(&o.pod, "pod", "", "pods whose name matches this RE2 `pattern` (list_workloads' name_regex)")
	fs.StringVar(&o.svc, "svc", "", "service `name` (its ClusterIPs)")
	fs.StringVar(&o.bpf, "bpf", "", "BPF capture `filter`, ANDed with the selected workloads' hosts")
	fs.StringVar(&o.kfl, "kfl", "", "KFL2 `filter`, passed to tools that take one")
	fs.StringVar(&o.nodes, "nodes", "", "comma-separated `nodes` whose captures to merge (default all)")
	fs.BoolVar(&o.perNode, "per-node", false, "export the snapshot one node at a time (captures/NODE-snapshot-ID.pcap, the node in the manifest); analyze merges them by time")
	fs.StringVar(&o.snapshotID, "snapshot-id", "", "reuse this Kubeshark snapshot instead of creating one")
	fs.StringVar(&o.dialect, "dialect", kubeshark.DialectAuto, "capture route: auto (chosen from tools/list), snapshot or export_pcap")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "bound on each MCP call")
	fs.DurationVar(&o.snapshotTimeout, "snapshot-timeout", kubeshark.DefaultSnapshotTimeout, "how long to wait for the snapshot to complete")
	fs.DurationVar(&o.downloadTimeout, "download-timeout", kubeshark.DefaultDownloadTimeout, "bound on the whole capture download")
	fs.DurationVar(&o.headerTimeout, "header-timeout", kubeshark.DefaultHeaderTimeout, "bound on the wait for a download's response headers")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", kubeshark.DefaultIdleTimeout, "a download that receives less than 16 KiB in this `duration` is ended (a stalled or dripping server)")
	fs.Var(&o.trustOrigins, "trust-origin", "an `origin` (scheme://host:port) besides the Hub's that captures may be downloaded from, token included (repeatable)")
	fs.DurationVar(&o.pollInterval, "poll", kubeshark.DefaultPollInterval, "interval between get_snapshot calls")
	o.maxResponse = 64 << 20
	o.maxCapture = byteSize(kubeshark.DefaultMaxCaptureBytes)
	fs.Var(&o.maxResponse, "max-response", "cap on each MCP message (bytes, or with KiB/MiB/GiB)")
	fs.Var(&o.maxCapture, "max-capture", "cap on the capture download (bytes, or with KiB/MiB/GiB)")
	o.maxAPICallBytes = byteSize(kubeshark.DefaultMaxAPICallBytes)
	fs.Var(&o.maxAPICallBytes, "max-api-calls", "cap on the list_api_calls pages saved, in all (bytes, or with KiB/MiB/GiB); beyond it the pull is partial")
	fs.IntVar(&o.maxAPICallPages, "max-api-call-pages", kubeshark.DefaultMaxAPICallPages, "cap on the list_api_calls pages asked for (each up to 1,000 calls; a full page's window is halved and asked again); beyond it the pull is partial")
	fs.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
	fs.BoolVar(&o.groupReadable, "group-readable", false, "make the evidence readable by the directory's group (0750/0640) instead of the owner alone (0700/0600)")
}

// noteSet records which flags were given.
func (o *pullOptions) noteSet(fs *flag.FlagSet) {
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
}

// request builds the pull request: flags override the environment; the MCP
// server is taken from the flags when either --mcp-url or --mcp-command is
// given, else from the environment.
func (o *pullOptions) request(env kubesharkEnv, dir string, command []string, stderr io.Writer) (kubeshark.Request, error) {
	var req kubeshark.Request
	mcpURL, mcpCommand := env.MCPURL, env.MCPCommand
	source := "the environment (" + envMCPURL + ", " + envMCPCommand + ")"
	if o.set["mcp-url"] || o.set["mcp-command"] {
		mcpURL, mcpCommand = o.mcpURL, o.mcpCommand
		source = "the flags"
	}
	switch {
	case mcpURL != "" && mcpCommand != "":
		return req, &usageError{"both an MCP URL and an MCP command come from " + source + ": give one"}
	case mcpURL == "" && mcpCommand == "":
		return req, &usageError{"no Kubeshark MCP server: give --mcp-command \"kubeshark mcp --url http://127.0.0.1:8899\" (the real Kubeshark serves MCP over stdio) or --mcp-url URL, or set " + envMCPCommand + " or " + envMCPURL}
	}
	ep := kubeshark.Endpoint{URL: mcpURL}
	if mcpCommand != "" {
		argv, err := kubeshark.SplitCommand(mcpCommand)
		if err != nil || len(argv) == 0 {
			return req, &usageError{fmt.Sprintf("--mcp-command: %v", errOr(err, "empty command"))}
		}
		ep = kubeshark.Endpoint{Command: argv}
	}
	ep.Token = env.Token
	if o.set["token"] {
		fmt.Fprintf(stderr, "flowproof: warning: --token is visible to every user of this machine (ps) and in shell history; set %s instead\n", envHubToken)
		ep.Token = o.token
	}
	hubURL := env.HubURL
	if o.set["hub-url"] {
		hubURL = o.hubURL
	}
	w, err := kubeshark.ParseWindow(o.since, o.from, o.to, time.Now())
	if err != nil {
		return req, &usageError{err.Error()}
	}
	windowText := ""
	switch {
	case o.since != "":
		windowText = "--since " + o.since
	case o.from != "":
		windowText = "--from/--to"
	}
	sel := kubeshark.Selection{NS: o.ns, Pod: o.pod, Svc: o.svc, BPF: o.bpf, KFL: o.kfl}
	for _, n := range strings.Split(o.nodes, ",") {
		if n = strings.TrimSpace(n); n != "" {
			sel.Nodes = append(sel.Nodes, n)
		}
	}
	if err := sel.Validate(); err != nil {
		return req, &usageError{err.Error()}
	}
	if o.perNode && o.dialect == kubeshark.DialectExportPcap {
		return req, &usageError{"--per-node needs the snapshot route, not --dialect export_pcap"}
	}
	if o.snapshotID != "" && o.dialect == kubeshark.DialectExportPcap {
		return req, &usageError{"--snapshot-id needs the snapshot route, not --dialect export_pcap"}
	}
	switch o.dialect {
	case kubeshark.DialectAuto, kubeshark.DialectSnapshot, kubeshark.DialectExportPcap:
	default:
		return req, &usageError{fmt.Sprintf("--dialect %q: use auto, snapshot or export_pcap", o.dialect)}
	}
	for name, d := range map[string]time.Duration{"timeout": o.timeout, "snapshot-timeout": o.snapshotTimeout, "poll": o.pollInterval} {
		if d <= 0 {
			return req, &usageError{fmt.Sprintf("--%s must be positive, got %v", name, d)}
		}
	}
	for name, d := range map[string]time.Duration{"download-timeout": o.downloadTimeout, "header-timeout": o.headerTimeout, "idle-timeout": o.idleTimeout} {
		if d <= 0 {
			return req, &usageError{fmt.Sprintf("--%s must be positive, got %v", name, d)}
		}
	}
	if o.maxAPICallPages <= 0 {
		return req, &usageError{fmt.Sprintf("--max-api-call-pages must be positive, got %d", o.maxAPICallPages)}
	}
	if dir == "" {
		return req, &usageError{"-o must name a directory"}
	}
	req = kubeshark.Request{
		Endpoint:        ep,
		HubURL:          hubURL,
		Window:          w,
		WindowText:      windowText,
		Selection:       sel,
		SnapshotID:      o.snapshotID,
		PerNode:         o.perNode,
		Dialect:         o.dialect,
		Dir:             dir,
		GroupReadable:   o.groupReadable,
		Session:         kubeshark.SessionOptions{CallTimeout: o.timeout, MaxResponseBytes: int64(o.maxResponse)},
		SnapshotTimeout: o.snapshotTimeout,
		PollInterval:    o.pollInterval,
		DownloadTimeout: o.downloadTimeout,
		HeaderTimeout:   o.headerTimeout,
		IdleTimeout:     o.idleTimeout,
		TrustOrigins:    o.trustOrigins,
		MaxCaptureBytes: int64(o.maxCapture),
		MaxAPICallPages: o.maxAPICallPages,
		MaxAPICallBytes: int64(o.maxAPICallBytes),
		Command:         command,
		ToolName:        "flowproof",
		ToolVersion:     version(),
	}
	if !o.quiet {
		req.Log = func(format string, args ...any) {
			fmt.Fprintf(stderr, "flowproof pull: "+format+"\n", args...)
		}
	}
	return req, nil
}

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

const pullUsage = `Usage: flowproof pull [flags]

Pulls a capture and Kubeshark's own flow records out of a cluster through
Kubeshark's MCP server into an evidence directory:

  EVIDENCE/captures/      the capture (NAME.part while it downloads)
  EVIDENCE/kubeshark/     tool answers, byte-exact (list_l4_flows, get_l4_flow_summary, list_workloads, ...)
  EVIDENCE/manifest.json  provenance: server, tool calls and arguments, times, sizes, SHA-256

The route is chosen from the server's tools/list: create_snapshot -> get_snapshot
-> export_snapshot_pcap (the real Kubeshark), or a single export_pcap tool.
"flowproof analyze EVIDENCE" analyzes it.

Flags (flags override the KUBESHARK_* environment variables):
`

func runPull(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o pullOptions
	o.register(fs, true)
	fs.Usage = func() {
		fmt.Fprint(stderr, pullUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &usageError{fmt.Sprintf("pull takes no arguments, got %q (did you mean -o?)", rest)}
	}
	if objstore.IsURL(o.out) {
		return &usageError{"pull writes an evidence directory on local disk: -o must be a directory (analyze it with -o s3://... to store the analysis)"}
	}
	o.noteSet(fs)
	command := append([]string{"flowproof", "pull"}, args...)
	req, err := o.request(readKubesharkEnv(nil), o.out, command, stderr)
	if err != nil {
		return err
	}
	_, err = doPull(ctx, req, stdout)
	return err
}

// doPull runs the pull and prints its summary; it maps the pull's errors to
// the exit codes.
func doPull(ctx context.Context, req kubeshark.Request, stdout io.Writer) (*evidence.Manifest, error) {
	m, err := kubeshark.Pull(ctx, req)
	if m != nil {
		for _, c := range m.Kubeshark.Captures {
			fmt.Fprintf(stdout, "flowproof pull: %s (%d packets, %d bytes, sha256 %s) and %d Kubeshark answers -> %s\n",
				c.File, c.Packets, c.Size, c.SHA256, len(m.Kubeshark.Evidence), req.Dir)
		}
	}
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, kubeshark.ErrPartial):
		return m, fmt.Errorf("%w: %v", errPartial, err)
	case kubeshark.KindOf(err) == kubeshark.KindUsage:
		return nil, &usageError{err.Error()}
	}
	return nil, err
}

// stringList is a repeatable flag; a value may also list several, comma
// separated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// byteSize is a flag value in bytes, with an optional KiB/MiB/GiB (or
// K/M/G) suffix.
type byteSize int64

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a positive size such as 64MiB, got %q", s)
	}
	*b = byteSize(n * mult)
	return nil
}
