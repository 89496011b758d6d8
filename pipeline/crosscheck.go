package pipeline

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/ingest/kubeshark/l4"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// xcRun is the cross-check of one run: nil when there is no Kubeshark data.
type xcRun struct {
	chk      *crosscheck.Checker
	compare  bool // L4 records were read: verdicts, crosscheck.parquet
	source   string
	records  int
	trunc    bool
	warnings []string
	rows     []report.CrossCheckRow // crosscheck.parquet, from judge
}

// loadCrossCheck reads Kubeshark's L4 flows and workloads: from the files
// the options name, else from the inputs' evidence. A file the options name
// that cannot be read is an error; a bad evidence answer is a warning.
func loadCrossCheck(o Options, inputs []Input) (*xcRun, error) {
	x := &xcRun{}
	var flows []l4.Flow
	var workloads []l4.Workload
	var sources []string
	addFlows := func(f *l4.Flows, name string) {
		x.compare = true
		x.records += len(f.Flows)
		if f.Truncated || f.Total > int64(len(f.Flows)) {
			x.trunc = true
			x.warnings = append(x.warnings, fmt.Sprintf("%s: Kubeshark's list_l4_flows answer is truncated (%d of %d records): the cross-check covers only those", name, len(f.Flows), f.Total))
		}
		if f.Skipped > 0 {
			x.warnings = append(x.warnings, fmt.Sprintf("%s: %d list_l4_flows records left out of the cross-check (%s)", name, f.Skipped, f.FirstSkip))
		}
		sources = append(sources, name)
		flows = append(flows, f.Flows...)
	}
	if o.L4Flows != "" {
		f, err := l4.ReadFlows(o.L4Flows)
		if err != nil {
			return nil, fmt.Errorf("--l4-flows: %w", err)
		}
		addFlows(f, filepath.Base(o.L4Flows))
	}
	haveWorkloads := o.Workloads != ""
	if haveWorkloads {
		ws, err := l4.ReadWorkloads(o.Workloads)
		if err != nil {
			return nil, fmt.Errorf("--workloads: %w", err)
		}
		workloads = append(workloads, ws...)
	}
	for _, in := range inputs {
		if o.L4Flows == "" && in.L4Flows != "" {
			if f, err := l4.ReadFlows(in.L4Flows); err != nil {
				x.warnings = append(x.warnings, fmt.Sprintf("cross-check skipped for %s: %v", in.Arg, err))
			} else {
				addFlows(f, answerName(in, in.L4Flows))
			}
		}
		if o.Workloads == "" && in.Workloads != "" {
			if ws, err := l4.ReadWorkloads(in.Workloads); err != nil {
				x.warnings = append(x.warnings, fmt.Sprintf("identities from %s skipped: %v", in.Workloads, err))
			} else {
				workloads = append(workloads, ws...)
				haveWorkloads = true
			}
		}
	}
	if !x.compare && !haveWorkloads {
		return nil, nil
	}
	x.source = strings.Join(sources, ", ")
	x.chk = crosscheck.New(flows, workloads, o.Tolerances)
	return x, nil
}

// settings records the cross-check's options in the manifest's settings.
func xcSettings(o Options, m map[string]string) {
	t := o.Tolerances
	m["xc_bytes_tolerance"] = strconv.FormatFloat(t.BytesRel*100, 'g', -1, 64) + "%"
	m["xc_bytes_slack"] = strconv.FormatInt(t.BytesAbs, 10)
	m["xc_rtt_tolerance"] = strconv.FormatFloat(t.RTTRel*100, 'g', -1, 64) + "%"
	m["xc_rtt_slack"] = time.Duration(t.RTTAbsNs).String()
	m["xc_window_slack"] = time.Duration(t.WindowSlackNs).String()
	m["xc_max_pcap_only"] = strconv.Itoa(t.MaxPcapOnly)
	if o.L4Flows != "" {
		m["l4_flows"] = o.L4Flows
	}
	if o.Workloads != "" {
		m["workloads"] = o.Workloads
	}
}

// write sends a finished flow to the writer and the summary: with its
// identity, and, when comparing, with its aggregate for the verdict that
// the end of the run gives it.
func (x *xcRun) add(r *analyze.Record, fw *report.FlowWriter, sum *report.Summary) error {
	x.chk.Fill(r)
	if !x.compare {
		sum.Add(r)
		return fw.Write(r)
	}
	ref := x.chk.Add(r)
	switch ref {
	case crosscheck.NotCompared:
		sum.Add(r)
		return fw.WriteDeferred(r, report.NoAggregate)
	case crosscheck.NotListed:
		r.CrossCheck = crosscheck.PcapOnly // known at once
		sum.Add(r)
	default:
		sum.AddDeferred(r, ref)
	}
	return fw.WriteDeferred(r, ref)
}

// judge judges the aggregates over the capture's time range and gives the
// summary the verdicts and the report's Cross-check section.
func (x *xcRun) judge(sum *report.Summary, span timeSpan, tol crosscheck.Tolerances) {
	results := x.chk.Finish(span.first, span.last, span.valid)
	sum.ResolveVerdicts(x.chk.VerdictOf)
	x.rows = make([]report.CrossCheckRow, 0, len(results))
	xr := &report.CrossCheckReport{Source: x.source, Records: x.records, Truncated: x.trunc, Verdicts: map[string]int64{}, Tolerances: tol, Dropped: x.chk.DroppedPcapOnly()}
	for i := range results {
		res := &results[i]
		cl, sv := x.chk.Identities(res)
		x.rows = append(x.rows, report.CrossCheckRowOf(res, cl, sv))
		xr.Verdicts[res.Verdict]++
	}
	for _, w := range crosscheck.Worst(results, 10) {
		cl, sv := x.chk.Identities(&w)
		xr.Worst = append(xr.Worst, report.CrossCheckRowOf(&w, cl, sv))
	}
	sum.SetCrossCheck(xr)
}

// write writes crosscheck.parquet into dir, after judge.
func (x *xcRun) write(dir, version string) (provenance.File, error) {
	a, err := provenance.CreateTemp(dir, report.CrossCheckFile, 0o644)
	if err != nil {
		return provenance.File{}, fmt.Errorf("create %s: %w", report.CrossCheckFile, err)
	}
	if err := report.WriteCrossCheck(a, x.rows, version); err != nil {
		a.Abort()
		return provenance.File{}, fmt.Errorf("write %s: %w", report.CrossCheckFile, err)
	}
	f, err := a.Commit(filepath.Join(dir, report.CrossCheckFile))
	if err != nil {
		return f, fmt.Errorf("write %s: %w", report.CrossCheckFile, err)
	}
	return f, nil
}

// timeSpan is the first and last packet of every input read; valid is
// false when none was.
type timeSpan struct {
	first, last int64
	valid       bool
}

func (s *timeSpan) add(first, last int64) {
	if !s.valid || first < s.first {
		s.first = first
	}
	if !s.valid || last > s.last {
		s.last = last
	}
	s.valid = true
}
