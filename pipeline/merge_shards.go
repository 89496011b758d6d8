package pipeline

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// MergeOptions are the settings of a merge.
type MergeOptions struct {
	Version string   // flowproof's version, for the manifest
	Command []string // the command line, for the manifest (redacted there)
}

// MergeResult is what MergeShards wrote.
type MergeResult struct {
	Shards   int
	Parts    int // table parts listed
	Flows    int64
	Manifest *report.Manifest
}

// ShardError is a problem merge found in a sharded output: Name is the file
// (from the output's root) it is about, Shard the shard it belongs to (-1
// when none), What what is wrong and what to do.
type ShardError struct {
	Name  string
	Shard int
	What  string
}

func (e *ShardError) Error() string { return e.Name + ": " + e.What }

// maxManifestBytes caps a shard manifest read back.
const maxManifestBytes = 256 << 20

// shardFile is one shard's manifest as merge read and checked it.
type shardFile struct {
	name string
	sm   *ShardManifest
	file provenance.File // the manifest's own size and SHA-256
}

// MergeShards checks every shard of a sharded output in st and writes, in
// its root, manifest.json listing every part, report.md (and its charts)
// over all of them, and an audit.jsonl entry whose inputs are the shards'
// manifests with their SHA-256.
//
// It checks, before writing anything: that shards 0 to n-1 each have a
// manifest, all agreeing on n, the input list and the settings; that each
// manifest is the one its shard's audit trail recorded; that every file a
// manifest lists exists with the size and SHA-256 listed; that no part
// lies in the tables that no manifest lists (an interrupted rerun's). Any
// failure is a *ShardError naming the file, and nothing is written.
//
// The report is made by streaming every flows part (and http and dns
// part) through the same report.Summary a single Analyze feeds, in the
// order a single Analyze produces the rows: by the capture's place in the
// input list (flow_id's prefix), then a shard's parts day by day. Its
// tables are the single run's, exactly, but for the order-dependent
// corners README: Sharded batch runs lists.
//
// It returns ErrPartial, with the result, when some shard skipped bad
// input.
func MergeShards(ctx context.Context, st Store, o MergeOptions) (*MergeResult, error) {
	started := time.Now()
	shards, err := readShardManifests(ctx, st)
	if err != nil {
		return nil, err
	}
	n := shards[0].sm.Shards
	listed := map[string]int{} // file -> shard
	var parts []provenance.File
	for _, sf := range shards {
		for _, f := range sf.sm.Manifest.Outputs {
			if owner, ok := listed[f.Name]; ok {
				return nil, &ShardError{Name: f.Name, Shard: sf.sm.Shard, What: fmt.Sprintf("listed by shard %d and shard %d: the manifests were edited", owner, sf.sm.Shard)}
			}
			listed[f.Name] = sf.sm.Shard
			if !strings.HasPrefix(f.Name, ShardsDir+"/") {
				if s, ok := shardOfName(f.Name); !ok || s != sf.sm.Shard {
					return nil, &ShardError{Name: f.Name, Shard: sf.sm.Shard, What: fmt.Sprintf("listed by shard %d's manifest but not in its partition: the manifest was edited", sf.sm.Shard)}
				}
				parts = append(parts, f)
			}
			if err := checkStored(ctx, st, f, sf.sm.Shard); err != nil {
				return nil, err
			}
		}
	}
	for _, table := range partTables {
		ents, err := st.List(ctx, table+"/")
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if _, ok := listed[e.Name]; !ok {
				s, _ := shardOfName(e.Name)
				return nil, &ShardError{Name: e.Name, Shard: s, What: fmt.Sprintf("not listed by any shard's manifest (left by an interrupted rerun of shard %d, or copied in): rerun that shard (it removes what it no longer lists), or remove the file", s)}
			}
		}
	}
	// By table, then day, then shard: the names sort so.
	sort.Slice(parts, func(i, j int) bool { return parts[i].Name < parts[j].Name })

	// The merged manifest.
	m := &report.Manifest{
		Tool:     provenance.Tool{Name: "flowproof", Version: o.Version},
		Command:  provenance.RedactArgs(o.Command),
		Started:  provenance.Time{Time: started},
		Settings: map[string]string{},
		Decode:   map[string]int64{},
	}
	type placed struct {
		at int
		in report.Input
	}
	var inputs []placed
	seenWarn := map[string]bool{}
	partial := false
	var wantFlows int64
	for _, sf := range shards {
		sm := sf.sm
		sub := sm.Manifest
		for k, v := range sub.Settings {
			if k != "shard" {
				m.Settings[k] = v
			}
		}
		k := 0
		for _, u := range sm.Selected {
			for c := range u.Captures {
				if k >= len(sub.Inputs) {
					return nil, &ShardError{Name: sf.name, Shard: sm.Shard, What: "lists fewer inputs than its units have captures: the manifest was edited"}
				}
				inputs = append(inputs, placed{u.First + c, sub.Inputs[k]})
				k++
			}
		}
		if k != len(sub.Inputs) {
			return nil, &ShardError{Name: sf.name, Shard: sm.Shard, What: "lists more inputs than its units have captures: the manifest was edited"}
		}
		for kind, c := range sub.Decode {
			m.Decode[kind] += c
		}
		for kind, c := range sub.L7 {
			if m.L7 == nil {
				m.L7 = map[string]int64{}
			}
			m.L7[kind] += c
		}
		for _, w := range sub.Warnings {
			if !seenWarn[w] {
				seenWarn[w] = true
				m.Warnings = append(m.Warnings, w)
			}
		}
		if len(sm.Skipped) > 0 {
			partial = true
		}
		wantFlows += sub.Flows
	}
	sort.Slice(inputs, func(i, j int) bool { return inputs[i].at < inputs[j].at })
	for i, p := range inputs {
		if p.at != i {
			return nil, &ShardError{Name: ShardsDir, Shard: -1, What: fmt.Sprintf("capture %d of the input list is in no shard's manifest (or in two): the manifests do not add up; rerun the shards", i)}
		}
		m.Inputs = append(m.Inputs, p.in)
	}
	if len(inputs) != shards[0].sm.Captures {
		return nil, &ShardError{Name: ShardsDir, Shard: -1, What: fmt.Sprintf("the shards read %d captures of the %d in the input list: the manifests do not add up; rerun the shards", len(inputs), shards[0].sm.Captures)}
	}

	// The summary, from the parts.
	opts := report.SummaryOptions{Parts: "*"}
	if v, err := strconv.ParseInt(m.Settings["flood_min"], 10, 64); err == nil {
		opts.FloodMinHalfOpen = v
	}
	if v, err := strconv.Atoi(m.Settings["scan_min_hosts"]); err == nil {
		opts.ScanMinHosts = v
	}
	if v, err := strconv.Atoi(m.Settings["scan_min_ports"]); err == nil {
		opts.ScanMinPorts = v
	}
	sum := report.NewSummary(opts)
	var flows int64
	err = mergeRows(ctx, st, parts, "flows", func(r *report.FlowRow) error {
		rec, err := r.Record()
		if err != nil {
			return err
		}
		sum.Add(&rec)
		flows++
		return nil
	}, func(r *report.FlowRow) string { return r.FlowID })
	if err != nil {
		return nil, err
	}
	if flows != wantFlows {
		return nil, &ShardError{Name: "flows", Shard: -1, What: fmt.Sprintf("the parts hold %d flows, the shards' manifests %d", flows, wantFlows)}
	}
	if m.Settings["l7"] == "true" {
		l7 := sum.L7()
		if err := mergeRows(ctx, st, parts, "http", func(r *report.HTTPRow) error { l7.AddHTTP(r); return nil }, func(r *report.HTTPRow) string { return r.FlowID }); err != nil {
			return nil, err
		}
		if err := mergeRows(ctx, st, parts, "dns", func(r *report.DNSRow) error { l7.AddDNS(r); return nil }, func(r *report.DNSRow) string { return r.FlowID }); err != nil {
			return nil, err
		}
	}
	m.Flows = flows
	m.Outputs = parts
	m.Finished = provenance.Time{Time: time.Now()}

	// Write: the report, then the manifest and the audit entry.
	m.Attacks = sum.Attacks()
	files := report.RenderReport(sum, m)
	for _, c := range []string{report.RTTChart, report.TalkerChart, report.TimeChart} {
		if _, ok := files[c]; !ok {
			if err := st.Remove(ctx, c); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range reportNames(files) {
		f, err := storeWrite(ctx, st, name, files[name])
		if err != nil {
			return nil, err
		}
		m.Outputs = append(m.Outputs, f)
	}
	var ins []provenance.AuditFile
	for _, sf := range shards {
		ins = append(ins, provenance.AuditFile{Path: sf.name, InDir: true, Size: sf.file.Size, SHA256: sf.file.SHA256})
	}
	marshal := func() ([]byte, error) { return report.MarshalManifest(m) }
	if err := writeManifestAndAudit(ctx, st, "", "merge", &m.AuditSeq, marshal, ins, m); err != nil {
		return nil, err
	}
	res := &MergeResult{Shards: n, Parts: len(parts), Flows: flows, Manifest: m}
	if partial {
		return res, ErrPartial
	}
	return res, nil
}

// readShardManifests reads and cross-checks every shard's manifest.
func readShardManifests(ctx context.Context, st Store) ([]shardFile, error) {
	ents, err := st.List(ctx, ShardsDir+"/")
	if err != nil {
		return nil, err
	}
	var found []shardFile
	for _, e := range ents {
		s, ok := shardOfName(e.Name)
		if !ok {
			continue
		}
		if e.Name != shardPrefix(Shard{Index: s})+ShardManifestFile {
			continue
		}
		sf, err := readShardManifest(ctx, st, e.Name, s)
		if err != nil {
			return nil, err
		}
		found = append(found, sf)
	}
	if len(found) == 0 {
		return nil, &ShardError{Name: ShardsDir, Shard: -1, What: fmt.Sprintf("no shard manifest in %s: run `flowproof analyze --shard i/n -o OUT` for i = 0 to n-1 first", st)}
	}
	first := found[0].sm
	for _, sf := range found[1:] {
		sm := sf.sm
		switch {
		case sm.Shards != first.Shards:
			return nil, &ShardError{Name: sf.name, Shard: sm.Shard, What: fmt.Sprintf("shard %d ran as one of %d shards, shard %d as one of %d: the output mixes two runs; run every shard with the same n into an empty output", sm.Shard, sm.Shards, first.Shard, first.Shards)}
		case sm.InputSet != first.InputSet:
			return nil, &ShardError{Name: sf.name, Shard: sm.Shard, What: fmt.Sprintf("shard %d read another input list than shard %d (%d units against %d): every shard must be given the same inputs; rerun it", sm.Shard, first.Shard, sm.Units, first.Units)}
		}
		for _, k := range sortedKeys(first.Settings) {
			if sm.Settings[k] != first.Settings[k] {
				return nil, &ShardError{Name: sf.name, Shard: sm.Shard, What: fmt.Sprintf("setting %s is %q, shard %d's is %q: every shard must run with the same flags; rerun it", k, sm.Settings[k], first.Shard, first.Settings[k])}
			}
		}
		if len(sm.Settings) != len(first.Settings) {
			return nil, &ShardError{Name: sf.name, Shard: sm.Shard, What: fmt.Sprintf("its settings differ from shard %d's: every shard must run with the same flags; rerun it", first.Shard)}
		}
	}
	byIndex := make([]shardFile, first.Shards)
	have := make([]bool, first.Shards)
	for _, sf := range found {
		if sf.sm.Shard >= first.Shards {
			return nil, &ShardError{Name: sf.name, Shard: sf.sm.Shard, What: fmt.Sprintf("shard %d of a run of %d shards: the output mixes two runs", sf.sm.Shard, first.Shards)}
		}
		byIndex[sf.sm.Shard], have[sf.sm.Shard] = sf, true
	}
	var missing []int
	for i, ok := range have {
		if !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		var list []string
		for _, i := range missing[:min(len(missing), 10)] {
			list = append(list, strconv.Itoa(i))
		}
		if len(missing) > 10 {
			list = append(list, fmt.Sprintf("and %d more", len(missing)-10))
		}
		m := missing[0]
		return nil, &ShardError{Name: shardPrefix(Shard{Index: m}) + ShardManifestFile, Shard: m, What: fmt.Sprintf("missing: shard(s) %s of %d never finished (or never ran); run `flowproof analyze --shard %d/%d` with the same inputs and flags, then merge again", strings.Join(list, ", "), first.Shards, m, first.Shards)}
	}
	return byIndex, nil
}

// readShardManifest reads one shard manifest strictly and checks it against
// the entry of its shard's audit trail that recorded it.
func readShardManifest(ctx context.Context, st Store, name string, dirShard int) (shardFile, error) {
	b, err := storeRead(ctx, st, name, maxManifestBytes)
	if err != nil {
		return shardFile{}, &ShardError{Name: name, Shard: dirShard, What: fmt.Sprintf("unreadable: %v", err)}
	}
	bad := func(what string) error {
		return &ShardError{Name: name, Shard: dirShard, What: what + fmt.Sprintf("; rerun shard %d", dirShard)}
	}
	sm, err := decodeShardManifest(b, dirShard)
	if err != nil {
		return shardFile{}, bad(err.Error())
	}
	sum := sha256.Sum256(b)
	f := provenance.File{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	rec, err := recordedManifest(ctx, st, shardPrefix(Shard{Index: dirShard}), sm.Manifest.AuditSeq)
	if err != nil {
		return shardFile{}, bad(err.Error())
	}
	if rec != f.SHA256 {
		return shardFile{}, bad(fmt.Sprintf("its SHA-256 is %s, its shard's audit trail recorded %s: the manifest was edited after the shard wrote it", f.SHA256, rec))
	}
	return shardFile{name: name, sm: sm, file: f}, nil
}

// decodeShardManifest decodes a shard manifest strictly (no unknown
// field, nothing after it) and checks what it says of itself: its version,
// that it is shard dirShard, of a possible number of shards.
func decodeShardManifest(b []byte, dirShard int) (*ShardManifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	sm := &ShardManifest{}
	if err := dec.Decode(sm); err != nil {
		return nil, fmt.Errorf("not a shard manifest: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not a shard manifest: data after it")
	}
	switch {
	case sm.Version != ShardManifestVersion:
		return nil, fmt.Errorf("shard manifest version %d, this flowproof reads %d", sm.Version, ShardManifestVersion)
	case sm.Manifest == nil:
		return nil, errors.New("the manifest has no analysis")
	case sm.Shard != dirShard:
		return nil, fmt.Errorf("says it is shard %d, in shard %d's directory: the manifest was edited or moved", sm.Shard, dirShard)
	case (Shard{Index: sm.Shard, Count: sm.Shards}).Valid() != nil:
		return nil, fmt.Errorf("shard %d of %d is impossible", sm.Shard, sm.Shards)
	}
	for _, u := range sm.Selected {
		if u.First < 0 || u.Captures < 1 || u.First+u.Captures > sm.Captures {
			return nil, fmt.Errorf("unit %q: captures %d to %d of %d: impossible", u.Key, u.First, u.First+u.Captures, sm.Captures)
		}
	}
	return sm, nil
}

// recordedManifest returns the SHA-256 of manifest.json that entry seq of
// the audit trail in prefix recorded, checking that line's own hash.
func recordedManifest(ctx context.Context, st Store, prefix string, seq int64) (string, error) {
	trail := prefix + provenance.AuditFileName
	b, err := storeRead(ctx, st, trail, maxAuditBytes)
	if err != nil {
		return "", fmt.Errorf("%s unreadable: %v", trail, err)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var e provenance.AuditEntry
		if json.Unmarshal(line, &e) != nil || e.Seq != seq {
			continue
		}
		if _, ok := provenance.LineHashOK(line); !ok {
			return "", fmt.Errorf("%s line %d: altered (its sha256 does not match)", trail, i+1)
		}
		for _, o := range e.Outputs {
			if o.Path == ShardManifestFile {
				return o.SHA256, nil
			}
		}
	}
	return "", fmt.Errorf("%s has no entry %d recording the manifest (the manifest names it as audit_seq): the manifest or the trail was edited", trail, seq)
}

// checkStored checks that a listed file exists with its listed size and
// SHA-256.
func checkStored(ctx context.Context, st Store, f provenance.File, shard int) error {
	got, err := storeHash(ctx, st, f.Name)
	if err != nil {
		return &ShardError{Name: f.Name, Shard: shard, What: fmt.Sprintf("listed by shard %d's manifest, but unreadable (%v): deleted after the shard wrote it? rerun shard %d", shard, err, shard)}
	}
	if got.Size != f.Size || got.SHA256 != f.SHA256 {
		return &ShardError{Name: f.Name, Shard: shard, What: fmt.Sprintf("%d bytes with SHA-256 %s, shard %d's manifest lists %d bytes with %s: the file changed after the shard wrote it (edited, or a rerun of the shard was interrupted); rerun shard %d", got.Size, got.SHA256, shard, f.Size, f.SHA256, shard)}
	}
	return nil
}

// mergeRows streams the rows of one table's parts to fn in the order a
// single Analyze wrote them: by the capture ordinal that prefixes flow_id,
// ties (one shard's parts of several days) by part order. Each part is
// already in that order, so this is a k-way merge. An open part costs its
// column readers' buffers (about 1.7 MB for a flows part), so at most
// maxOpenParts are open at once; a part set aside keeps only its place and
// its next row's ordinal, and is reopened there when its turn comes.
func mergeRows[T any](ctx context.Context, st Store, parts []provenance.File, table string, fn func(*T) error, id func(*T) string) error {
	m := &partMerge[T]{ctx: ctx, st: st, id: id}
	defer m.closeAll()
	for i, p := range parts {
		if !strings.HasPrefix(p.Name, table+"/") {
			continue
		}
		c := &cursor[T]{name: p.Name, order: i}
		ok, err := m.load(c)
		if err != nil {
			return err
		}
		if ok {
			m.h.cs = append(m.h.cs, c)
		}
		m.release(c) // open only while its rows are being read
	}
	heap.Init(&m.h)
	for len(m.h.cs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := m.h.cs[0]
		if ok, err := m.load(c); err != nil || !ok {
			if err == nil {
				err = &ShardError{Name: c.name, Shard: -1, What: fmt.Sprintf("row %d vanished when the part was read again", c.pos)}
			}
			return err
		}
		if err := fn(&c.rows[c.at]); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		c.at++
		c.pos++
		ok, err := m.load(c)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&m.h, 0)
		} else {
			m.release(c)
			heap.Pop(&m.h)
		}
	}
	return nil
}

// maxOpenParts bounds the parts mergeRows holds open (a variable for the
// tests).
var maxOpenParts = 16

// cursorBatch is how many rows an open part holds.
const cursorBatch = 128

// partMerge is the state of one mergeRows.
type partMerge[T any] struct {
	ctx  context.Context
	st   Store
	id   func(*T) string
	h    cursorHeap[T]
	open []*cursor[T] // open parts, least recently used first
}

// cursor is one part being read in mergeRows. Its next row is row pos of
// the part, rows[at] while it is loaded; ord is that row's capture
// ordinal, which the heap orders by.
type cursor[T any] struct {
	name     string
	order    int
	pos      int64
	ord      int
	f        StoreFile
	tr       *report.TableReader[T]
	rows     []T
	n, at    int
	finished bool // the reader returned its last rows
}

// load makes rows[at] row pos of c's part, opening the part or reading a
// batch when needed; false when the part is done.
func (m *partMerge[T]) load(c *cursor[T]) (bool, error) {
	if c.at < c.n {
		m.touch(c)
		return true, m.ordinal(c)
	}
	if c.finished {
		return false, nil
	}
	if c.tr == nil {
		if err := m.reopen(c); err != nil {
			return false, err
		}
	}
	n, err := c.tr.Read(c.rows)
	if errors.Is(err, io.EOF) {
		c.finished = true
	} else if err != nil {
		return false, &ShardError{Name: c.name, Shard: -1, What: err.Error()}
	}
	c.n, c.at = n, 0
	if n == 0 {
		return false, nil
	}
	m.touch(c)
	return true, m.ordinal(c)
}

// ordinal sets c.ord from rows[at], which must not go back.
func (m *partMerge[T]) ordinal(c *cursor[T]) error {
	id := m.id(&c.rows[c.at])
	ord, ok := report.FlowOrdinal(id)
	if !ok || ord < c.ord {
		return &ShardError{Name: c.name, Shard: -1, What: fmt.Sprintf("row %d with flow_id %q out of order or malformed: not a part a shard wrote", c.pos, id)}
	}
	c.ord = ord
	return nil
}

// reopen opens c's part at row c.pos, setting aside the least recently
// used open part when maxOpenParts are open.
func (m *partMerge[T]) reopen(c *cursor[T]) error {
	if len(m.open) >= maxOpenParts {
		m.release(m.open[0])
	}
	f, err := m.st.Open(m.ctx, c.name)
	if err != nil {
		return &ShardError{Name: c.name, Shard: -1, What: err.Error()}
	}
	tr, err := report.OpenTable[T](f, f.Size())
	if err == nil && c.pos > 0 {
		err = tr.SeekToRow(c.pos)
	}
	if err != nil {
		f.Close()
		return &ShardError{Name: c.name, Shard: -1, What: err.Error()}
	}
	c.f, c.tr = f, tr
	if c.rows == nil {
		c.rows = make([]T, cursorBatch)
	}
	m.open = append(m.open, c)
	return nil
}

// touch marks c, open, as the most recently used part.
func (m *partMerge[T]) touch(c *cursor[T]) {
	if k := len(m.open) - 1; k < 0 || m.open[k] == c {
		return
	}
	for i, o := range m.open {
		if o == c {
			copy(m.open[i:], m.open[i+1:])
			m.open[len(m.open)-1] = c
			return
		}
	}
}

// release closes c's part, dropping its loaded rows: it keeps pos and ord
// and reads row pos again when reopened.
func (m *partMerge[T]) release(c *cursor[T]) {
	if c.tr == nil {
		return
	}
	c.tr.Close()
	c.f.Close()
	c.tr, c.f = nil, nil
	c.n, c.at, c.finished = 0, 0, false
	c.rows = nil // nothing of the closed reader is kept
	for i, o := range m.open {
		if o == c {
			m.open = append(m.open[:i], m.open[i+1:]...)
			break
		}
	}
}

func (m *partMerge[T]) closeAll() {
	for len(m.open) > 0 {
		m.release(m.open[0])
	}
}

type cursorHeap[T any] struct{ cs []*cursor[T] }

func (h *cursorHeap[T]) Len() int { return len(h.cs) }
func (h *cursorHeap[T]) Less(i, j int) bool {
	a, b := h.cs[i], h.cs[j]
	return a.ord < b.ord || a.ord == b.ord && a.order < b.order
}
func (h *cursorHeap[T]) Swap(i, j int) { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *cursorHeap[T]) Push(x any)    { h.cs = append(h.cs, x.(*cursor[T])) }
func (h *cursorHeap[T]) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return c
}
