package report

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/provenance"
)

// Files WriteReport writes into the output directory.
const (
	ReportFile  = "report.md"
	RTTChart    = "rtt.svg"
	TimeChart   = "traffic.svg"
	TalkerChart = "talkers.svg"
)

// Report limits that keep report.md the same length whatever the input.
const (
	maxEvidenceRows = 20 // inputs listed in the Evidence table
	maxProblemRows  = 10 // inputs not (fully) read, listed with their error
	maxWarnings     = 10
	maxDecodeKinds  = 8
)

// RenderReport returns report.md and its charts, by file name, for the flows
// in s and the run that m describes (its inputs, settings, command, times and
// the outputs written so far, such as flows.parquet). The same summary and
// manifest always give the same bytes. A chart is absent when it has no
// data.
func RenderReport(s *Summary, m *Manifest) map[string][]byte {
	r := &renderer{s: s, m: m, qs: reportQueries(s), files: map[string][]byte{}}
	if s.opts.Parts != "" {
		for i := range r.qs {
			r.qs[i].sql = PartsSQL(r.qs[i].sql, s.opts.Parts)
		}
	}
	r.render()
	r.files[ReportFile] = r.b.Bytes()
	return r.files
}

// WriteReport writes report.md and its charts into dir (each atomically),
// removes charts a previous run left that this report does not have, and
// returns what it wrote, in the order report.md, then the charts by name.
func WriteReport(dir string, s *Summary, m *Manifest) ([]provenance.File, error) {
	files := RenderReport(s, m)
	names := []string{ReportFile}
	for _, c := range []string{RTTChart, TalkerChart, TimeChart} {
		if _, ok := files[c]; ok {
			names = append(names, c)
		} else if err := os.Remove(filepath.Join(dir, c)); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	var outs []provenance.File
	for _, name := range names {
		path := filepath.Join(dir, name)
		o, err := provenance.WriteFile(path, files[name], 0o644)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
		outs = append(outs, o)
	}
	return outs, nil
}

type renderer struct {
	s     *Summary
	m     *Manifest
	qs    []query
	b     bytes.Buffer
	files map[string][]byte
}

func (r *renderer) p(format string, args ...any) {
	fmt.Fprintf(&r.b, format, args...)
	r.b.WriteString("\n\n")
}

func (r *renderer) line(s string) { r.b.WriteString(s + "\n") }

// table writes a Markdown table preceded by its id marker, which the tests and
// the Reproduce section use to pair it with its query.
func (r *renderer) table(id string, complete bool, header []string, rows [][]string) {
	mark := id
	if !complete {
		mark += " incomplete"
	}
	r.line("<!-- table: " + mark + " -->")
	r.line("| " + strings.Join(header, " | ") + " |")
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---"
		if i > 0 && rows != nil && isNumeric(rows[0][i]) {
			seps[i] = "--:"
		}
	}
	r.line("|" + strings.Join(seps, "|") + "|")
	for _, row := range rows {
		r.line("| " + strings.Join(row, " | ") + " |")
	}
	r.b.WriteString("\n")
}

func isNumeric(cell string) bool {
	cell = strings.TrimPrefix(cell, "≈")
	if cell == "" || cell == "-" {
		return false
	}
	if strings.Count(cell, ".") > 1 {
		return false // an IPv4 address
	}
	for _, c := range cell {
		if !(c >= '0' && c <= '9' || c == ',' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// h returns a column header linked to its definition in the Method section.
func h(label, def string) string { return "[" + label + "](#" + def + ")" }

// queryLink points to the statement that regenerates table id.
func queryLink(id string) string { return "[query](#q-" + id + ")" }

func (r *renderer) render() {
	s := r.s
	r.p("# flowproof report")
	r.overview()
	r.line("Contents: [Evidence](#evidence) · [Findings](#findings) · [Summary](#summary) · " +
		"[Top talkers](#top-talkers) · [Handshake RTT](#handshake-rtt) · [TCP health](#tcp-health) · " +
		ifElse(s.l7 != nil, "[HTTP](#http) · [DNS](#dns) · ", "") +
		ifElse(len(s.crosscheck) > 0 || s.xc != nil || s.xcL7 != nil, "[Cross-check](#cross-check) · ", "") +
		"[Method](#method) · [Reproduce](#reproduce)")
	r.b.WriteString("\n")
	r.evidence()
	r.findings()
	r.summary()
	r.talkers()
	r.handshakes()
	r.tcpHealth()
	if s.l7 != nil {
		r.httpSection()
		r.dnsSection()
	}
	if len(s.crosscheck) > 0 || s.xc != nil || s.xcL7 != nil {
		r.crossCheck()
	}
	r.method()
	r.reproduce()
}

func ifElse[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

func (r *renderer) overview() {
	s, m := r.s, r.m
	var pkts, size int64
	read := 0
	for _, in := range m.Inputs {
		pkts += in.Packets
		size += in.Size
		if in.Status != StatusFailed {
			read++
		}
	}
	what := fmt.Sprintf("**%s** (%s, %s packets)", plural(int64(read), "capture", "captures"), fmtSize(size), fmtInt(pkts))
	if s.flows == 0 {
		r.p("%s analysed by %s %s: **no TCP or UDP flows**.", what, mdText(m.Tool.Name), mdText(m.Tool.Version))
	} else {
		r.p("%s analysed by %s %s: **%s** from %s to %s (%s).", what, mdText(m.Tool.Name), mdText(m.Tool.Version),
			plural(s.flows, "flow", "flows"), fmtTime(s.firstNs), fmtTime(s.lastNs), fmtDuration(s.lastNs-s.firstNs))
	}
	r.p("Analysis started %s and finished %s. Every number below is regenerated from %s by the DuckDB query linked beside it ([Reproduce](#reproduce)); every term is defined in [Method](#method).",
		provenance.FormatTime(m.Started.Time), provenance.FormatTime(m.Finished.Time), r.tables())
}

// tables names the Parquet files the report's numbers come from.
func (r *renderer) tables() string {
	if r.s.l7 != nil {
		return "flows.parquet, http.parquet and dns.parquet"
	}
	return "flows.parquet"
}

// ---- Evidence ----

func (r *renderer) evidence() {
	m := r.m
	r.p("## Evidence")
	var ok, partial, failed int64
	for _, in := range m.Inputs {
		switch in.Status {
		case StatusOK:
			ok++
		case StatusPartial:
			partial++
		default:
			failed++
		}
	}
	r.p("%s: %s read completely, %s read in part, %s not read. Sizes and SHA-256 are of the files as stored (compressed or not); `flowproof verify` recomputes them when the captures are inside the output directory. The number before the dash in a flow id is the input's #.",
		plural(int64(len(m.Inputs)), "input", "inputs"), fmtInt(ok), fmtInt(partial), fmtInt(failed))
	var rows [][]string
	shown := 0
	for i, in := range m.Inputs {
		if in.Status == StatusFailed {
			continue
		}
		if shown == maxEvidenceRows {
			break
		}
		shown++
		var lts []string
		for _, lt := range in.LinkTypes {
			lts = append(lts, fmt.Sprintf("%s (%d)", cmp.Or(lt.Name, "linktype"), lt.LinkType))
		}
		rows = append(rows, []string{
			strconv.Itoa(i + 1), mdText(in.Name), mdText(cmp.Or(in.Source, "file")), fmtInt(in.Size),
			fmtInt(in.Packets), mdText(strings.Join(lts, ", ")), cmp.Or(in.First, "-"), cmp.Or(in.Last, "-"),
			in.Status, mdCode(in.SHA256),
		})
	}
	if len(rows) > 0 {
		r.table("inputs", true, []string{"#", "capture", "source", "size (bytes)", "packets", "link types", "first packet", "last packet", "status", "sha256"}, rows)
		if n := ok + partial; n > int64(shown) {
			r.p("The first %d of %s inputs read are listed; manifest.json lists every input with its SHA-256.", shown, fmtInt(n))
		}
	}
	var doubled []string
	var folded int64
	for i, in := range m.Inputs {
		if v := in.Vantage; v != nil && v.DuplicatesFolded > 0 {
			doubled = append(doubled, "#"+strconv.Itoa(i+1))
			folded += v.DuplicatesFolded
		}
	}
	if len(doubled) > 0 {
		r.p("%s recorded packets at two vantage points (a Kubeshark capture records a packet at the sender's egress and again at the receiver's ingress): %s records were copies of another and were folded, so packets, bytes and retransmissions count each packet once, as the originator's side saw it, and RTTs are the client's; `dup_pkts`, `vantages` and the `*_transit_p50_ns` columns say per flow what the second vantage point added (manifest.json: each input's `vantage`).",
			ifElse(len(doubled) == 1, "Input "+doubled[0], "Inputs "+strings.Join(doubled, ", ")), fmtInt(folded))
	}
	if partial+failed > 0 {
		r.p("### Inputs not read completely")
		// Inputs read in part first: their flows are in the report, cut short.
		var prow [][]string
		for _, partialPass := range []bool{true, false} {
			for i, in := range m.Inputs {
				if in.Status == StatusOK || (in.Status == StatusPartial) != partialPass {
					continue
				}
				if len(prow) == maxProblemRows {
					break
				}
				prow = append(prow, []string{strconv.Itoa(i + 1), mdText(in.Name), mdText(in.Status), fmtInt(in.Packets), mdCode(in.SHA256), mdText(in.Error)})
			}
		}
		r.table("inputs-not-read", true, []string{"#", "input", "status", "packets used", "sha256", "error"}, prow)
		if n := partial + failed; n > int64(len(prow)) {
			r.p("The first %d of %s are listed; manifest.json has them all.", len(prow), fmtInt(n))
		}
	}

	r.p("### Outputs")
	var orow [][]string
	for _, o := range m.Outputs {
		orow = append(orow, []string{mdText(o.Name), fmtInt(o.Size), mdCode(o.SHA256)})
	}
	if len(orow) > 0 {
		r.table("outputs", true, []string{"file", "size (bytes)", "sha256"}, orow)
	}
	r.p("manifest.json lists these, this report and its charts with their SHA-256; audit.jsonl records manifest.json's SHA-256 in a hash-chained entry. `flowproof verify DIR` checks all of it.")

	r.p("### Run")
	settings := make([]string, 0, len(m.Settings))
	for k, v := range m.Settings {
		settings = append(settings, mdCode(k+"="+v))
	}
	sort.Strings(settings)
	r.line(fmt.Sprintf("- Tool: %s %s", mdText(m.Tool.Name), mdText(m.Tool.Version)))
	r.line(fmt.Sprintf("- Started %s, finished %s", provenance.FormatTime(m.Started.Time), provenance.FormatTime(m.Finished.Time)))
	if len(settings) > 0 {
		r.line("- Settings: " + strings.Join(settings, ", "))
	}
	r.line("- Command: see [Reproduce](#reproduce)")
	r.b.WriteString("\n")

	var other []string
	var otherPkts int64
	kinds := make([]string, 0, len(m.Decode))
	for k := range m.Decode {
		if k != "tcp" && k != "udp" {
			kinds = append(kinds, k)
		}
	}
	slices.SortFunc(kinds, func(a, b string) int {
		return cmp.Or(cmp.Compare(m.Decode[b], m.Decode[a]), cmp.Compare(a, b))
	})
	for i, k := range kinds {
		otherPkts += m.Decode[k]
		if i < maxDecodeKinds {
			other = append(other, mdText(k)+" "+fmtInt(m.Decode[k]))
		}
	}
	if len(kinds) > 0 {
		more := ""
		if len(kinds) > maxDecodeKinds {
			more = fmt.Sprintf("; %d kinds in all in manifest.json's decode", len(kinds))
		}
		r.p("Packets that are not TCP or UDP over IP were counted, not analysed: %s packets (%s%s).", fmtInt(otherPkts), strings.Join(other, ", "), more)
	}
	// Warnings that repeat an input's error (listed above) are left out.
	var warnings []string
	repeats := 0
	for _, w := range m.Warnings {
		dup := false
		for _, in := range m.Inputs {
			if in.Error != "" && strings.HasPrefix(w, in.Error) {
				dup = true
				break
			}
		}
		if dup {
			repeats++
		} else {
			warnings = append(warnings, w)
		}
	}
	if len(warnings) > 0 {
		r.p("### Warnings")
		for i, w := range warnings {
			if i == maxWarnings {
				r.line(fmt.Sprintf("- … and %s more in manifest.json", fmtInt(int64(len(warnings)-maxWarnings))))
				break
			}
			r.line("- " + mdText(w))
		}
		r.b.WriteString("\n")
	}
	if repeats > 0 {
		r.p("manifest.json also has %s repeating the input errors above.", plural(int64(repeats), "warning", "warnings"))
	}
}

// ---- Summary ----

func (r *renderer) summary() {
	s := r.s
	r.p("## Summary")
	if s.synthetic > 0 {
		r.p("flows.parquet has %s; %s ([synthetic](#m-synthetic)), left out of everything below.",
			plural(s.rows, "row", "rows"), ifElse(s.synthetic == 1, "1 is Kubeshark's plaintext twin of a TLS connection",
				fmtInt(s.synthetic)+" are Kubeshark's plaintext twins of TLS connections"))
	}
	if s.flows == 0 {
		r.p("No flows.")
		return
	}
	r.table("summary", true,
		[]string{h("flows", "m-flow"), h("packets", "m-packets"), h("payload bytes", "m-bytes"), h("wire bytes", "m-wire-bytes"), h("first packet", "m-time"), h("last packet", "m-time")},
		[][]string{{fmtInt(s.flows), fmtInt(s.pkts), fmtInt(s.bytes), fmtInt(s.wireBytes), fmtTime(s.firstNs), fmtTime(s.lastNs)}})
	r.p("%s of payload (%s on the wire) in %s. %s.", fmtSize(s.bytes), fmtSize(s.wireBytes), fmtDuration(s.lastNs-s.firstNs), queryLink("summary"))

	protos := make([]string, 0, len(s.protos))
	for p := range s.protos {
		protos = append(protos, p)
	}
	slices.SortFunc(protos, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.protos[b].flows, s.protos[a].flows), cmp.Compare(a, b))
	})
	var prow [][]string
	for _, p := range protos {
		a := s.protos[p]
		prow = append(prow, []string{mdText(p), fmtInt(a.flows), fmtInt(a.pkts), fmtInt(a.bytes)})
	}
	r.p("### Protocols")
	r.table("protocols", true, []string{"proto", h("flows", "m-flow"), h("packets", "m-packets"), h("payload bytes", "m-bytes")}, prow)
	r.p("%s.", queryLink("protocols"))

	r.p("### Connection states")
	keys := make([]stateKey, 0, len(s.states))
	for k := range s.states {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b stateKey) int {
		return cmp.Or(cmp.Compare(*s.states[b], *s.states[a]), cmp.Compare(a.proto, b.proto), cmp.Compare(a.state, b.state))
	})
	var srow [][]string
	for _, k := range keys {
		srow = append(srow, []string{mdText(k.proto), mdText(k.state), fmtInt(*s.states[k]), stateMeaning(k.proto, k.state)})
	}
	r.table("states", true, []string{"proto", h("state", "m-state"), h("flows", "m-flow"), "meaning"}, srow)
	r.p("Every state, with Zeek's meaning. %s.", queryLink("states"))

	r.p("### Top server ports")
	type pk struct {
		proto string
		port  int
		a     portAgg
	}
	var ports []pk
	distinct := 0
	for pi, name := range []string{"tcp", "udp"} {
		if s.ports[pi] == nil {
			continue
		}
		for port, a := range s.ports[pi] {
			if a.flows > 0 {
				distinct++
				ports = append(ports, pk{name, port, a})
			}
		}
	}
	slices.SortFunc(ports, func(a, b pk) int {
		return cmp.Or(cmp.Compare(b.a.flows, a.a.flows), cmp.Compare(b.a.bytes, a.a.bytes), cmp.Compare(a.proto, b.proto), cmp.Compare(a.port, b.port))
	})
	ports = ports[:min(len(ports), s.opts.TopN)]
	var portRows [][]string
	for _, p := range ports {
		portRows = append(portRows, []string{p.proto, strconv.Itoa(p.port), fmtInt(p.a.flows), fmtInt(p.a.bytes)})
	}
	r.table("ports", true, []string{"proto", h("port", "m-server"), h("flows", "m-flow"), h("payload bytes", "m-bytes")}, portRows)
	r.p("Top %d of %s (proto, server port) pairs by flows. %s.", len(ports), fmtInt(int64(distinct)), queryLink("ports"))

	r.p("### Traffic over time")
	tl := r.timelineRows()
	r.files[TimeChart] = trafficChart(tl, s.timeline.width, s.timeline.halfOpen > 0)
	r.p("![Payload bytes, flows%s by the interval their flow started in, %s intervals](%s)", ifElse(s.timeline.halfOpen > 0, " and half-open TCP connections", ""), fmtDuration(s.timeline.width), TimeChart)
	r.line("<details><summary>Numbers behind the chart</summary>")
	r.b.WriteString("\n")
	var trow [][]string
	for _, b := range tl {
		if b.v.flows > 0 {
			trow = append(trow, []string{fmtTime(b.start), fmtInt(b.v.flows), fmtInt(b.v.bytes), fmtInt(b.v.halfOpen)})
		}
	}
	r.table("traffic", true, []string{h("interval start", "m-interval"), h("flows started", "m-flow"), h("payload bytes", "m-bytes"), h("half-open TCP", "m-flood")}, trow)
	r.line("</details>")
	r.b.WriteString("\n")
	r.p("Intervals of %s (%s of them, empty ones left out of the table); a flow's bytes count in the interval it started in. %s.",
		fmtDuration(s.timeline.width), fmtInt(int64(len(tl))), queryLink("traffic"))
}

type interval struct {
	start int64
	v     tlBucket
}

// timelineRows returns every interval from the first to the last, empty
// ones included.
func (r *renderer) timelineRows() []interval {
	t := &r.s.timeline
	var out []interval
	for i := t.lo; i <= t.hi; i++ {
		iv := interval{start: i * t.width}
		if v := t.buckets[i]; v != nil {
			iv.v = *v
		}
		out = append(out, iv)
	}
	return out
}

// ---- Top talkers ----

type talkerRow struct {
	proto, client, server string
	port                  uint16
	v                     volume
}

func (r *renderer) talkers() {
	s := r.s
	r.p("## Top talkers")
	if s.flows == 0 {
		r.p("No flows.")
		return
	}
	rows := make([]talkerRow, 0, len(s.talkers))
	for k, v := range s.talkers {
		rows = append(rows, talkerRow{k.proto, k.src.String(), k.dst.String(), k.port, *v})
	}
	keyCmp := func(a, b talkerRow) int {
		return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.client, b.client), cmp.Compare(a.server, b.server), cmp.Compare(a.port, b.port))
	}
	n := s.opts.TopN
	byBytes := firstN(rows, n, func(a, b talkerRow) int {
		return cmp.Or(cmp.Compare(b.v.bytes, a.v.bytes), cmp.Compare(b.v.flows, a.v.flows), keyCmp(a, b))
	})
	byFlows := firstN(rows, n, func(a, b talkerRow) int {
		return cmp.Or(cmp.Compare(b.v.flows, a.v.flows), cmp.Compare(b.v.bytes, a.v.bytes), keyCmp(a, b))
	})
	distinct := int64(len(s.talkers))
	capped := s.talkersUntracked.flows > 0

	r.files[TalkerChart] = talkerChart(byBytes)
	r.p("![Top %d conversations by payload bytes](%s)", len(byBytes), TalkerChart)
	header := []string{"proto", h("client", "m-client"), h("server", "m-server"), h("port", "m-server"), h("flows", "m-flow"), h("payload bytes", "m-bytes")}
	toRows := func(ts []talkerRow) [][]string {
		var out [][]string
		for _, t := range ts {
			out = append(out, []string{t.proto, t.client, t.server, strconv.Itoa(int(t.port)), fmtInt(t.v.flows), fmtInt(t.v.bytes)})
		}
		return out
	}
	of := fmtInt(distinct)
	if capped {
		of = "at least " + fmtInt(distinct+1)
	}
	r.p("### Top %d conversations by payload bytes", len(byBytes))
	okBytes := complete(s.talkersUntracked.bytes, len(byBytes), n, func(i int) int64 { return byBytes[i].v.bytes })
	r.table("talkers-bytes", okBytes, header, toRows(byBytes))
	r.p("Top %d of %s [conversations](#m-conversation) (client, server, port). %s.", len(byBytes), of, queryLink("talkers-bytes"))
	r.capNote(okBytes, "conversations", s.opts.MaxTalkers, s.talkersUntracked)

	r.p("### Top %d conversations by flows", len(byFlows))
	okFlows := complete(s.talkersUntracked.flows, len(byFlows), n, func(i int) int64 { return byFlows[i].v.flows })
	r.table("talkers-flows", okFlows, header, toRows(byFlows))
	r.p("Top %d of %s conversations. %s.", len(byFlows), of, queryLink("talkers-flows"))
	r.capNote(okFlows, "conversations", s.opts.MaxTalkers, s.talkersUntracked)

	if s.identityFlows == 0 {
		r.p("No flow carries a Kubernetes identity (it comes from Kubeshark), so there is no table by pod or namespace.")
		return
	}
	type wrow struct {
		k workloadKey
		v volume
	}
	ws := make([]wrow, 0, len(s.workloads))
	for k, v := range s.workloads {
		ws = append(ws, wrow{k, *v})
	}
	slices.SortFunc(ws, func(a, b wrow) int {
		return cmp.Or(cmp.Compare(b.v.bytes, a.v.bytes), cmp.Compare(b.v.flows, a.v.flows),
			cmp.Compare(a.k.srcNS, b.k.srcNS), cmp.Compare(a.k.srcPod, b.k.srcPod), cmp.Compare(a.k.dstNS, b.k.dstNS), cmp.Compare(a.k.dst, b.k.dst))
	})
	ws = ws[:min(n, len(ws))]
	var wr [][]string
	for _, w := range ws {
		wr = append(wr, []string{mdText(w.k.srcNS), mdText(w.k.srcPod), mdText(w.k.dstNS), mdText(w.k.dst), fmtInt(w.v.flows), fmtInt(w.v.bytes)})
	}
	r.p("### Top %d workload pairs by payload bytes", len(ws))
	okW := complete(s.workUntracked.bytes, len(ws), n, func(i int) int64 { return ws[i].v.bytes })
	r.table("workloads", okW, []string{h("client namespace", "m-identity"), h("client pod", "m-identity"), h("server namespace", "m-identity"), h("server", "m-identity"), h("flows", "m-flow"), h("payload bytes", "m-bytes")}, wr)
	r.p("%s of %s flows carry a Kubernetes identity. %s.", fmtInt(s.identityFlows), fmtInt(s.flows), queryLink("workloads"))
	r.capNote(okW, "workload pairs", s.opts.MaxTalkers, s.workUntracked)
}

// complete reports whether a top-n table built from capped aggregates is
// provably the table the full data gives: whatever was not tracked sums to
// less than the smallest value shown (when the table is full), or to nothing.
func complete(untracked int64, shown, n int, value func(int) int64) bool {
	if untracked == 0 {
		return true
	}
	return shown == n && untracked < value(shown-1)
}

// firstN returns the n first of v in the order of cmp (a total order: no
// two elements compare equal), as sorting v and keeping n would, without
// sorting all of v (a full talkers map is 65,536 rows for 10).
func firstN[T any](v []T, n int, cmp func(a, b T) int) []T {
	top := make([]T, 0, max(n, 0)+1)
	if n <= 0 {
		return top
	}
	for _, x := range v {
		if len(top) == n && cmp(x, top[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, x, cmp)
		top = slices.Insert(top, i, x)
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

func (r *renderer) capNote(ok bool, what string, limit int, u volume) {
	if u.flows == 0 {
		return
	}
	if ok {
		r.p("Only the first %s %s seen were tracked; the other %s (%s payload bytes) could not change this table.", fmtInt(int64(limit)), what, plural(u.flows, "flow", "flows"), fmtInt(u.bytes))
		return
	}
	r.p("**Incomplete:** only the first %s %s seen were tracked, and the other %s (%s payload bytes) could hold a row of this table. The linked query gives the complete table.", fmtInt(int64(limit)), what, plural(u.flows, "flow", "flows"), fmtInt(u.bytes))
}

// ---- Handshake RTT ----

type serverRow struct {
	addr string
	port uint16
	a    *serverAgg
}

func (r *renderer) serverRows() []serverRow {
	rows := make([]serverRow, 0, len(r.s.servers))
	for k, a := range r.s.servers {
		rows = append(rows, serverRow{k.addr.String(), k.port, a})
	}
	return rows
}

func serverKeyCmp(a, b serverRow) int {
	return cmp.Or(cmp.Compare(a.addr, b.addr), cmp.Compare(a.port, b.port))
}

func msQ(d *dist, q float64) string {
	v, exact := d.quantile(q)
	if exact {
		return fmtMs(v)
	}
	return "≈" + fmtMs(v)
}

func (r *renderer) handshakes() {
	s := r.s
	r.p("## Handshake RTT")
	if s.rtt.n == 0 {
		r.p("No TCP handshake was seen whole (SYN, SYN/ACK, ACK), so there is no handshake RTT.")
		return
	}
	d := &s.rtt
	r.table("rtt", true,
		[]string{h("handshakes", "m-handshake"), "min (ms)", h("p50 (ms)", "m-percentile"), h("p90 (ms)", "m-percentile"), h("p99 (ms)", "m-percentile"), "max (ms)"},
		[][]string{{fmtInt(d.n), fmtMs(d.min), msQ(d, 0.5), msQ(d, 0.9), msQ(d, 0.99), fmtMs(d.max)}})
	approx := ""
	if !d.exact() {
		approx = fmt.Sprintf(" Percentiles marked ≈ are from a log histogram (more than %s handshakes): within 1/32 of the exact value, which the query gives.", fmtInt(int64(s.opts.MaxExactRTT)))
	}
	r.p("Time from the client's SYN to its ACK of the server's SYN/ACK, at the capture point.%s %s.", approx, queryLink("rtt"))

	r.p("### Distribution")
	r.files[RTTChart] = rttChart(s.rttHist)
	r.p("![Handshake RTT distribution, log-spaced buckets](%s)", RTTChart)
	r.line("<details><summary>Numbers behind the chart</summary>")
	r.b.WriteString("\n")
	var brow [][]string
	for i, c := range s.rttHist {
		from, below := "-", "-"
		if i > 0 {
			from = fmtMs(rttEdges[i])
		}
		if i+1 < len(rttEdges) {
			below = fmtMs(rttEdges[i+1])
		}
		brow = append(brow, []string{from, below, fmtInt(c)})
	}
	r.table("rtt-buckets", true, []string{"from (ms)", "below (ms)", h("handshakes", "m-handshake")}, brow)
	r.line("</details>")
	r.b.WriteString("\n")
	r.p("%s.", queryLink("rtt-buckets"))

	rows := r.serverRows()
	rows = slices.DeleteFunc(rows, func(x serverRow) bool { return x.a.handshakes.n == 0 })
	withHS := len(rows)
	slices.SortFunc(rows, func(a, b serverRow) int {
		return cmp.Or(cmp.Compare(b.a.handshakes.n, a.a.handshakes.n), serverKeyCmp(a, b))
	})
	n := s.opts.TopN
	rows = rows[:min(n, len(rows))]
	var out [][]string
	anyApprox := false
	for _, x := range rows {
		d := &x.a.handshakes
		anyApprox = anyApprox || !d.exact()
		out = append(out, []string{x.addr, strconv.Itoa(int(x.port)), fmtInt(d.n), msQ(d, 0.5), msQ(d, 0.9), msQ(d, 0.99), fmtMs(d.max)})
	}
	r.p("### Per server")
	ok := complete(s.srvUntracked.handshakes.n, len(rows), n, func(i int) int64 { return rows[i].a.handshakes.n })
	r.table("rtt-servers", ok, []string{h("server", "m-server"), h("port", "m-server"), h("handshakes", "m-handshake"), h("p50 (ms)", "m-percentile"), h("p90 (ms)", "m-percentile"), h("p99 (ms)", "m-percentile"), "max (ms)"}, out)
	of := fmtInt(int64(withHS))
	if s.srvUntracked.flows > 0 {
		of = "at least " + of
	}
	note := ""
	if anyApprox {
		note = fmt.Sprintf(" Percentiles marked ≈ come from a log histogram (the servers together had more than %s handshakes; the busiest servers are switched first): within 1/32 of the exact value.", fmtInt(int64(s.opts.MaxExactRTT)))
	}
	r.p("Top %d of %s servers by handshakes.%s %s.", len(rows), of, note, queryLink("rtt-servers"))
	r.serverCapNote(ok)

	r.p("### Slowest handshakes")
	var srow [][]string
	for _, f := range s.slowest.items {
		srow = append(srow, []string{f.FlowID, f.Src, f.Dst, strconv.Itoa(int(f.DstPort)), fmtMs(f.Handshake), optMs(f.SynSynAck), optMs(f.SynAckAck), mdText(f.State)})
	}
	r.table("rtt-slowest", true, []string{h("flow", "m-flow-id"), h("client", "m-client"), h("server", "m-server"), h("port", "m-server"),
		h("handshake (ms)", "m-handshake"), h("SYN→SYN/ACK (ms)", "m-handshake"), h("SYN/ACK→ACK (ms)", "m-handshake"), h("state", "m-state")}, srow)
	r.p("Top %d of %s handshakes by RTT; %s took %s or more. SYN→SYN/ACK is the server side of the capture point (network to the server and the server's accept), SYN/ACK→ACK the client side. %s.",
		len(srow), fmtInt(s.rtt.n), plural(s.slow, "handshake", "handshakes"), fmtDuration(s.opts.SlowHandshakeNs), queryLink("rtt-slowest"))
}

func optMs(o analyze.Opt) string {
	if !o.Valid {
		return "-"
	}
	return fmtMs(o.V)
}

func (r *renderer) serverCapNote(ok bool) {
	s := r.s
	u := s.srvUntracked
	if u.flows == 0 {
		return
	}
	if ok {
		r.p("Only the first %s TCP servers seen were tracked; the other %s could not change this table.", fmtInt(int64(s.opts.MaxServers)), plural(u.flows, "flow", "flows"))
		return
	}
	r.p("**Incomplete:** only the first %s TCP servers seen were tracked, and the other %s could hold a row of this table. The linked query gives the complete table.", fmtInt(int64(s.opts.MaxServers)), plural(u.flows, "flow", "flows"))
}

// ---- TCP health ----

func (r *renderer) tcpHealth() {
	s := r.s
	t := &s.tcp
	r.p("## TCP health")
	if t.flows == 0 {
		r.p("No TCP flows.")
		return
	}
	r.table("tcp-health", true, []string{"measure", "total", h("flows", "m-flow")}, [][]string{
		{h("retransmitted packets", "m-retrans"), fmtInt(t.retransPkts), fmtInt(t.fRetransPkts)},
		{h("retransmitted bytes", "m-retrans"), fmtInt(t.retransBytes), fmtInt(t.fRetransBytes)},
		{h("out-of-order segments", "m-ooo"), fmtInt(t.ooo), fmtInt(t.fOOO)},
		{h("duplicate ACKs", "m-dupack"), fmtInt(t.dupAcks), fmtInt(t.fDupAcks)},
		{h("zero windows", "m-zero-window"), fmtInt(t.zeroWindows), fmtInt(t.fZeroWindows)},
		{h("missed bytes", "m-missed"), fmtInt(t.missedBytes), fmtInt(t.fMissed)},
	})
	r.p("Totals over %s (%s packets); \"flows\" counts the flows with at least one. Retransmitted packets are %s of TCP packets. %s.",
		plural(t.flows, "TCP flow", "TCP flows"), fmtInt(t.pkts), fmtShare(t.retransPkts, t.pkts), queryLink("tcp-health"))

	flowHeader := []string{h("flow", "m-flow-id"), h("client", "m-client"), h("server", "m-server"), h("port", "m-server")}
	base := func(f *flowRef) []string { return []string{f.FlowID, f.Src, f.Dst, strconv.Itoa(int(f.DstPort))} }

	r.p("### Retransmissions")
	if len(s.heavy.items) == 0 {
		r.p("No [retransmission-heavy](#m-retrans-heavy) flow.")
	} else {
		var rows [][]string
		for i := range s.heavy.items {
			f := &s.heavy.items[i]
			rows = append(rows, append(base(f), fmtInt(f.Pkts), fmtInt(f.Retrans), fmtInt(f.RetransBytes)))
		}
		r.table("retrans-heavy", true, append(slices.Clone(flowHeader), h("packets", "m-packets"), h("retransmitted", "m-retrans"), h("retransmitted bytes", "m-retrans")), rows)
		r.p("Top %d of %s [retransmission-heavy](#m-retrans-heavy) flows by retransmitted packets. %s.", len(rows), fmtInt(t.heavyFlows), queryLink("retrans-heavy"))
	}

	r.p("### Zero windows")
	if len(s.zeroWin.items) == 0 {
		r.p("No flow advertised a [zero window](#m-zero-window).")
	} else {
		var rows [][]string
		for i := range s.zeroWin.items {
			f := &s.zeroWin.items[i]
			rows = append(rows, append(base(f), fmtInt(f.ZeroWindows)))
		}
		r.table("zero-windows", true, append(slices.Clone(flowHeader), h("zero windows", "m-zero-window")), rows)
		r.p("Top %d of %s flows with zero windows. %s.", len(rows), fmtInt(t.fZeroWindows), queryLink("zero-windows"))
	}

	r.p("### Capture gaps")
	if len(s.missed.items) == 0 {
		r.p("No flow has [missed bytes](#m-missed): the capture saw every TCP sequence number it was shown acknowledged or surrounded.")
	} else {
		var rows [][]string
		for i := range s.missed.items {
			f := &s.missed.items[i]
			rows = append(rows, append(base(f), fmtInt(f.Missed)))
		}
		r.table("missed-bytes", true, append(slices.Clone(flowHeader), h("missed bytes", "m-missed")), rows)
		r.p("Top %d of %s flows with missed bytes. %s.", len(rows), fmtInt(t.fMissed), queryLink("missed-bytes"))
	}

	r.p("### Failed connections")
	nFailed := s.failCount[0] + s.failCount[1] + s.failCount[2]
	if nFailed == 0 {
		r.p("No TCP connection was [rejected, unanswered or reset](#m-failed).")
		return
	}
	rows := r.serverRows()
	rows = slices.DeleteFunc(rows, func(x serverRow) bool { return x.a.failed() == 0 })
	withFail := len(rows)
	slices.SortFunc(rows, func(a, b serverRow) int {
		return cmp.Or(cmp.Compare(b.a.failed(), a.a.failed()), serverKeyCmp(a, b))
	})
	n := s.opts.TopN
	rows = rows[:min(n, len(rows))]
	var out [][]string
	for _, x := range rows {
		out = append(out, []string{x.addr, strconv.Itoa(int(x.port)), fmtInt(x.a.fail[0]), fmtInt(x.a.fail[1]), fmtInt(x.a.fail[2]), fmtInt(x.a.flows)})
	}
	ok := complete(s.srvUntracked.failed(), len(rows), n, func(i int) int64 { return rows[i].a.failed() })
	r.table("failed-servers", ok, []string{h("server", "m-server"), h("port", "m-server"), h("rejected", "m-failed"), h("unanswered", "m-failed"), h("reset", "m-failed"), h("TCP flows", "m-flow")}, out)
	of := fmtInt(int64(withFail))
	if s.srvUntracked.flows > 0 {
		of = "at least " + of
	}
	r.p("%s rejected, %s unanswered, %s reset, of %s. Top %d of %s servers by failed connections. %s.",
		fmtInt(s.failCount[failRejected]), fmtInt(s.failCount[failUnanswered]), fmtInt(s.failCount[failReset]),
		plural(t.flows, "TCP connection", "TCP connections"), len(rows), of, queryLink("failed-servers"))
	r.serverCapNote(ok)

	var frow [][]string
	for i := range s.failed.items {
		f := &s.failed.items[i]
		frow = append(frow, []string{f.FlowID, fmtTime(f.TsNs), f.Src, f.Dst, strconv.Itoa(int(f.DstPort)), mdText(f.State)})
	}
	r.table("failed-first", true, []string{h("flow", "m-flow-id"), h("first packet", "m-time"), h("client", "m-client"), h("server", "m-server"), h("port", "m-server"), h("state", "m-state")}, frow)
	r.p("The first %d of %s failed connections, by time. %s.", len(frow), fmtInt(nFailed), queryLink("failed-first"))
}

// ---- Cross-check ----

func (r *renderer) crossCheck() {
	s := r.s
	r.p("## Cross-check")
	if len(s.crosscheck) == 0 && s.xc == nil {
		r.crossCheckL7()
		return
	}
	keys := make([]string, 0, len(s.crosscheck))
	var total int64
	for k, n := range s.crosscheck {
		keys = append(keys, k)
		total += n
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.crosscheck[b], s.crosscheck[a]), cmp.Compare(a, b))
	})
	var rows [][]string
	for _, k := range keys {
		rows = append(rows, []string{mdText(k), fmtInt(s.crosscheck[k])})
	}
	r.table("crosscheck", true, []string{h("verdict", "m-crosscheck"), h("flows", "m-flow")}, rows)
	r.p("%s of %s flows were compared with Kubeshark's own flow counters; %s disagree (any verdict but %s). crosscheck.parquet holds each comparison. %s.",
		fmtInt(total), fmtInt(s.flows), fmtInt(s.disagree), mdCode(CrossCheckMatch), queryLink("crosscheck"))
	r.crossCheckAggregates()
	r.crossCheckL7()
}

// ---- Reproduce ----

func (r *renderer) reproduce() {
	m := r.m
	r.p("## Reproduce")
	r.p("The command that produced this report (secret values replaced by %s):", provenance.Redacted)
	r.line("```sh")
	r.line(shellQuote(provenance.RedactArgs(m.Command)))
	r.line("```")
	r.b.WriteString("\n")
	r.p("Check, in the output directory, that nothing in it changed since (every file's SHA-256 and the audit chain):")
	r.line("```sh")
	r.line("flowproof verify .")
	r.line("```")
	r.b.WriteString("\n")
	r.p("Every table above comes from one DuckDB statement over %s; run them in the output directory (`duckdb` then paste, or `duckdb -c \"...\"`). Times are epoch ns and durations ns; the report shows them as RFC 3339 and ms.", r.tables())
	for _, id := range r.usedTables() {
		q := queryByID(r.qs, id)
		r.line(fmt.Sprintf(`<a id="q-%s" name="q-%s"></a>`, q.id, q.id))
		r.b.WriteString("\n")
		r.p("**%s**", q.title)
		r.line("```sql")
		r.line("-- table: " + q.id)
		r.line(q.sql)
		r.line("```")
		r.b.WriteString("\n")
	}
}

// usedTables lists the ids of the tables this report has, in query order.
func (r *renderer) usedTables() []string {
	var ids []string
	body := r.b.String()
	for _, q := range r.qs {
		if strings.Contains(body, "<!-- table: "+q.id+" -->") || strings.Contains(body, "<!-- table: "+q.id+" incomplete -->") {
			ids = append(ids, q.id)
		}
	}
	return ids
}

var zeekStates = map[string]string{
	"S0":     "connection attempt seen, no reply",
	"S1":     "established, not terminated",
	"SF":     "normal establishment and termination",
	"REJ":    "connection attempt rejected",
	"S2":     "established, close attempt by originator seen (no reply)",
	"S3":     "established, close attempt by responder seen (no reply)",
	"RSTO":   "established, originator aborted (sent a RST)",
	"RSTR":   "responder sent a RST",
	"RSTOS0": "originator sent a SYN then a RST, no SYN/ACK seen",
	"RSTRH":  "responder sent a SYN/ACK then a RST, no SYN seen",
	"SH":     "originator sent a SYN then a FIN, no SYN/ACK seen (half-open)",
	"SHR":    "responder sent a SYN/ACK then a FIN, no SYN seen",
	"OTH":    "no SYN seen, just midstream traffic",
}

func stateMeaning(proto, state string) string {
	if proto == "udp" {
		switch state {
		case "S0":
			return "only the originator sent"
		case "SF":
			return "both sides sent"
		case "SHR":
			return "only the responder sent"
		}
	}
	if m, ok := zeekStates[state]; ok {
		return m
	}
	return ""
}
