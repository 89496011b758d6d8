package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// ShardResult is what AnalyzeShard wrote.
type ShardResult struct {
	Shard    Shard
	Manifest *ShardManifest
	Units    int   // units in the whole input list
	Captures int   // captures this shard read
	Flows    int64 // flows this shard wrote
	Packets  int64
	Removed  []string // parts and files of an earlier run of the shard, removed
}

// AnalyzeShard analyzes shard sh's share of the inputs into st, in the
// hive layout of a sharded run (README: Sharded batch runs):
//
//	TABLE/date=YYYY-MM-DD/shard=NNNN/part-0.parquet   TABLE: flows, http, dns, crosscheck; date: UTC day a row starts
//	shards/shard=NNNN/manifest.json                   ShardManifest
//	shards/shard=NNNN/report.md (+ charts), audit.jsonl
//
// The inputs are expanded as Analyze expands them and cut into units
// (a capture file, or an evidence directory); the shard takes the units
// ShardOf assigns it. They are analyzed by Analyze into a local staging
// directory (os.TempDir), whose tables are then split by day into the
// parts, with flow_id renumbered to the capture's place in the whole input
// list (so the parts of all shards are the rows a single Analyze writes).
//
// A rerun replaces exactly this shard's outputs: new parts first (each
// replacing its earlier self at once), then the report, the manifest and
// the audit entry, and only then are the shard's parts that the new
// manifest does not list removed. Another shard's files are never touched.
// A shard without units writes a manifest without inputs, so that merge
// can tell a shard that had nothing to do from one that never ran.
//
// It returns ErrPartial, with the result, when some input was bad.
func AnalyzeShard(ctx context.Context, args []string, o Options, sh Shard, st Store) (*ShardResult, error) {
	started := time.Now()
	if err := sh.Valid(); err != nil {
		return nil, err
	}
	if o.L4Flows != "" && sh.Count > 1 {
		return nil, errors.New("--l4-flows with more than one shard: the cross-check sums each Kubeshark aggregate over every capture, which would be split across shards; cross-check unsharded, or give each capture its answers in an evidence directory (which stays whole in one shard)")
	}
	sts := o.stores
	if sts == nil {
		sts = &stores{cfg: o.S3}
	}
	units, missing, opened := expandUnits(ctx, args, sts)
	if len(units) == 0 {
		return nil, fmt.Errorf("find inputs: no capture files in %q: point flowproof at pcap or pcapng files or directories holding them", args)
	}
	set := inputSet(units)
	sel := selectUnits(units, sh)
	settings := shardSettings(o, set, sh.Count)
	m := &report.Manifest{
		ManifestVersion: report.ManifestVersion,
		Tool:            provenance.Tool{Name: "flowproof", Version: o.Version},
		Command:         provenance.RedactArgs(o.Command),
		Started:         provenance.Time{Time: started},
		Settings:        map[string]string{},
		Decode:          map[string]int64{},
		Warnings:        missing,
	}
	for k, v := range settings {
		m.Settings[k] = v
	}
	m.Settings["shard"] = sh.String()
	sm := &ShardManifest{Version: ShardManifestVersion, Shard: sh.Index, Shards: sh.Count, InputSet: set, Units: len(units),
		Settings: settings, Skipped: append([]string(nil), missing...), Manifest: m}
	for _, u := range units {
		sm.Captures += u.n
	}
	res := &ShardResult{Shard: sh, Manifest: sm, Units: len(units)}
	partial := len(missing) > 0

	stage, err := os.MkdirTemp("", "flowproof-shard-")
	if err != nil {
		return nil, fmt.Errorf("create staging directory: %w", err)
	}
	defer os.RemoveAll(stage)

	sum := report.NewSummary(report.SummaryOptions{FloodMinHalfOpen: o.FloodMinHalfOpen, ScanMinHosts: o.ScanMinHosts, ScanMinPorts: o.ScanMinPorts, Parts: sh.dir()})
	if o.L7 {
		sum.L7()
	}
	var outs []provenance.File
	if len(sel) > 0 {
		var selArgs []string
		var paths []string
		ords := []int{0} // local capture ordinal -> global
		for _, u := range sel {
			sm.Selected = append(sm.Selected, u.public())
			selArgs = append(selArgs, u.arg)
			paths = append(paths, u.paths...)
			for k := range u.n {
				ords = append(ords, u.first+k+1)
			}
		}
		so := o
		so.Out = filepath.Join(stage, "out")
		so.Command = nil
		so.stores, so.opened = sts, opened
		ar, err := Analyze(ctx, selArgs, so)
		if ar == nil {
			return nil, err // nothing written: the shard's earlier outputs stand
		}
		if err != nil {
			partial = true // some input was bad, or none could be read: the run is partial
		}
		am := ar.Manifest
		if len(am.Inputs) != len(paths) {
			return nil, fmt.Errorf("the inputs changed while shard %s ran (%d captures listed, %d read): run it again", sh, len(paths), len(am.Inputs))
		}
		for i, in := range am.Inputs {
			if in.Path != paths[i] {
				return nil, fmt.Errorf("the inputs changed while shard %s ran (%s listed, %s read): run it again", sh, paths[i], in.Path)
			}
			if in.Status != report.StatusOK {
				sm.Skipped = append(sm.Skipped, in.Path+": "+in.Status+": "+in.Error)
			}
		}
		m.Inputs, m.Decode, m.L7 = am.Inputs, am.Decode, am.L7
		m.Warnings = append(m.Warnings, am.Warnings...)
		for k, v := range am.Settings {
			if _, ok := m.Settings[k]; !ok {
				m.Settings[k] = v
			}
		}
		res.Captures, res.Packets = ar.Captures, ar.Packets
		outs, err = splitTables(ctx, st, sh, so.Out, ords, sum, o.Version)
		if err != nil {
			return nil, err
		}
		m.Flows = sum.Flows()
		res.Flows = m.Flows
	}
	m.Finished = provenance.Time{Time: time.Now()}
	prefix := shardPrefix(sh)
	m.Attacks = sum.Attacks()
	files := report.RenderReport(sum, m)
	for _, name := range reportNames(files) {
		f, err := storeWrite(ctx, st, prefix+name, files[name])
		if err != nil {
			return nil, err
		}
		outs = append(outs, f)
	}
	m.Outputs = outs
	marshal := func() ([]byte, error) {
		m.Warnings, m.Inputs, m.Outputs = provenance.NonNil(m.Warnings), provenance.NonNil(m.Inputs), provenance.NonNil(m.Outputs)
		sm.Selected, sm.Skipped = provenance.NonNil(sm.Selected), provenance.NonNil(sm.Skipped)
		return provenance.MarshalIndent(sm)
	}
	if err := writeManifestAndAudit(ctx, st, prefix, "analyze-shard", &m.AuditSeq, marshal, auditInputs(m), m); err != nil {
		return nil, err
	}
	if res.Removed, err = removeStale(ctx, st, sh, outs); err != nil {
		return res, fmt.Errorf("remove shard %s's earlier outputs: %w", sh, err)
	}
	if partial {
		return res, ErrPartial
	}
	return res, nil
}

// reportNames orders what RenderReport made: report.md, then the charts by
// name.
func reportNames(files map[string][]byte) []string {
	names := []string{report.ReportFile}
	for _, k := range sortedKeys(files) {
		if k != report.ReportFile {
			names = append(names, k)
		}
	}
	return names
}

// auditInputs are m's inputs as an audit entry records them.
func auditInputs(m *report.Manifest) []provenance.AuditFile {
	var ins []provenance.AuditFile
	for _, in := range m.Inputs {
		if in.SHA256 != "" {
			ins = append(ins, provenance.AuditFile{Path: in.Path, Size: in.Size, SHA256: in.SHA256})
		}
	}
	return ins
}

// removeStale removes the shard's files that keep are not: parts of days
// the new run has none of, charts its report no longer has.
func removeStale(ctx context.Context, st Store, sh Shard, keep []provenance.File) ([]string, error) {
	kept := map[string]bool{shardPrefix(sh) + ShardManifestFile: true, shardPrefix(sh) + provenance.AuditFileName: true}
	for _, f := range keep {
		kept[f.Name] = true
	}
	var removed []string
	for _, table := range append(partTables, ShardsDir) {
		ents, err := st.List(ctx, table+"/")
		if err != nil {
			return removed, err
		}
		for _, e := range ents {
			if kept[e.Name] || !ownedBy(e.Name, sh) {
				continue
			}
			if err := st.Remove(ctx, e.Name); err != nil {
				return removed, err
			}
			removed = append(removed, e.Name)
		}
	}
	return removed, nil
}

// ownedBy reports whether a stored name lies in shard sh's partition.
func ownedBy(name string, sh Shard) bool {
	for _, seg := range strings.Split(name, "/") {
		if seg == sh.dir() {
			return true
		}
	}
	return false
}

// shardOfName returns the shard number of the partition name lies in.
func shardOfName(name string) (int, bool) {
	for _, seg := range strings.Split(name, "/") {
		if v, ok := strings.CutPrefix(seg, "shard="); ok {
			n, err := strconv.Atoi(v)
			return n, err == nil && len(v) == 4
		}
	}
	return 0, false
}

// dayOf is the UTC day of an epoch-ns time, as the date partition names it.
func dayOf(ns int64) string { return time.Unix(0, ns).UTC().Format(time.DateOnly) }

// dayParts writes one table's parts, a part per day, each opened on its
// first row.
type dayParts[W any] struct {
	ctx    context.Context
	st     Store
	table  string
	sh     Shard
	open   func(io.Writer) (W, error)
	close  func(W) error
	parts  map[int64]*dayPart[W]
	lastD  int64
	lastP  *dayPart[W]
	failed error
}

type dayPart[W any] struct {
	day string
	sw  StoreWriter
	w   W
}

func newDayParts[W any](ctx context.Context, st Store, table string, sh Shard, open func(io.Writer) (W, error), closeW func(W) error) *dayParts[W] {
	return &dayParts[W]{ctx: ctx, st: st, table: table, sh: sh, open: open, close: closeW, parts: map[int64]*dayPart[W]{}}
}

// writer returns the writer of the part of the day holding ns.
func (d *dayParts[W]) writer(ns int64) (W, error) {
	k := ns / 86400e9
	if ns < 0 && ns%86400e9 != 0 {
		k-- // floor: the day before the epoch
	}
	if d.lastP != nil && k == d.lastD {
		return d.lastP.w, nil
	}
	p := d.parts[k]
	if p == nil {
		day := dayOf(ns)
		sw, err := d.st.Create(d.ctx, partName(d.table, day, d.sh))
		if err != nil {
			var zero W
			return zero, fmt.Errorf("create %s: %w", partName(d.table, day, d.sh), err)
		}
		w, err := d.open(sw)
		if err != nil {
			sw.Abort()
			var zero W
			return zero, fmt.Errorf("create %s: %w", partName(d.table, day, d.sh), err)
		}
		p = &dayPart[W]{day: day, sw: sw, w: w}
		d.parts[k] = p
	}
	d.lastD, d.lastP = k, p
	return p.w, nil
}

// commit closes every part and makes it visible, by day.
func (d *dayParts[W]) commit() ([]provenance.File, error) {
	keys := make([]int64, 0, len(d.parts))
	for k := range d.parts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var out []provenance.File
	for _, k := range keys {
		p := d.parts[k]
		if err := d.close(p.w); err != nil {
			d.abort()
			return nil, fmt.Errorf("write %s: %w", partName(d.table, p.day, d.sh), err)
		}
		f, err := p.sw.Commit()
		if err != nil {
			d.abort()
			return nil, fmt.Errorf("write %s: %w", partName(d.table, p.day, d.sh), err)
		}
		out = append(out, f)
		delete(d.parts, k)
	}
	return out, nil
}

// abort discards the parts not committed.
func (d *dayParts[W]) abort() {
	for _, p := range d.parts {
		p.sw.Abort()
	}
}

// renumber rewrites a flow_id's capture ordinal (the part before '-') from
// the shard's own numbering to the whole input list's.
func renumber(id string, ords []int) (string, error) {
	n, ok := report.FlowOrdinal(id)
	if !ok || n >= len(ords) {
		return "", fmt.Errorf("flow_id %q: not CAPTURE-PACKET with a capture of this shard", id)
	}
	return strconv.Itoa(ords[n]) + id[strings.IndexByte(id, '-'):], nil
}

// splitTables reads the tables Analyze wrote into dir and writes them as
// the shard's day parts into st, flow_id renumbered by ords, feeding sum
// as they go.
func splitTables(ctx context.Context, st Store, sh Shard, dir string, ords []int, sum *report.Summary, version string) ([]provenance.File, error) {
	var outs []provenance.File
	flows := newDayParts(ctx, st, "flows", sh,
		func(w io.Writer) (*report.FlowWriter, error) {
			return report.NewFlowWriter(w, report.FlowWriterOptions{Version: version})
		},
		(*report.FlowWriter).Close)
	defer flows.abort()
	err := eachRow(ctx, filepath.Join(dir, "flows.parquet"), func(r *report.FlowRow) error {
		id, err := renumber(r.FlowID, ords)
		if err != nil {
			return err
		}
		r.FlowID = id
		rec, err := r.Record()
		if err != nil {
			return err
		}
		sum.Add(&rec)
		fw, err := flows.writer(rec.TsNs)
		if err != nil {
			return err
		}
		return fw.Write(&rec)
	})
	if err != nil {
		return nil, err
	}
	fo, err := flows.commit()
	if err != nil {
		return nil, err
	}
	outs = append(outs, fo...)

	if _, err := os.Stat(filepath.Join(dir, report.HTTPFile)); err == nil {
		f, err := splitL7(ctx, st, sh, dir, report.HTTPFile, "http", ords, version, func(r *report.HTTPRow) (*string, int64) { return &r.FlowID, r.TsNs }, sum.L7().AddHTTP)
		if err != nil {
			return nil, err
		}
		outs = append(outs, f...)
		f, err = splitL7(ctx, st, sh, dir, report.DNSFile, "dns", ords, version, func(r *report.DNSRow) (*string, int64) { return &r.FlowID, r.TsNs }, sum.L7().AddDNS)
		if err != nil {
			return nil, err
		}
		outs = append(outs, f...)
	}

	if _, err := os.Stat(filepath.Join(dir, report.CrossCheckFile)); err == nil {
		rows, err := report.ReadCrossCheck(filepath.Join(dir, report.CrossCheckFile))
		if err != nil {
			return nil, fmt.Errorf("read staged %s: %w", report.CrossCheckFile, err)
		}
		byDay := map[string][]report.CrossCheckRow{}
		for _, r := range rows {
			day := dayOf(crossCheckTime(&r))
			byDay[day] = append(byDay[day], r)
		}
		for _, day := range sortedKeys(byDay) {
			sw, err := st.Create(ctx, partName("crosscheck", day, sh))
			if err != nil {
				return nil, fmt.Errorf("create %s: %w", partName("crosscheck", day, sh), err)
			}
			if err := report.WriteCrossCheck(sw, byDay[day], version); err != nil {
				sw.Abort()
				return nil, fmt.Errorf("write %s: %w", partName("crosscheck", day, sh), err)
			}
			f, err := sw.Commit()
			if err != nil {
				return nil, fmt.Errorf("write %s: %w", partName("crosscheck", day, sh), err)
			}
			outs = append(outs, f)
		}
	}
	return outs, nil
}

// crossCheckTime dates a cross-check row: the capture's first flow of its
// aggregate, else Kubeshark's record time.
func crossCheckTime(r *report.CrossCheckRow) int64 {
	switch {
	case r.CapFirstNs != nil:
		return *r.CapFirstNs
	case r.KsTs != nil:
		return *r.KsTs * 1000 // µs
	}
	return 0
}

// splitL7 splits one staged L7 table into day parts.
func splitL7[T any](ctx context.Context, st Store, sh Shard, dir, file, table string, ords []int, version string, key func(*T) (*string, int64), add func(*T)) ([]provenance.File, error) {
	parts := newDayParts(ctx, st, table, sh,
		func(w io.Writer) (*report.TableWriter[T], error) { return report.NewTableWriter[T](w, version), nil },
		(*report.TableWriter[T]).Close)
	defer parts.abort()
	err := eachRow(ctx, filepath.Join(dir, file), func(r *T) error {
		id, ts := key(r)
		var err error
		if *id, err = renumber(*id, ords); err != nil {
			return err
		}
		add(r)
		w, err := parts.writer(ts)
		if err != nil {
			return err
		}
		return w.Write(*r)
	})
	if err != nil {
		return nil, err
	}
	return parts.commit()
}

// rowBatch is how many rows eachRow reads at once.
const rowBatch = 1024

// eachRow streams a local table's rows to fn, until ctx is done (a
// SIGTERM'd pod: the parts not committed are discarded).
func eachRow[T any](ctx context.Context, path string, fn func(*T) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	tr, err := report.OpenTable[T](f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer tr.Close()
	rows := make([]T, rowBatch)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := tr.Read(rows)
		for i := range n {
			if err := fn(&rows[i]); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}
