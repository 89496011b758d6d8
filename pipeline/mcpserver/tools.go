package mcpserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// maxInputs caps analyze's inputs.
const maxInputs = 256

func (s *Server) addTools() {
	outDir := mcp.WithString("output_dir", mcp.Required(), mcp.MaxLength(4096),
		mcp.Description("Output directory of an analysis (absolute, or relative to the server's first root); must lie inside a root."))
	section := mcp.WithString("section", mcp.MaxLength(200),
		mcp.Description(`Optional: return the Markdown of this report.md section instead, by its heading (e.g. "Handshake RTT", "Slowest handshakes", "Cross-check").`))
	s.mcp.AddTool(mcp.NewTool("analyze",
		mcp.WithDescription("Analyze local pcap/pcapng captures (files, directories of captures, or an evidence directory written by a Kubeshark pull) into output_dir: flows.parquet, report.md, manifest.json, audit.jsonl. "+
			"Returns counts, the report's findings and the cross-checks' verdict counts (crosscheck: flows per verdict; crosscheck_l7: groups of API calls per verdict, with L7 on); then use query_flows, findings, summary. Runs in the server; progress is reported; cancel to stop (nothing that looks complete is left)."),
		mcp.WithArray("inputs", mcp.Required(), mcp.MinItems(1), mcp.MaxItems(maxInputs), mcp.WithStringItems(mcp.MaxLength(4096)),
			mcp.Description("Capture files, directories or evidence directories, inside the server's roots.")),
		outDir,
	), s.handler("analyze", s.analyzeTool))
	s.mcp.AddTool(mcp.NewTool("pull_and_analyze",
		mcp.WithDescription("Pull a capture and Kubeshark's own flow records from the cluster the server is configured for (the connection is the server's, not an argument), into output_dir/evidence, then analyze it into output_dir, as `flowproof run` does. "+
			"Select workloads (namespace, pod regex, service, BPF) and a window (since, or from/to). Returns the evidence pulled, counts, findings and the cross-checks' verdict counts (L4, and L7 with L7 on)."),
		mcp.WithString("namespace", mcp.MaxLength(253), mcp.Description("Kubernetes namespace of the workloads.")),
		mcp.WithString("pod", mcp.MaxLength(1024), mcp.Description("RE2 pattern on pod names.")),
		mcp.WithString("service", mcp.MaxLength(253), mcp.Description("Service name (its ClusterIPs).")),
		mcp.WithString("bpf", mcp.MaxLength(4096), mcp.Description("BPF capture filter, ANDed with the selected workloads' hosts.")),
		mcp.WithString("since", mcp.MaxLength(32), mcp.Description(`The last DURATION ("30m", "2h", "1d"); default 15m.`)),
		mcp.WithString("from", mcp.MaxLength(64), mcp.Description("Window start: RFC 3339 time or Unix ms.")),
		mcp.WithString("to", mcp.MaxLength(64), mcp.Description("Window end: RFC 3339 time or Unix ms (default now).")),
		mcp.WithString("output_dir", mcp.Required(), mcp.MaxLength(4096),
			mcp.Description("New output directory inside a root; the evidence goes to output_dir/evidence, which must not exist yet.")),
	), s.handler("pull_and_analyze", s.pullTool))
	s.mcp.AddTool(mcp.NewTool("findings",
		mcp.WithDescription("The findings of an analysis (report.md's \"Findings\"): title, text and the flow ids each names (look them up with query_flows flow_id). With section, the Markdown of that report section instead."),
		outDir, section, mcp.WithReadOnlyHintAnnotation(true),
	), s.handler("findings", s.findingsTool))
	s.mcp.AddTool(mcp.NewTool("summary",
		mcp.WithDescription("What an analysis read and wrote, from manifest.json: inputs with status and SHA-256, flow and decode counts, warnings, outputs, and the cross-checks' verdict counts (crosscheck, crosscheck_l7). With section, the Markdown of that report section instead."),
		outDir, section, mcp.WithReadOnlyHintAnnotation(true),
	), s.handler("summary", s.summaryTool))
	s.mcp.AddTool(queryTool(), s.handler("query_flows", s.queryTool))
	s.mcp.AddTool(queryL7Tool(), s.handler("query_l7", s.queryL7Tool))
	s.mcp.AddTool(mcp.NewTool("verify",
		mcp.WithDescription("Re-hash an output (or evidence) directory against its manifest and hash-chained audit trail, as `flowproof verify` does. isError when anything changed; the problems name the file or audit line."),
		outDir, mcp.WithReadOnlyHintAnnotation(true),
	), s.handler("verify", s.verifyTool))
}

// analysisAnswer is what analyze and pull_and_analyze return.
type analysisAnswer struct {
	OutputDir  string         `json:"output_dir"`
	Evidence   *evidenceBrief `json:"evidence,omitempty"`
	Captures   int            `json:"captures"`
	Flows      int64          `json:"flows"`
	Packets    int64          `json:"packets"`
	BadInputs  int            `json:"bad_inputs"`
	Partial    bool           `json:"partial,omitempty"`
	Warnings   []string       `json:"warnings,omitempty"`
	Findings   []Finding      `json:"findings"`
	CrossCheck map[string]int `json:"crosscheck,omitempty"`
	// CrossCheckL7 counts crosscheck_l7.parquet's groups per verdict.
	CrossCheckL7 map[string]int `json:"crosscheck_l7,omitempty"`
	Resources    []string       `json:"resources"`
}

type evidenceBrief struct {
	Dir      string            `json:"dir"`
	Captures []evidenceCapture `json:"captures"`
	Answers  int               `json:"kubeshark_answers"`
	Warnings []string          `json:"warnings,omitempty"`
}

type evidenceCapture struct {
	File    string `json:"file"`
	Packets int64  `json:"packets"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

type analyzeArgs struct {
	Inputs    []string `json:"inputs"`
	OutputDir string   `json:"output_dir"`
}

func (s *Server) analyzeTool(c *call) (any, error) {
	var a analyzeArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	if len(a.Inputs) == 0 {
		return nil, errorf("inputs is empty: name at least one capture file or directory")
	}
	if len(a.Inputs) > maxInputs {
		return nil, errorf("%d inputs, at most %d: name their directory instead", len(a.Inputs), maxInputs)
	}
	var ins []string
	for _, in := range a.Inputs {
		real, err := s.roots.existing("input", in)
		if err != nil {
			return nil, err
		}
		if err := s.checkInput(in, real); err != nil {
			return nil, err
		}
		ins = append(ins, real)
	}
	out, err := s.roots.output("output_dir", a.OutputDir)
	if err != nil {
		return nil, err
	}
	if err := notEvidence(a.OutputDir, out); err != nil {
		return nil, err
	}
	for i, in := range ins {
		if st, err := os.Stat(in); err == nil && st.IsDir() && (roots{in}).within(out) {
			return nil, errorf("output_dir %q lies inside input %q: its files would be read as captures; choose an output_dir outside the inputs", a.OutputDir, a.Inputs[i])
		}
	}
	c.dir = out
	command := append([]string{"flowproof", "mcp", "analyze"}, a.Inputs...)
	return s.analyze(c, ins, out, append(command, "-o", a.OutputDir), nil)
}

// notEvidence refuses to write an analysis into an evidence directory: its
// manifest.json would be replaced and the pull's proof lost.
func notEvidence(arg, out string) error {
	if _, err := evidence.Open(out); err == nil || !errors.Is(err, evidence.ErrNotEvidence) {
		return errorf("output_dir %q is an evidence directory written by a pull: analyze it into another directory (give it as an input)", arg)
	}
	return nil
}

// checkInput opens an input as analyze will and refuses it when a capture
// or answer it stands for lies outside the roots (a symbolic link in a
// directory, an evidence manifest naming a file elsewhere).
func (s *Server) checkInput(arg, real string) error {
	in, err := pipeline.Open(real)
	if err != nil {
		return errorf("input %q: %v", arg, err)
	}
	paths := []string{in.L4Flows, in.Workloads}
	for _, c := range in.Captures {
		paths = append(paths, c.Path)
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue // analyze reports it as a bad input
		}
		if !s.roots.within(r) {
			return errorf("input %q: %s leads outside the server's roots (a symbolic link?): refused", arg, p)
		}
	}
	return nil
}

// analyze runs one analysis into out, one at a time per directory and at
// most MaxAnalyses at once, and builds the answer.
func (s *Server) analyze(c *call, inputs []string, out string, command []string, ev *evidenceBrief) (*analysisAnswer, error) {
	select {
	case s.analyses <- struct{}{}:
		defer func() { <-s.analyses }()
	case <-c.ctx.Done():
		return nil, c.ctx.Err()
	}
	lock := s.dirLock(out)
	lock.Lock()
	defer lock.Unlock()
	o := s.o.Analysis
	o.Out = out
	o.Command = command
	if o.Version == "" {
		o.Version = s.o.Version
	}
	n := s.notifier(c)
	o.Progress = &progress{n: n, inner: s.o.Analysis.Progress}
	res, err := pipeline.Analyze(c.ctx, inputs, o)
	partial := errors.Is(err, pipeline.ErrPartial)
	if err != nil && !partial {
		if c.ctx.Err() != nil {
			return nil, fmt.Errorf("the analysis was canceled: nothing was committed in %s", out)
		}
		return nil, err
	}
	a := &analysisAnswer{OutputDir: out, Evidence: ev, Captures: res.Captures, Flows: res.Flows, Packets: res.Packets,
		BadInputs: res.Bad, Partial: partial, Resources: resourceURIs(out)}
	a.Warnings = capStrings(res.Manifest.Warnings, 20)
	if a.Findings, err = readFindings(out); err != nil {
		return nil, err
	}
	if a.CrossCheck, err = crossCheckCounts(out); err != nil {
		return nil, err
	}
	if a.CrossCheckL7, err = crossCheckL7Counts(out); err != nil {
		return nil, err
	}
	s.announce(out)
	return a, nil
}

type pullArgs struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Service   string `json:"service"`
	BPF       string `json:"bpf"`
	Since     string `json:"since"`
	From      string `json:"from"`
	To        string `json:"to"`
	OutputDir string `json:"output_dir"`
}

func (s *Server) pullTool(c *call) (any, error) {
	var a pullArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	if s.o.Pull == nil {
		return nil, errorf("this server has no Kubeshark connection: start flowproof mcp with --mcp-command or --mcp-url (or KUBESHARK_MCP_COMMAND / KUBESHARK_MCP_URL); use analyze for local captures")
	}
	out, err := s.roots.output("output_dir", a.OutputDir)
	if err != nil {
		return nil, err
	}
	if err := notEvidence(a.OutputDir, out); err != nil {
		return nil, err
	}
	evDir := filepath.Join(out, "evidence")
	if entries, err := os.ReadDir(evDir); err == nil && len(entries) > 0 {
		return nil, errorf("%s already holds evidence: choose a new output_dir", evDir)
	}
	command := []string{"flowproof", "mcp", "pull_and_analyze"}
	for _, kv := range [][2]string{{"namespace", a.Namespace}, {"pod", a.Pod}, {"service", a.Service}, {"bpf", a.BPF},
		{"since", a.Since}, {"from", a.From}, {"to", a.To}, {"output_dir", a.OutputDir}} {
		if kv[1] != "" {
			command = append(command, "--"+kv[0], kv[1])
		}
	}
	req, err := s.o.Pull(PullParams{Dir: evDir, Namespace: a.Namespace, Pod: a.Pod, Service: a.Service, BPF: a.BPF,
		Since: a.Since, From: a.From, To: a.To, Command: command})
	if err != nil {
		return nil, errorf("%v", err)
	}
	req.Dir = evDir // whatever Pull said: the directory checked above
	n := s.notifier(c)
	req.Log = func(format string, args ...any) { n.add(1, "pull: "+fmt.Sprintf(format, args...), true) }
	ev, err := func() (*evidenceBrief, error) {
		select {
		case s.analyses <- struct{}{}:
			defer func() { <-s.analyses }()
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		}
		m, err := kubeshark.Pull(c.ctx, req)
		if err != nil && !errors.Is(err, kubeshark.ErrPartial) {
			return nil, errorf("pull: %v", err)
		}
		ev := &evidenceBrief{Dir: evDir}
		if err != nil {
			ev.Warnings = append(ev.Warnings, err.Error())
		}
		if m != nil {
			for _, cp := range m.Kubeshark.Captures {
				ev.Captures = append(ev.Captures, evidenceCapture{File: cp.File, Packets: cp.Packets, Size: cp.Size, SHA256: cp.SHA256})
			}
			ev.Answers = len(m.Kubeshark.Evidence)
			ev.Warnings = append(ev.Warnings, capStrings(m.Warnings, 20)...)
		}
		return ev, nil
	}()
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, fmt.Errorf("the pull was canceled: no capture in %s looks complete", evDir)
		}
		return nil, err
	}
	c.dir = out
	return s.analyze(c, []string{evDir}, out, command, ev)
}

type dirArgs struct {
	OutputDir string `json:"output_dir"`
	Section   string `json:"section"`
}

// outputDir resolves an existing output directory: it must hold a manifest.
func (s *Server) outputDir(c *call, p string) (string, error) {
	dir, err := s.roots.existing("output_dir", p)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", errorf("output_dir %q is not a directory", p)
	}
	if _, err := os.Stat(filepath.Join(dir, report.ManifestFile)); err != nil {
		return "", errorf("output_dir %q holds no %s: run analyze into it first", p, report.ManifestFile)
	}
	c.dir = dir
	return dir, nil
}

func (s *Server) findingsTool(c *call) (any, error) {
	return s.reportTool(c, func(dir string) (any, error) {
		f, err := readFindings(dir)
		if err != nil {
			return nil, err
		}
		return map[string]any{"output_dir": dir, "findings": f}, nil
	})
}

func (s *Server) summaryTool(c *call) (any, error) {
	return s.reportTool(c, func(dir string) (any, error) { return summarize(dir) })
}

// reportTool runs findings or summary: answer on an output directory, or
// the Markdown of the section asked for.
func (s *Server) reportTool(c *call, answer func(dir string) (any, error)) (any, error) {
	var a dirArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	dir, err := s.outputDir(c, a.OutputDir)
	if err != nil {
		return nil, err
	}
	if a.Section != "" {
		return reportSection(dir, a.Section)
	}
	return answer(dir)
}

func (s *Server) verifyTool(c *call) (any, error) {
	var a struct {
		OutputDir string `json:"output_dir"`
	}
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	dir, err := s.roots.existing("output_dir", a.OutputDir)
	if err != nil {
		return nil, err
	}
	c.dir = dir
	lock := s.dirLock(dir) // not while an analysis writes it
	lock.Lock()
	v, err := report.Verify(dir)
	lock.Unlock()
	if err != nil {
		return nil, errorf("%v", err)
	}
	if !v.OK() {
		return nil, errorf("verification failed, %d problems:\n%s", len(v.Problems), strings.Join(capStrings(v.Problems, 50), "\n"))
	}
	return map[string]any{"ok": true, "output_dir": dir, "files": v.Files, "audit_entries": v.Entries, "audit_head_sha256": v.Head}, nil
}

// capStrings keeps the first n, and says how many more there were.
func capStrings(ss []string, n int) []string {
	if len(ss) <= n {
		return ss
	}
	out := append([]string(nil), ss[:n]...)
	return append(out, fmt.Sprintf("... and %d more (see manifest.json)", len(ss)-n))
}
