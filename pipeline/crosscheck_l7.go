package pipeline

import (
	"cmp"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/ingest/kubeshark/apicalls"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// xcL7Run is the L7 cross-check of one run: nil without Kubeshark API calls
// or with L7 off.
type xcL7Run struct {
	chk        *crosscheck.L7Checker
	source     string
	calls      int64
	incomplete []string
	ignored    []string
	rows       []report.CrossCheckL7Row
}

// loadAPICalls reads Kubeshark's API calls: the --api-calls file, else the
// pages of the inputs' evidence. With L7 off (--no-l7) the calls are not compared,
// and the manifest says so. A file the options name that cannot be read is
// an error; a bad evidence page is a warning.
func loadAPICalls(o Options, inputs []Input, xc *xcRun) (*xcL7Run, []string, error) {
	var warnings []string
	if o.APICalls != "" && !o.L7 {
		return nil, nil, fmt.Errorf("--api-calls: the L7 cross-check compares Kubeshark's API calls with http.parquet: analyze with L7 on (drop --no-l7)")
	}
	type page struct{ path, name string }
	var pages []page
	x := &xcL7Run{}
	var sources []string
	if o.APICalls != "" {
		pages = append(pages, page{o.APICalls, ""})
		sources = append(sources, filepath.Base(o.APICalls))
	} else {
		for _, in := range inputs {
			if len(in.APICalls) == 0 {
				continue
			}
			if !o.L7 {
				warnings = append(warnings, fmt.Sprintf("%s holds Kubeshark's API calls (list_api_calls, %d pages): the L7 cross-check needs L7 on (--no-l7 turns it off), so they were not compared", in.Arg, len(in.APICalls)))
				continue
			}
			for _, p := range in.APICalls {
				pages = append(pages, page{p, answerName(in, p)})
			}
			if in.APICallsIncomplete != "" {
				x.incomplete = append(x.incomplete, filepath.Base(in.Arg)+": "+in.APICallsIncomplete)
			}
			name := answerName(in, in.APICalls[0])
			if len(in.APICalls) > 1 {
				name = strings.TrimSuffix(name, "0001.json") + "*.json"
			}
			sources = append(sources, fmt.Sprintf("%s (%d pages)", name, len(in.APICalls)))
		}
	}
	if len(pages) == 0 {
		return nil, warnings, nil
	}
	var name func(netip.Addr, int64) crosscheck.Identity
	if xc != nil {
		name = func(ip netip.Addr, ts int64) crosscheck.Identity { return xc.chk.Identify(ip, ts, ts) }
	}
	x.chk = crosscheck.NewL7(name, o.L7Tolerances)
	// The pages are read one call at a time into the checker, which keeps
	// 32 bytes a call; a call seen in two pages counts once.
	var all apicalls.Calls
	var seen apicalls.Seen
	for _, p := range pages {
		c, err := apicalls.ScanFile(p.path, func(k *apicalls.Call) {
			if !seen.First(k) {
				all.Duplicates++
				return
			}
			x.calls++
			x.chk.AddCall(k)
		})
		switch {
		case err != nil && p.name == "":
			return nil, nil, fmt.Errorf("--api-calls: %w", err)
		case err != nil:
			// The calls read before the error are compared.
			warnings = append(warnings, fmt.Sprintf("L7 cross-check: %s: %v", p.name, err))
			x.incomplete = append(x.incomplete, p.name+" could not be read whole")
			continue
		case p.name == "" && (c.Truncated || c.Total > c.Kept+c.NotHTTP+c.Skipped+c.Dropped):
			x.incomplete = append(x.incomplete, fmt.Sprintf("%s is truncated (%d of %d calls)", filepath.Base(p.path), c.Kept, c.Total))
		}
		all.Add(c)
	}
	if all.NotHTTP > 0 {
		x.ignored = append(x.ignored, fmt.Sprintf("%d calls of other protocols than HTTP/1.x", all.NotHTTP))
	}
	if all.Skipped > 0 {
		x.ignored = append(x.ignored, fmt.Sprintf("%d calls whose addresses do not parse (%s)", all.Skipped, all.FirstSkip))
	}
	if all.Invalid > 0 {
		x.ignored = append(x.ignored, fmt.Sprintf("%d absurd values, taken as unknown (%s)", all.Invalid, all.FirstInvalid))
	}
	if n := all.Dropped + x.chk.DroppedCalls(); n > 0 {
		x.incomplete = append(x.incomplete, fmt.Sprintf("%d calls beyond the caps (%d an answer, %d in all) were dropped", n, apicalls.MaxCalls, cmp.Or(o.L7Tolerances.MaxCalls, crosscheck.DefaultMaxL7Calls)))
	}
	x.calls -= x.chk.DroppedCalls()
	for _, s := range append(append([]string(nil), x.incomplete...), x.ignored...) {
		warnings = append(warnings, "L7 cross-check: "+s)
	}
	x.source = strings.Join(sources, "; ")
	return x, warnings, nil
}

// add counts one of the capture's requests.
func (x *xcL7Run) add(t *http.Transaction) {
	src, dst := t.Flow.Orig, t.Flow.Resp
	if t.FromResp {
		src, dst = dst, src
	}
	txn := crosscheck.L7Txn{Client: src.Addr(), Server: dst.Addr(), TsNs: t.TsNs, Method: t.Method, URI: t.URI,
		LatencyNs: -1, ReqBody: t.RequestBodyLen, RespBody: t.ResponseBodyLen}
	if t.StatusCode.Valid {
		txn.Status = int32(t.StatusCode.V)
	}
	if t.LatencyNs.Valid {
		txn.LatencyNs = t.LatencyNs.V
	}
	x.chk.Add(&txn)
}

// judge judges the groups over the capture's time range and gives the
// summary its part of the Cross-check section.
func (x *xcL7Run) judge(sum *report.Summary, span timeSpan, tol crosscheck.L7Tolerances) {
	results := x.chk.Finish(span.first, span.last, span.valid)
	xr := &report.CrossCheckL7Report{Source: x.source, Calls: x.calls, Incomplete: strings.Join(x.incomplete, "; "), Ignored: strings.Join(x.ignored, "; "),
		Verdicts: map[string]int64{}, KsCalls: map[string]int64{}, CapRequests: map[string]int64{}, Tolerances: tol, Dropped: x.chk.Dropped()}
	x.rows = make([]report.CrossCheckL7Row, 0, len(results))
	for i := range results {
		r := &results[i]
		x.rows = append(x.rows, report.CrossCheckL7RowOf(r))
		xr.Verdicts[r.Verdict]++
		xr.KsCalls[r.Verdict] += r.Kubeshark.Count
		xr.CapRequests[r.Verdict] += r.Capture.Count
	}
	xr.Worst = report.WorstL7Rows(x.rows, 10)
	sum.SetCrossCheckL7(xr)
}

// write writes crosscheck_l7.parquet into dir, after judge.
func (x *xcL7Run) write(dir, version string) (provenance.File, error) {
	a, err := provenance.CreateTemp(dir, report.CrossCheckL7File, 0o644)
	if err != nil {
		return provenance.File{}, fmt.Errorf("create %s: %w", report.CrossCheckL7File, err)
	}
	w := report.NewTableWriter[report.CrossCheckL7Row](a, version)
	for _, r := range x.rows {
		if err := w.Write(r); err != nil {
			a.Abort()
			return provenance.File{}, fmt.Errorf("write %s: %w", report.CrossCheckL7File, err)
		}
	}
	if err := w.Close(); err != nil {
		a.Abort()
		return provenance.File{}, fmt.Errorf("write %s: %w", report.CrossCheckL7File, err)
	}
	f, err := a.Commit(filepath.Join(dir, report.CrossCheckL7File))
	if err != nil {
		return f, fmt.Errorf("write %s: %w", report.CrossCheckL7File, err)
	}
	return f, nil
}

// xcL7Settings records the L7 cross-check's options in the manifest.
func xcL7Settings(o Options, m map[string]string) {
	t := o.L7Tolerances
	m["xc_l7_count_slack"] = strconv.FormatInt(t.CountAbs, 10)
	m["xc_l7_latency_tolerance"] = strconv.FormatFloat(t.LatencyRel*100, 'g', -1, 64) + "%"
	m["xc_l7_latency_slack"] = time.Duration(t.LatencyAbsNs).String()
	m["xc_l7_max_groups"] = strconv.Itoa(t.MaxGroups)
	if o.APICalls != "" {
		m["api_calls"] = o.APICalls
	}
}
