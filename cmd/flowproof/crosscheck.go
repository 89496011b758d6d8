package main

import (
	"bufio"
	"encoding/gob"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

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
}

func (o *xcOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.l4Flows, "l4-flows", "", "Kubeshark list_l4_flows answer saved in `file` (JSON) to cross-check with; evidence directories bring their own")
	fs.StringVar(&o.workloads, "workloads", "", "Kubeshark list_workloads or list_ips answer saved in `file` (JSON), for Kubernetes identities")
	fs.Float64Var(&o.bytesPct, "xc-bytes-tolerance", crosscheck.DefaultBytesRel*100, "cross-check: bytes agree within this `percent` of the larger value (or --xc-bytes-slack)")
	fs.Int64Var(&o.bytesSlack, "xc-bytes-slack", crosscheck.DefaultBytesAbs, "cross-check: bytes agree within this many `bytes` whatever the percentage")
	fs.Float64Var(&o.rttPct, "xc-rtt-tolerance", crosscheck.DefaultRTTRel*100, "cross-check: handshake RTT medians agree within this `percent` (or --xc-rtt-slack)")
	fs.DurationVar(&o.rttSlack, "xc-rtt-slack", time.Duration(crosscheck.DefaultRTTAbsNs), "cross-check: handshake RTT medians agree within this `duration` whatever the percentage")
	fs.DurationVar(&o.windowSlack, "xc-window-slack", time.Duration(crosscheck.DefaultWindowSlackNs), "cross-check: a Kubeshark record dated more than this outside the capture's time range is outside_window")
	fs.IntVar(&o.maxPcapOnly, "xc-max-pcap-only", crosscheck.DefaultMaxPcapOnly, "cross-check: pcap_only aggregates kept in crosscheck.parquet at most")
}

func (o *xcOptions) validate() error {
	switch {
	case o.bytesPct < 0 || o.rttPct < 0:
		return &usageError{"--xc-bytes-tolerance and --xc-rtt-tolerance must not be negative"}
	case o.bytesSlack < 0 || o.rttSlack < 0 || o.windowSlack < 0:
		return &usageError{"--xc-bytes-slack, --xc-rtt-slack and --xc-window-slack must not be negative"}
	case o.maxPcapOnly < 0:
		return &usageError{"--xc-max-pcap-only must not be negative"}
	}
	return nil
}

func (o *xcOptions) tolerances() crosscheck.Tolerances {
	return crosscheck.Tolerances{BytesRel: o.bytesPct / 100, BytesAbs: o.bytesSlack, RTTRel: o.rttPct / 100, RTTAbsNs: int64(o.rttSlack),
		WindowSlackNs: int64(o.windowSlack), MaxPcapOnly: o.maxPcapOnly}
}

func (o *xcOptions) settings(m map[string]string) {
	m["xc_bytes_tolerance"] = strconv.FormatFloat(o.bytesPct, 'g', -1, 64) + "%"
	m["xc_bytes_slack"] = strconv.FormatInt(o.bytesSlack, 10)
	m["xc_rtt_tolerance"] = strconv.FormatFloat(o.rttPct, 'g', -1, 64) + "%"
	m["xc_rtt_slack"] = o.rttSlack.String()
	m["xc_window_slack"] = o.windowSlack.String()
	m["xc_max_pcap_only"] = strconv.Itoa(o.maxPcapOnly)
	if o.l4Flows != "" {
		m["l4_flows"] = o.l4Flows
	}
	if o.workloads != "" {
		m["workloads"] = o.workloads
	}
}

// xcRun is the cross-check of one analyze run: nil when there is no
// Kubeshark data at all.
type xcRun struct {
	chk      *crosscheck.Checker
	compare  bool // L4 records were read: verdicts, crosscheck.parquet
	source   string
	records  int
	trunc    bool
	warnings []string

	// The flows wait in a spool (gob) until the verdicts are known; they
	// are encoded to Parquet once, on the second pass.
	spoolFile *os.File
	spoolBuf  *bufio.Writer
	enc       *gob.Encoder
	spooled   int64
}

// open creates the spool in dir (when comparing).
func (x *xcRun) open(dir string) error {
	if !x.compare {
		return nil
	}
	f, err := os.CreateTemp(dir, ".flows-spool-*.gob")
	if err != nil {
		return fmt.Errorf("create the cross-check spool: %w", err)
	}
	x.spoolFile, x.spoolBuf = f, bufio.NewWriterSize(f, 1<<20)
	x.enc = gob.NewEncoder(x.spoolBuf)
	return nil
}

// close removes the spool.
func (x *xcRun) close() {
	if x.spoolFile != nil {
		x.spoolFile.Close()
		os.Remove(x.spoolFile.Name())
	}
}

// spool keeps a finished flow for the second pass.
func (x *xcRun) spool(r *analyze.Record) error {
	x.spooled++
	return x.enc.Encode(r)
}

// loadCrossCheck reads Kubeshark's L4 flows and workloads from --l4-flows,
// --workloads and the evidence directories among the inputs. A file named by
// a flag that cannot be read is an error; a bad evidence answer a warning.
func loadCrossCheck(o xcOptions, inputs []string) (*xcRun, error) {
	x := &xcRun{}
	var aggs []crosscheck.Aggregate
	var assigns []crosscheck.Assignment
	var sources []string
	addL4 := func(f *kubeshark.L4Flows, name string) {
		x.compare = true
		x.records += len(f.Flows)
		x.trunc = x.trunc || f.Truncated || f.Total > int64(len(f.Flows))
		if f.Truncated || f.Total > int64(len(f.Flows)) {
			x.warnings = append(x.warnings, fmt.Sprintf("%s: Kubeshark's list_l4_flows answer is truncated (%d of %d records): the cross-check covers only those", name, len(f.Flows), f.Total))
		}
		if f.Skipped > 0 {
			x.warnings = append(x.warnings, fmt.Sprintf("%s: %d list_l4_flows records left out of the cross-check (%s)", name, f.Skipped, f.FirstSkip))
		}
		sources = append(sources, name)
		for _, l := range f.Flows {
			aggs = append(aggs, aggregateOf(l))
		}
	}
	addWorkloads := func(ws []kubeshark.WorkloadIP) {
		for _, w := range ws {
			assigns = append(assigns, crosscheck.Assignment{IP: w.IP, FromNs: w.TimeNs, Kind: w.Kind, Name: w.Name, Namespace: w.Namespace, Node: w.Node, Service: w.Service})
		}
	}
	if o.l4Flows != "" {
		f, err := kubeshark.ReadL4Flows(o.l4Flows)
		if err != nil {
			return nil, fmt.Errorf("--l4-flows: %w", err)
		}
		addL4(f, filepath.Base(o.l4Flows))
	}
	if o.workloads != "" {
		ws, err := kubeshark.ReadWorkloads(o.workloads)
		if err != nil {
			return nil, fmt.Errorf("--workloads: %w", err)
		}
		addWorkloads(ws)
	}
	haveWorkloads := o.workloads != ""
	for _, in := range inputs {
		ev, err := kubeshark.OpenEvidence(in)
		if err != nil {
			continue
		}
		if o.l4Flows == "" {
			if p := ev.File("list_l4_flows"); p != "" {
				if f, err := kubeshark.ReadL4Flows(p); err != nil {
					x.warnings = append(x.warnings, fmt.Sprintf("cross-check skipped for %s: %v", in, err))
				} else {
					addL4(f, filepath.ToSlash(filepath.Join(filepath.Base(in), "kubeshark", filepath.Base(p))))
				}
			}
		}
		if o.workloads == "" {
			for _, tool := range []string{"list_workloads", "list_ips"} {
				if p := ev.File(tool); p != "" {
					if ws, err := kubeshark.ReadWorkloads(p); err != nil {
						x.warnings = append(x.warnings, fmt.Sprintf("identities from %s skipped: %v", p, err))
					} else {
						addWorkloads(ws)
						haveWorkloads = true
					}
					break
				}
			}
		}
	}
	if !x.compare && !haveWorkloads {
		return nil, nil
	}
	for i, s := range sources {
		if i > 0 {
			x.source += ", "
		}
		x.source += s
	}
	x.chk = crosscheck.New(aggs, assigns, o.tolerances())
	return x, nil
}

func aggregateOf(l kubeshark.L4Flow) crosscheck.Aggregate {
	ep := func(e kubeshark.L4Endpoint) crosscheck.Endpoint {
		return crosscheck.Endpoint{IP: e.IP, Pod: e.Pod, Namespace: e.Namespace, Service: e.Service, Node: e.Node}
	}
	side := func(s kubeshark.L4Side) crosscheck.Side {
		return crosscheck.Side{Present: s.Present, TxPkts: s.TxPkts, RxPkts: s.RxPkts, TxBytes: s.TxBytes, RxBytes: s.RxBytes, HandshakeUs: s.HandshakeUs}
	}
	return crosscheck.Aggregate{Proto: l.Proto, Client: ep(l.Client), Server: ep(l.Server), ServerPort: l.Server.Port,
		ClientStats: side(l.ClientStats), ServerStats: side(l.ServerStats), TimeNs: l.TimeNs}
}

// first pass: identity and capture sums, on the sink's goroutine.
func (x *xcRun) observe(r *analyze.Record) {
	x.chk.Fill(r)
	if x.compare {
		x.chk.Add(r)
	}
}

// finish judges the aggregates, writes the spooled flows into flows.parquet
// with the verdicts (feeding sum), writes crosscheck.parquet, and returns
// the outputs written (flows.parquet first).
func (x *xcRun) finish(dir string, sum *report.Summary, m *report.Manifest, tol crosscheck.Tolerances) ([]provenance.File, int64, error) {
	var firstNs, lastNs int64
	for _, in := range m.Inputs {
		if in.Packets == 0 {
			continue
		}
		if firstNs == 0 || in.FirstNs < firstNs {
			firstNs = in.FirstNs
		}
		lastNs = max(lastNs, in.LastNs)
	}
	results := x.chk.Finish(firstNs, lastNs)

	flowsPath := filepath.Join(dir, "flows.parquet")
	tmp, err := os.CreateTemp(dir, ".flows-xc-*.parquet")
	if err != nil {
		return nil, 0, fmt.Errorf("create flows.parquet: %w", err)
	}
	defer os.Remove(tmp.Name())
	fw, err := report.NewFlowWriter(tmp, report.FlowWriterOptions{Version: version()})
	if err != nil {
		tmp.Close()
		return nil, 0, fmt.Errorf("create flows.parquet: %w", err)
	}
	err = x.replay(func(r *analyze.Record) error {
		r.CrossCheck = x.chk.Verdict(r)
		sum.Add(r)
		return fw.Write(r)
	})
	if err == nil {
		err = fw.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), flowsPath)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("write flows.parquet: %w", err)
	}
	fo, err := provenance.HashFile(flowsPath)
	if err != nil {
		return nil, 0, err
	}

	rows := make([]report.CrossCheckRow, 0, len(results))
	xr := &report.CrossCheckReport{Source: x.source, Records: x.records, Truncated: x.trunc, Verdicts: map[string]int64{}, Tolerances: tol, Dropped: x.chk.DroppedPcapOnly()}
	for i := range results {
		res := &results[i]
		cl, sv := x.identities(res)
		rows = append(rows, report.CrossCheckRowOf(res, cl, sv))
		xr.Verdicts[res.Verdict]++
	}
	worst := append([]crosscheck.Result(nil), results...)
	crosscheck.SortWorst(worst)
	for i := range worst {
		if worst[i].Verdict == crosscheck.Match || len(xr.Worst) == 10 {
			break
		}
		cl, sv := x.identities(&worst[i])
		xr.Worst = append(xr.Worst, report.CrossCheckRowOf(&worst[i], cl, sv))
	}
	sum.SetCrossCheck(xr)

	xcPath := filepath.Join(dir, report.CrossCheckFile)
	xt, err := os.CreateTemp(dir, ".crosscheck-*.parquet")
	if err != nil {
		return nil, 0, fmt.Errorf("create %s: %w", report.CrossCheckFile, err)
	}
	defer os.Remove(xt.Name())
	err = report.WriteCrossCheck(xt, rows, version())
	if cerr := xt.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(xt.Name(), xcPath)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("write %s: %w", report.CrossCheckFile, err)
	}
	xo, err := provenance.HashFile(xcPath)
	if err != nil {
		return nil, 0, err
	}
	return []provenance.File{fo, xo}, fw.Count(), nil
}

// replay reads the spooled flows back, in order.
func (x *xcRun) replay(fn func(*analyze.Record) error) error {
	if err := x.spoolBuf.Flush(); err != nil {
		return err
	}
	if _, err := x.spoolFile.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(x.spoolFile, 1<<20))
	for i := int64(0); i < x.spooled; i++ {
		var r analyze.Record
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("read the cross-check spool: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// identities names an aggregate's endpoints: Kubeshark's own names when its
// record has them, else the workloads at the capture's time.
func (x *xcRun) identities(r *crosscheck.Result) (cl, sv crosscheck.Identity) {
	from, to := r.Capture.FirstNs, r.Capture.LastNs
	if r.Capture.Flows == 0 && r.Kubeshark != nil {
		from, to = r.Kubeshark.TimeNs, r.Kubeshark.TimeNs
	}
	cl = x.chk.Identify(r.Key.Client, from, to)
	sv = x.chk.Identify(r.Key.Server, from, to)
	if a := r.Kubeshark; a != nil {
		if a.Client.Pod != "" || a.Client.Service != "" {
			cl = crosscheck.Identity{Pod: a.Client.Pod, Namespace: a.Client.Namespace, Service: a.Client.Service, Node: a.Client.Node}
		}
		if a.Server.Pod != "" || a.Server.Service != "" {
			sv = crosscheck.Identity{Pod: a.Server.Pod, Namespace: a.Server.Namespace, Service: a.Server.Service, Node: a.Server.Node}
		}
	}
	return cl, sv
}
