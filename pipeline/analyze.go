package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/analyze/l7"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/internal/prefetch"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// Options are the settings of one analysis. The zero value, with Out set,
// analyzes with the documented defaults.
type Options struct {
	Out   string         // output directory, created if missing, or an s3://bucket/prefix
	Table analyze.Config // flow table: timeouts, --max-flows, decapsulation, reassembly
	// Jobs is how many captures are analyzed at once, each with its own flow
	// table; 0 is DefaultJobs. The outputs do not depend on it.
	Jobs int
	// Tolerances of the cross-check; the zero value is
	// crosscheck.DefaultTolerances.
	Tolerances crosscheck.Tolerances
	// L4Flows and Workloads name saved Kubeshark answers to cross-check with
	// and name pods from; when set they replace the evidence directories'.
	L4Flows, Workloads string
	// APICalls names a saved list_api_calls answer to cross-check
	// http.parquet with (it needs L7); when set it replaces the evidence
	// directories' pages. L7Tolerances are that cross-check's; the zero
	// value is crosscheck.DefaultL7Tolerances.
	APICalls     string
	L7Tolerances crosscheck.L7Tolerances

	// FloodMinHalfOpen is how many half-open connections to one server (from
	// at least 100 sources) the report calls a SYN flood; 0 is
	// report.DefaultFloodMinHalfOpen.
	FloodMinHalfOpen int64
	// ScanMinHosts and ScanMinPorts are how many distinct hosts or ports
	// one source must probe in vain for the report to call it a scan; 0 is
	// report.DefaultScanMinHosts and report.DefaultScanMinPorts.
	ScanMinHosts, ScanMinPorts int
	// SlowRequestNs is the HTTP latency from which the report flags a
	// request slow; 0 is report.DefaultSlowRequestNs.
	SlowRequestNs int64

	// L7 turns the application layer on: http.parquet, dns.parquet and the
	// TLS columns of flows.parquet (package analyze/l7). The command line
	// sets it unless --no-l7; a zero Options leaves it off, as before it
	// was the command line's default (README: Application layer).
	L7 bool

	// S3 is the object storage of s3:// inputs and outputs (pipeline:
	// objstore.go): endpoint, credentials, part size and concurrency of
	// the uploads.
	S3     objstore.Config
	stores *stores // the client, shared by the inputs and the output
	// opened are arguments opened already (a shard's s3:// captures, as
	// listed when the shards were cut), used instead of opening them again.
	opened map[string]Input

	Version  string   // flowproof's version, for the manifest and the files
	Command  []string // the command line, for the manifest (redacted there)
	Progress Progress // nil: none
}

// Result is what a run wrote and found.
type Result struct {
	Dir      string
	Manifest *report.Manifest // as written; Outputs lists every file
	Captures int              // captures found in the inputs
	Flows    int64            // rows in flows.parquet
	Packets  int64
	Bad      int // inputs or captures that could not be read completely
}

// ErrPartial marks a run that wrote its outputs but skipped bad input; the
// Result is complete for what was read.
var ErrPartial = errors.New("partial result: some input was bad (see the errors above and manifest.json)")

// DefaultJobs is half the CPUs Go uses, at least 1: one capture keeps about
// two cores busy (reading and hashing, the flow table, the writer), so more
// at once only adds their live flows to memory (README: Performance).
func DefaultJobs() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// Settings returns the analysis settings as the manifest records them.
func (o Options) Settings() map[string]string {
	c := o.Table.WithDefaults()
	return map[string]string{
		"tcp_timeout":        time.Duration(c.TCPTimeoutNs).String(),
		"udp_timeout":        time.Duration(c.UDPTimeoutNs).String(),
		"tcp_closed_timeout": time.Duration(c.TCPClosedTimeoutNs).String(),
		"max_flows":          strconv.Itoa(c.MaxFlows),
		"decap":              strconv.FormatBool(!c.NoDecap),
		"reassembly":         strconv.FormatBool(!c.NoReassembly),
		"dedup":              strconv.FormatBool(!c.NoDedup),
		"dup_same_ttl":       strconv.FormatBool(c.DupSameTTL),
		"dup_window":         time.Duration(c.DupWindowNs).String(),
	}
}

// Analyze reads the inputs (capture files, directories, evidence
// directories; see Open) into o.Out: flows.parquet, crosscheck.parquet when
// Kubeshark answers are present, report.md and its charts, manifest.json,
// and an entry appended to audit.jsonl. It returns ErrPartial, with the
// Result, when some input was bad but the outputs were written, and an error
// without outputs when nothing could be read.
func Analyze(ctx context.Context, args []string, o Options) (*Result, error) {
	started := time.Now()
	if o.Out == "" {
		return nil, errors.New("no output directory")
	}
	if objstore.IsURL(o.Out) {
		return analyzeToStore(ctx, args, o)
	}
	st := o.stores
	if st == nil {
		st = &stores{cfg: o.S3}
	}
	if o.Tolerances == (crosscheck.Tolerances{}) {
		o.Tolerances = crosscheck.DefaultTolerances()
	}
	prog := o.Progress
	if prog == nil {
		prog = noProgress{}
	}
	// Open each argument on its own, so that a missing one is reported and
	// the others are still analyzed.
	var inputs []Input
	var captures []Capture
	var missing []string
	for _, arg := range args {
		in, ok := o.opened[arg]
		var err error
		if !ok {
			in, err = openArg(ctx, arg, st)
		}
		if err != nil {
			prog.Warn(fmt.Sprintf("%v (skipped)", err))
			missing = append(missing, err.Error())
			continue
		}
		inputs = append(inputs, in)
		captures = append(captures, in.Captures...)
	}
	if len(captures) == 0 {
		return nil, fmt.Errorf("find inputs: no capture files in %q: point flowproof at pcap or pcapng files or directories holding them", args)
	}
	xc, err := loadCrossCheck(o, inputs)
	if err != nil {
		return nil, err
	}
	if o.L7Tolerances == (crosscheck.L7Tolerances{}) {
		o.L7Tolerances = crosscheck.DefaultL7Tolerances()
	}
	xcL7, xcL7Warnings, err := loadAPICalls(o, inputs, xc)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	flowsTmp, err := provenance.CreateTemp(o.Out, "flows.parquet", 0o644)
	if err != nil {
		return nil, fmt.Errorf("create flows.parquet: %w", err)
	}
	defer flowsTmp.Abort() // no-op after the commit
	fw, err := report.NewFlowWriter(flowsTmp, report.FlowWriterOptions{Version: o.Version})
	if err != nil {
		return nil, fmt.Errorf("create flows.parquet: %w", err)
	}
	m := &report.Manifest{
		Tool:     provenance.Tool{Name: "flowproof", Version: o.Version},
		Command:  provenance.RedactArgs(o.Command),
		Started:  provenance.Time{Time: started},
		Settings: o.Settings(),
		Decode:   map[string]int64{},
		Warnings: append(missing, xcL7Warnings...),
	}
	sum := report.NewSummary(report.SummaryOptions{FloodMinHalfOpen: o.FloodMinHalfOpen, ScanMinHosts: o.ScanMinHosts, ScanMinPorts: o.ScanMinPorts, SlowRequestNs: o.SlowRequestNs})
	if xc != nil {
		m.Warnings = append(m.Warnings, xc.warnings...)
		xcSettings(o, m.Settings)
	}
	var strs analyze.Completer
	writers := sinkWriters{flows: func(b []analyze.Record) error {
		if xc != nil {
			for i := range b {
				r := &b[i]
				r.Complete(&strs)
				if err := xc.add(r, fw, sum); err != nil {
					return err
				}
			}
			return nil
		}
		// The table built these records on another core: their lines are
		// loaded two records ahead, so that the misses overlap Complete.
		for i := range min(2, len(b)) {
			prefetch.Write(unsafe.Pointer(&b[i]), unsafe.Sizeof(b[i]))
		}
		for i := range b {
			if i+2 < len(b) {
				prefetch.Write(unsafe.Pointer(&b[i+2]), unsafe.Sizeof(b[i]))
			}
			b[i].Complete(&strs)
		}
		sum.AddBatch(b)
		// The sink's batch as it is: the writer reads the records in place
		// instead of copying each (README: Speed and memory).
		return fw.WriteBatch(b)
	}}
	var l7out *l7Outputs
	if o.L7 {
		if l7out, err = createL7Outputs(o.Out, o.Version, xc, xcL7); err != nil {
			return nil, err
		}
		defer l7out.abort() // no-op after the commit
		l7out.sum = sum.L7()
		writers.http, writers.dns = l7out.http, l7out.dns
	}
	units := groupCaptures(captures)
	sink := newOrderedSink(len(units), writers)
	prog.Run(len(captures))
	cfg := o.Table
	cfg.DeferStrings = true // the sink completes the records, beside the table
	results, ready := analyzeUnits(ctx, captures, units, o.Jobs, cfg, o.L7, sink, prog)
	res := &Result{Dir: o.Out, Manifest: m, Captures: len(captures), Bad: len(missing)}
	canceled := false
	var span timeSpan
	for u, unit := range units {
		<-ready[u] // in input order, whatever order they finish in
		ur := results[u]
		results[u] = unitResult{} // its table is no longer needed
		if ur.canceled {
			canceled = true
			continue
		}
		for k, i := range unit {
			c := captures[i]
			r := captureResult{in: ur.ins[k], err: ur.errs[k]}
			if k == 0 { // the unit's table counts once, with its first capture
				r.tbl, r.l7 = ur.tbl, ur.l7
			}
			in, tbl := r.in, r.tbl
			in.Source = c.Source
			err := r.err
			if err == nil && c.SHA256 != "" && in.SHA256 != "" && in.SHA256 != c.SHA256 {
				err = fmt.Errorf("%s: its SHA-256 is %s, the evidence manifest recorded %s at pull time: the file changed after the pull; pull it again or find the original", filepath.ToSlash(c.Path), in.SHA256, c.SHA256)
			}
			if err == nil && c.Incomplete != "" {
				in.Status, in.Error = report.StatusPartial, "incomplete: "+c.Incomplete
				err = fmt.Errorf("%s: incomplete when pulled (%s): its packets are analyzed, the missing ones are not; pull it again", filepath.ToSlash(c.Path), c.Incomplete)
			}
			if tbl != nil {
				for k, n := range tbl.KindCounts() {
					m.Decode[k] += n
				}
				if r.l7 != nil && l7out != nil {
					l7out.addStats(r.l7.Stats())
				}
				if v := (report.VantageCounts{DuplicatesFolded: tbl.DupFolded, GSOSplit: tbl.GSOSplit, Ambiguous: tbl.DupAmbiguous,
					Capped: tbl.DupCapped, GSOMismatch: tbl.GSOMismatch}); v != (report.VantageCounts{}) {
					in.Vantage = &v
				}
				if tbl.DupCapped > 0 {
					m.Warnings = append(m.Warnings, fmt.Sprintf("%s: the state that folds vantage copies was full %d times: a copy of those records may be counted as a packet of its own", in.Name, tbl.DupCapped))
				}
				if n := tbl.EvictedEarly(); n > 0 {
					m.Warnings = append(m.Warnings, fmt.Sprintf("%s: the flow table reached --max-flows=%d: %d flows were ended early, before their idle timeout (raise --max-flows)", in.Name, cfg.WithDefaults().MaxFlows, n))
				}
				if n := tbl.BadTCPHeaders(); n > 0 {
					m.Warnings = append(m.Warnings, fmt.Sprintf("%s: %d TCP packets have an impossible header length: counted in their flows, left out of the TCP analysis", in.Name, n))
				}
			}
			if err != nil {
				res.Bad++
				prog.Warn(err.Error())
				m.Warnings = append(m.Warnings, err.Error())
			}
			if in.Packets > 0 {
				span.add(in.FirstNs, in.LastNs)
			}
			m.Inputs = append(m.Inputs, in)
			res.Packets += in.Packets
		}
	}
	prog.Stop()
	if canceled || ctx.Err() != nil {
		// A capture cut short by the cancel is no partial result: nothing is
		// committed (flows.parquet's temporary file is removed).
		sink.close()
		return nil, ctx.Err()
	}
	if err := sink.close(); err != nil {
		return nil, fmt.Errorf("write flows.parquet: %w", err)
	}
	// http.parquet and dns.parquet are complete: their ends are written
	// and synced beside flows.parquet's rather than after them (so that
	// the fsyncs overlap); they are renamed after it, as before.
	var l7err error
	l7done := make(chan struct{})
	if l7out != nil {
		go func() {
			defer close(l7done)
			l7err = l7out.finish()
		}()
		defer func() { <-l7done }() // before l7out.abort, deferred earlier
	} else {
		close(l7done)
	}
	if xc != nil && xc.compare {
		xc.judge(sum, span, o.Tolerances)
		err = fw.CloseWithVerdicts(xc.chk.VerdictOf)
	} else {
		err = fw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("write flows.parquet: %w", err)
	}
	flows, err := flowsTmp.Commit(filepath.Join(o.Out, "flows.parquet"))
	if err != nil {
		return nil, fmt.Errorf("write flows.parquet: %w", err)
	}
	m.Outputs = []provenance.File{flows}
	m.Flows = fw.Count()
	res.Flows = m.Flows
	if xc != nil && xc.compare {
		f, err := xc.write(o.Out, o.Version)
		if err != nil {
			return nil, err
		}
		m.Outputs = append(m.Outputs, f)
	}
	if l7out != nil {
		if <-l7done; l7err != nil {
			return nil, l7err
		}
		files, err := l7out.commit(o.Out)
		if err != nil {
			return nil, err
		}
		m.Outputs = append(m.Outputs, files...)
		l7out.settle(m)
		m.Settings["slow_request"] = time.Duration(cmp.Or(o.SlowRequestNs, report.DefaultSlowRequestNs)).String()
		if xcL7 != nil {
			xcL7.judge(sum, span, o.L7Tolerances)
			f, err := xcL7.write(o.Out, o.Version)
			if err != nil {
				return nil, err
			}
			m.Outputs = append(m.Outputs, f)
			xcL7Settings(o, m.Settings)
		}
	}
	m.Finished = provenance.Time{Time: time.Now()}
	if err := writeOutputs(o.Out, "analyze", sum, m); err != nil {
		return nil, err
	}
	// Fail only when nothing at all was read; a capture read in part still
	// gave flows, so that is a partial result.
	unread := len(missing)
	for _, in := range m.Inputs {
		if in.Status == report.StatusFailed {
			unread++
		}
	}
	if unread == len(captures)+len(missing) {
		return res, fmt.Errorf("no input could be read (see the errors above); the outputs in %s are empty", o.Out)
	}
	if res.Bad > 0 {
		return res, ErrPartial
	}
	return res, nil
}

// ctxSource ends a capture's read when the run is canceled: Analyze then
// commits nothing.
type ctxSource struct {
	ctx context.Context
	src analyze.PacketSource
	n   uint32
}

// ctxCheckEvery is how many packets are read between looks at the context.
const ctxCheckEvery = 4096

func (s *ctxSource) Next(p *ingest.Packet) error {
	if s.n++; s.n%ctxCheckEvery == 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
	}
	return s.src.Next(p)
}

// captureResult is what analyzing one capture gave, for the manifest.
type captureResult struct {
	in  report.Input
	tbl *analyze.Table
	l7  *l7.Engine // nil with L7 off
	err error
}

// unitResult is what one flow table's read gave: a capture alone, or the
// per-node captures of one evidence directory (groupCaptures); ins and errs
// are its captures', in order.
type unitResult struct {
	ins      []report.Input
	errs     []error
	tbl      *analyze.Table
	l7       *l7.Engine // nil with L7 off
	canceled bool       // never started: the run was canceled first
}

// groupCaptures returns what each flow table reads, as indices into
// captures, in order: a capture alone, or the per-node captures (Node set)
// of one evidence directory together: they are vantage points of the same
// traffic, merged by time into one stream (mergeSource).
func groupCaptures(captures []Capture) [][]int {
	var units [][]int
	for i, c := range captures {
		if n := len(units); n > 0 && c.Node != "" {
			prev := captures[units[n-1][0]]
			if prev.Node != "" && filepath.Dir(prev.Path) == filepath.Dir(c.Path) {
				units[n-1] = append(units[n-1], i)
				continue
			}
		}
		units = append(units, []int{i})
	}
	return units
}

// analyzeUnits analyzes the units (groupCaptures), up to jobs at once (0:
// DefaultJobs), each with its own flow table, and sends their flows to sink
// in input order. results[u] is set when ready[u] is closed.
func analyzeUnits(ctx context.Context, captures []Capture, units [][]int, jobs int, cfg analyze.Config, withL7 bool, sink *orderedSink, prog Progress) (results []unitResult, ready []chan struct{}) {
	results = make([]unitResult, len(units))
	ready = make([]chan struct{}, len(units))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	if jobs <= 0 {
		jobs = DefaultJobs()
	}
	var next atomic.Int64
	for range min(jobs, len(units)) {
		go func() {
			bufs := newSinkBuffers()
			for u := int(next.Add(1) - 1); u < len(units); u = int(next.Add(1) - 1) {
				if ctx.Err() != nil {
					results[u].canceled = true
					sink.skip(u)
				} else {
					cs := sink.capture(u, bufs)
					r := &results[u]
					ccfg := cfg
					if withL7 { // an engine per table: tables run at once
						r.l7 = l7.New(cs.l7())
						ccfg.L7 = r.l7
					}
					unit := units[u]
					if len(unit) == 1 {
						in, tbl, err := analyzeCapture(ctx, captures[unit[0]], unit[0], ccfg, cs, prog)
						r.ins, r.errs, r.tbl = []report.Input{in}, []error{err}, tbl
					} else {
						r.ins, r.errs, r.tbl = analyzeMerged(ctx, captures, unit, ccfg, cs, prog)
					}
					cs.end()
				}
				close(ready[u])
			}
		}()
	}
	return results, ready
}

// analyzeMerged reads the captures of unit (indices into captures) as one
// stream merged by time (mergeSource) into one flow table, named after
// them all and numbered as the first; each capture is still read whole,
// hashed and described for the manifest. A capture that cannot be opened,
// or fails partway, leaves the others' packets analyzed.
func analyzeMerged(ctx context.Context, captures []Capture, unit []int, cfg analyze.Config, cs *captureSink, prog Progress) ([]report.Input, []error, *analyze.Table) {
	ins := make([]report.Input, len(unit))
	errs := make([]error, len(unit))
	opened := make([]*ingest.Capture, len(unit))
	var srcs []analyze.PacketSource
	var which []int // srcs[j] is unit[which[j]]
	var names []string
	for k, i := range unit {
		path := captures[i].Path
		ins[k] = report.Input{Path: path, Name: filepath.Base(path), Source: "file", Status: report.StatusOK}
		names = append(names, ins[k].Name)
		c, err := ingest.Open(path, ingest.Options{})
		if err != nil {
			ins[k].Status, ins[k].Error = report.StatusFailed, err.Error()
			if f, herr := provenance.HashFile(path); herr == nil {
				ins[k].Size, ins[k].SHA256 = f.Size, f.SHA256
			}
			errs[k] = fmt.Errorf("%w (skipped: only pcap and pcapng captures, optionally gzip-compressed, can be analyzed)", err)
			continue
		}
		defer c.Close()
		opened[k] = c
		srcs = append(srcs, prog.Start(i, ins[k].Name, c))
		which = append(which, k)
	}
	srcNodes := make([]string, len(which))
	for j, k := range which {
		srcNodes[j] = captures[unit[k]].Node
	}
	tbl := analyze.NewTable(cfg, strings.Join(names, "+"), unit[0]+1, withCaptureNodes(srcNodes, cs.emit))
	tbl.SetRecordSlot(cs.slot)
	ms := newMergeSource(srcs)
	runErr := analyze.RunConcurrent(&ctxSource{ctx: ctx, src: ms}, tbl)
	tbl.Flush()
	for j, k := range which {
		c := opened[k]
		prog.Finish(unit[k])
		info, finErr := c.Finish()
		in := &ins[k]
		in.Size, in.SHA256, in.Format, in.Packets = info.Size, info.SHA256, info.Format, info.Packets
		for _, lt := range info.LinkTypes {
			in.LinkTypes = append(in.LinkTypes, report.LinkTypeCount{LinkType: uint32(lt.LinkType), Name: lt.Name, Packets: lt.Packets})
		}
		sort.Slice(in.LinkTypes, func(a, b int) bool { return in.LinkTypes[a].LinkType < in.LinkTypes[b].LinkType })
		if info.Packets > 0 {
			in.SetTimeRange(info.FirstNs, info.LastNs)
		}
		err := ms.Err(j)
		if err == nil && j == 0 {
			err = runErr // a cancel: the run commits nothing
		}
		switch {
		case err != nil:
			in.Status, in.Error = report.StatusPartial, err.Error()
			var fe *ingest.FormatError
			if errors.As(err, &fe) {
				err = fmt.Errorf("%w (packets read before it: %d, all analyzed and written; the rest of the file was skipped: re-export or re-transfer the capture to recover it)", err, info.Packets)
			}
			errs[k] = err
		case finErr != nil:
			in.Status, in.Error = report.StatusPartial, finErr.Error()
			errs[k] = fmt.Errorf("hash %s: %w", in.Path, finErr)
		}
	}
	return ins, errs, tbl
}

// analyzeCapture reads capture index (0-based) of the run into a fresh flow
// table whose flows go to cs, and describes the input for the manifest. A
// read error leaves the flows read before it emitted and comes back with a
// hint on what to do.
func analyzeCapture(ctx context.Context, cp Capture, index int, cfg analyze.Config, cs *captureSink, prog Progress) (report.Input, *analyze.Table, error) {
	path := cp.Path
	in := describeCapture(cp)
	c, closeSrc, err := openCapture(ctx, cp)
	if err != nil {
		return in, nil, openFailed(cp, &in, err)
	}
	defer closeSrc()
	defer c.Close() // before closeSrc
	tbl := analyze.NewTable(cfg, in.Name, index+1, cs.emit)
	tbl.SetRecordSlot(cs.slot)
	runErr := analyze.RunConcurrent(&ctxSource{ctx: ctx, src: prog.Start(index, in.Name, c)}, tbl)
	tbl.Flush()
	prog.Finish(index)
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

// withCaptureNodes returns emit with each record's CaptureNodes set from
// its Origins: the nodes of the merged captures (nodes[i] is capture i+1's)
// that saw the flow, joined by commas in capture order. A name is made once
// per distinct set.
func withCaptureNodes(nodes []string, emit func(*analyze.Record)) func(*analyze.Record) {
	names := map[uint16]string{}
	return func(r *analyze.Record) {
		if r.Origins != 0 {
			s, ok := names[r.Origins]
			if !ok {
				var seen []string
				for i, n := range nodes[:min(len(nodes), analyze.MaxOrigins)] {
					if r.Origins&(1<<i) != 0 {
						seen = append(seen, n)
					}
				}
				s = strings.Join(seen, ",")
				names[r.Origins] = s
			}
			r.CaptureNodes = s
		}
		emit(r)
	}
}
