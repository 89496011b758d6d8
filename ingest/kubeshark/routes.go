package kubeshark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
	"github.com/flowproof/flowproof/provenance"
)

// nodeCapture is one capture a route fetched: the merged capture (node
// "") or one node's (Request.PerNode).
type nodeCapture struct {
	c    *captured
	via  string
	node string
}

// maxPerNode bounds how many per-node exports a pull makes: a server
// cannot make it fetch without end.
const maxPerNode = 256

// snapshotRoute: create_snapshot (or --snapshot-id) -> poll get_snapshot ->
// resolve the workloads to a BPF host list -> export_snapshot_pcap -> fetch
// the relative path it returns; with PerNode, one export per node.
func (p *puller) snapshotRoute(ctx context.Context) ([]nodeCapture, error) {
	r := p.req
	id := r.SnapshotID
	reused := id != ""
	var err error
	if !reused {
		if id, err = p.createSnapshot(ctx); err != nil {
			return nil, err
		}
	}
	if err := p.waitSnapshot(ctx, id, reused); err != nil {
		return nil, err
	}
	bpf, err := p.selectionBPF(ctx)
	if err != nil {
		return nil, err
	}
	if !r.PerNode {
		c, via, err := p.exportSnapshot(ctx, id, bpf, r.Selection.Nodes, "snapshot-"+safeName(id), "export_snapshot_pcap.json")
		if err != nil {
			return nil, err
		}
		// Every size the server stated must hold: the export's own answer
		// (checked in exportSnapshot), and the snapshot's packet count
		// when nothing narrowed the export.
		if s := p.snapshot; s != nil && s.PacketCount > 0 && bpf == "" && len(r.Selection.Nodes) == 0 && (reused || !p.window.IsZero()) && c.incomplete == "" {
			c = p.checkComplete(c, []statedSize{{what: "get_snapshot's packet_count", packets: s.PacketCount}})
		}
		return []nodeCapture{{c: c, via: via}}, nil
	}
	nodes, err := p.perNodeList()
	if err != nil {
		return nil, err
	}
	var out []nodeCapture
	var total int64
	used := map[string]bool{}
	for _, node := range nodes {
		name := safeName(node)
		for i := 2; used[name]; i++ { // two names that read alike keep apart
			name = fmt.Sprintf("%s-%d", safeName(node), i)
		}
		used[name] = true
		p.logf("exporting node %s", provenance.SafeText(node))
		c, via, err := p.exportSnapshot(ctx, id, bpf, []string{node}, name+"-snapshot-"+safeName(id), "export_snapshot_pcap-"+name+".json")
		if errors.Is(err, errNodeEmpty) {
			p.warn("node %s: its export of snapshot %s holds no packet", provenance.SafeText(node), id)
			continue
		}
		if err != nil {
			return nil, err
		}
		// Listed at once, so that a later failure removes it too.
		rel, _ := filepath.Rel(r.Dir, c.path)
		p.outputs = append(p.outputs, provenance.File{Name: filepath.ToSlash(rel), Size: c.size, SHA256: c.sha256})
		total += c.packets
		out = append(out, nodeCapture{c: c, via: via, node: node})
	}
	if len(out) == 0 {
		return nil, newErr(KindEmptyCapture, "export_snapshot_pcap", fmt.Errorf("no node's export of snapshot %s holds a packet", id), "check the window and retention, and the selection")
	}
	// The nodes' captures together are the merged one: their packets must
	// add up to the snapshot's count when nothing narrowed the exports.
	if s := p.snapshot; s != nil && s.PacketCount > 0 && bpf == "" && len(r.Selection.Nodes) == 0 && (reused || !p.window.IsZero()) && total != s.PacketCount {
		p.partial = true
		p.warn("the nodes' captures hold %d packets, get_snapshot's packet_count says %d: some node's capture may be missing or incomplete", total, s.PacketCount)
	}
	return out, nil
}

// errNodeEmpty marks a node's export without packets: that node recorded
// nothing in the window, which is no error when other nodes did.
var errNodeEmpty = errors.New("empty node export")

// perNodeList returns the nodes to export one by one: --nodes, else the
// nodes get_data_boundaries named.
func (p *puller) perNodeList() ([]string, error) {
	nodes := p.req.Selection.Nodes
	if len(nodes) == 0 {
		nodes = p.boundaryNodes
	}
	if len(nodes) == 0 {
		return nil, newErr(KindUsage, "pull --per-node", errors.New("the server named no nodes (get_data_boundaries gave none)"), "give the nodes with --nodes N1,N2")
	}
	if len(nodes) > maxPerNode {
		return nil, newErr(KindProtocol, "pull --per-node", fmt.Errorf("%d nodes, more than the %d a pull exports one by one", len(nodes), maxPerNode), "give the nodes with --nodes N1,N2")
	}
	return nodes, nil
}

// exportSnapshot exports snapshot id (narrowed by bpf and nodes) and
// fetches it into captures/NAME.pcap (base NAME), keeping the answer as
// saveAs; the sizes the answer states must hold.
func (p *puller) exportSnapshot(ctx context.Context, id, bpf string, nodes []string, base, saveAs string) (*captured, string, error) {
	r := p.req
	t, _ := p.s.Tool("export_snapshot_pcap")
	a := newArgs(t)
	a.set(id, "id", "snapshot_id", "snapshotId", "name")
	if bpf != "" {
		if !a.set(bpf, "bpf_filter", "bpf", "bpfFilter") {
			return nil, "", newErr(KindToolError, "export_snapshot_pcap", errors.New("its schema declares no BPF filter argument"),
				"the server cannot narrow the capture: drop --ns/--pod/--svc/--bpf and filter the capture afterwards")
		}
		p.m.Kubeshark.BPFFilter = bpf
	}
	if !p.window.IsZero() {
		a.setTime(p.window.From, "start_time", "startTime", "start")
		a.setTime(p.window.To, "end_time", "endTime", "end")
	}
	if r.Selection.KFL != "" && t.Has("kfl") {
		a.m["kfl"], p.kflUsed = r.Selection.KFL, true
	}
	if len(nodes) > 0 && !a.setList(nodes, "nodes", "node") {
		if r.PerNode {
			return nil, "", newErr(KindToolMissing, "export_snapshot_pcap", errors.New("its schema declares no nodes argument"), "pull without --per-node: the server exports only the merged capture")
		}
		p.warn("export_snapshot_pcap takes no nodes argument: --nodes was not applied to the export")
	}
	if miss := a.missing(); len(miss) > 0 {
		return nil, "", newErr(KindToolError, "export_snapshot_pcap", fmt.Errorf("it requires arguments flowproof does not know how to fill: %s", strings.Join(miss, ", ")),
			"its schema is in kubeshark/tools.json; please report it")
	}
	p.logf("exporting snapshot %s%s", id, filterNote(bpf))
	res, _, err := p.call(ctx, "export_snapshot_pcap", a.m, 0, saveAs)
	if err != nil {
		return nil, "", err
	}
	if res.IsError {
		return nil, "", p.toolFailed(res)
	}
	loc := capturePath(res)
	if loc == "" {
		return nil, "", newErr(KindProtocol, "export_snapshot_pcap", fmt.Errorf("no file path in its answer: %q", excerpt(res.Text, 300)),
			"Kubeshark returns a relative path such as /mcp/snapshots/<id>/pcap?...; the answer is saved in kubeshark/")
	}
	c, via, err := p.fetchLocation(ctx, loc, filepath.Join(r.Dir, evidence.CapturesDir, base))
	if err != nil {
		if r.PerNode && KindOf(err) == KindEmptyCapture {
			return nil, via, fmt.Errorf("%w: %w", errNodeEmpty, err)
		}
		return nil, via, err
	}
	return p.checkComplete(c, statedSizes(res.Data, "export_snapshot_pcap's answer")), via, nil
}

// statedSize is a size a server stated for a capture: bytes or packets
// (0: not stated).
type statedSize struct {
	what           string
	bytes, packets int64
}

// statedSizes reads the sizes an answer states for the capture it names.
func statedSizes(data any, what string) []statedSize {
	var s statedSize
	s.what = what
	if n, ok := jsonv.LookupInt(data, "size_bytes", "size", "bytes"); ok && n > 0 {
		s.bytes = n
	}
	if n, ok := jsonv.LookupInt(data, "packet_count", "packets"); ok && n > 0 {
		s.packets = n
	}
	if s.bytes == 0 && s.packets == 0 {
		return nil
	}
	return []statedSize{s}
}

// checkComplete compares a downloaded capture with the sizes the server
// stated. On a mismatch the file is renamed to end in .partial (it holds
// genuine packets, but not all of them) and an *incompleteError carries it.
func (p *puller) checkComplete(c *captured, stated []statedSize) *captured {
	for _, s := range stated {
		var reason string
		switch {
		case s.bytes > 0 && s.bytes != c.size:
			reason = fmt.Sprintf("the capture has %d bytes, %s says %d", c.size, s.what, s.bytes)
		case s.packets > 0 && s.packets != c.packets:
			reason = fmt.Sprintf("the capture has %d packets, %s says %d", c.packets, s.what, s.packets)
		default:
			continue
		}
		partial := c.path + ".partial"
		if err := os.Rename(c.path, partial); err == nil {
			c.path = partial
		}
		c.incomplete = reason
		return c
	}
	return c
}

func filterNote(bpf string) string {
	if bpf == "" {
		return " (no filter)"
	}
	return fmt.Sprintf(" with BPF %q", bpf)
}

func (p *puller) createSnapshot(ctx context.Context) (string, error) {
	r := p.req
	t, _ := p.s.Tool("create_snapshot")
	a := newArgs(t)
	a.set("flowproof-"+p.now().UTC().Format("20060102T150405Z"), "name")
	a.setTime(p.window.From, "start_time", "startTime", "start", "from")
	a.setTime(p.window.To, "end_time", "endTime", "end", "to")
	if t.Has("duration") {
		a.m["duration"] = compactDuration(p.window.To.Sub(p.window.From))
	}
	if r.Selection.NS != "" {
		if !a.set(r.Selection.NS, "ns", "namespace") && t.Has("namespaces") {
			a.setList([]string{r.Selection.NS}, "namespaces")
		}
	}
	if r.Selection.KFL != "" && t.Has("kfl") {
		a.m["kfl"], p.kflUsed = r.Selection.KFL, true
	}
	if len(r.Selection.Nodes) > 0 && t.Has("nodes") {
		a.setList(r.Selection.Nodes, "nodes")
	}
	if miss := a.missing(); len(miss) > 0 {
		return "", newErr(KindToolError, "create_snapshot", fmt.Errorf("it requires arguments flowproof does not know how to fill: %s", strings.Join(miss, ", ")),
			"create the snapshot in the Kubeshark dashboard and pass its id with --snapshot-id")
	}
	p.logf("creating a snapshot of %s", p.window)
	res, _, err := p.call(ctx, "create_snapshot", a.m, 0, "create_snapshot.json")
	if err != nil {
		return "", err
	}
	if res.IsError {
		return "", p.toolFailed(res)
	}
	id := snapshotID(res)
	if id == "" {
		return "", newErr(KindProtocol, "create_snapshot", fmt.Errorf("no snapshot id in its answer: %q", excerpt(res.Text, 300)),
			"expected JSON with an id (or name); find the snapshot with list_snapshots and pass it with --snapshot-id")
	}
	return id, nil
}

// Snapshot states, as Kubeshark and its documentation spell them.
var (
	doneStates   = map[string]bool{"completed": true, "complete": true, "ready": true, "done": true, "success": true, "succeeded": true, "finished": true, "available": true}
	failedStates = map[string]bool{"failed": true, "failure": true, "error": true, "errored": true, "cancelled": true, "canceled": true, "aborted": true}
)

// waitSnapshot polls get_snapshot until the snapshot is completed, failed,
// or SnapshotTimeout has passed.
func (p *puller) waitSnapshot(ctx context.Context, id string, reused bool) error {
	info := &evidence.SnapshotInfo{ID: id, Reused: reused}
	p.snapshot = info
	p.m.Kubeshark.Snapshot = info
	if !p.s.Has("get_snapshot") {
		if !reused {
			return newErr(KindToolMissing, "wait for snapshot "+id, errors.New("the server does not offer get_snapshot"), "it offers: "+strings.Join(p.s.ToolNames(), ", "))
		}
		info.Status = "unknown"
		p.warn("the server does not offer get_snapshot: snapshot %s is used without checking that it completed", id)
		return nil
	}
	t, _ := p.s.Tool("get_snapshot")
	a := newArgs(t)
	a.set(id, "id", "snapshot_id", "snapshotId", "name")
	start := p.now()
	deadline := time.Now().Add(p.req.SnapshotTimeout)
	last := ""
	for {
		info.Polls++
		res, _, err := p.call(ctx, "get_snapshot", a.m, 0, "get_snapshot.json")
		if err != nil {
			return err
		}
		if res.IsError {
			if low := strings.ToLower(res.Text); strings.Contains(low, "not found") || strings.Contains(low, "no such") || strings.Contains(low, "(404)") {
				return newErr(KindToolError, "get_snapshot "+id, fmt.Errorf("the Hub has no snapshot %q: %s", id, res.ErrorText()), "check the id with list_snapshots")
			}
			return p.toolFailed(res)
		}
		status := snapshotStatus(res.Data)
		if status == "" && res.Data == nil {
			// A prose answer ("status: completed").
			if m := regexp.MustCompile(`(?i)status\W+([a-z_]+)`).FindStringSubmatch(res.Text); m != nil {
				status = strings.ToLower(m[1])
			}
		}
		info.Status = status
		info.WaitedMs = p.now().Sub(start).Milliseconds()
		if n, ok := jsonv.LookupInt(res.Data, "size_bytes", "size"); ok {
			info.SizeBytes = n
		}
		if n, ok := jsonv.LookupInt(res.Data, "packet_count", "packets"); ok {
			info.PacketCount = n
		}
		if status != last {
			p.logf("snapshot %s: %s", id, orUnknown(status))
			last = status
		}
		switch {
		case doneStates[status]:
			if reused && p.window.IsZero() {
				p.snapshotWindow(res)
			}
			return nil
		case failedStates[status]:
			reason := jsonv.LookupString(res.Data, "error", "message", "reason")
			if reason == "" {
				reason = "no reason given"
			}
			return newErr(KindSnapshotFailed, "snapshot "+id, fmt.Errorf("Kubeshark says %s: %s", status, reason),
				"check that raw capture is on (tap.capture.raw.enabled) and that snapshot storage is not full (tap.snapshots.local.storageSize); Kubeshark takes one snapshot at a time, so retry when no other is in progress")
		case status == "" && res.Data != nil && !reused:
			return newErr(KindProtocol, "get_snapshot "+id, fmt.Errorf("no status in its answer: %q", excerpt(res.Text, 300)), "the answer is saved in kubeshark/get_snapshot.json")
		}
		if time.Now().Add(p.req.PollInterval).After(deadline) {
			return newErr(KindSnapshotStuck, "snapshot "+id, fmt.Errorf("still %s after %v (%d polls)", orUnknown(status), p.req.SnapshotTimeout, info.Polls),
				"Kubeshark may be busy with another snapshot (it takes one at a time) or stuck; check it in the dashboard, raise --snapshot-timeout, or come back later with --snapshot-id "+id)
		}
		select {
		case <-ctx.Done():
			return newErr(KindTimeout, "wait for snapshot "+id, ctx.Err(), "the snapshot stays on the Hub: rerun with --snapshot-id "+id)
		case <-time.After(p.req.PollInterval):
		}
	}
}

// snapshotStatus reads the status of a get_snapshot answer, preferring a
// nested "snapshot" object's over a wrapper's.
func snapshotStatus(data any) string {
	if m, ok := data.(map[string]any); ok {
		if inner, ok := m["snapshot"].(map[string]any); ok {
			if s := jsonv.LookupString(inner, "status", "state", "phase"); s != "" {
				return strings.ToLower(strings.TrimSpace(s))
			}
		}
	}
	return strings.ToLower(strings.TrimSpace(jsonv.LookupString(data, "status", "state", "phase")))
}

func orUnknown(s string) string {
	if s == "" {
		return "(no status)"
	}
	return s
}

// snapshotWindow records a reused snapshot's own time range as the window.
func (p *puller) snapshotWindow(res *Result) {
	from, ok1 := jsonv.LookupInt(res.Data, "start_ts", "start_time", "start")
	to, ok2 := jsonv.LookupInt(res.Data, "end_ts", "end_time", "end")
	if ok1 && ok2 && to > from {
		w := Window{From: time.UnixMilli(from).UTC(), To: time.UnixMilli(to).UTC()}
		p.m.Kubeshark.Window = windowInfo(w, "snapshot")
	}
}

// selectionBPF returns the filter to export with: the workload hosts (from
// list_workloads / list_ips) ANDed with --bpf.
func (p *puller) selectionBPF(ctx context.Context) (string, error) {
	sel := p.req.Selection
	if !sel.Workloads() {
		return sel.BPF, nil
	}
	ips, err := p.resolveWorkloads(ctx)
	if err != nil {
		return "", err
	}
	p.m.Kubeshark.SelectedIPs = ips
	hosts := HostFilter(ips)
	p.logf("selected %d IPs: %s", len(ips), hosts)
	return CombineBPF(hosts, sel.BPF), nil
}

// workloadQuery is one kind of workload to look up.
type workloadQuery struct {
	kind  string // "pod" or "service"
	ns    string
	name  string         // exact name (services)
	re    *regexp.Regexp // name pattern (pods)
	label string         // for file names and messages
}

func (p *puller) queries() []workloadQuery {
	sel := p.req.Selection
	var qs []workloadQuery
	if sel.Pod != "" || sel.Svc == "" {
		q := workloadQuery{kind: "pod", ns: sel.NS, label: "pods"}
		if sel.Pod != "" {
			q.re = regexp.MustCompile(sel.Pod)
		}
		qs = append(qs, q)
	}
	if sel.Svc != "" {
		qs = append(qs, workloadQuery{kind: "service", ns: sel.NS, name: sel.Svc, label: "services"})
	}
	return qs
}

func (q workloadQuery) describe() string {
	var parts []string
	switch {
	case q.re != nil:
		parts = append(parts, fmt.Sprintf("%s matching %q", q.label, q.re.String()))
	case q.name != "":
		parts = append(parts, fmt.Sprintf("service %q", q.name))
	default:
		parts = append(parts, q.label)
	}
	if q.ns != "" {
		parts = append(parts, fmt.Sprintf("in namespace %q", q.ns))
	}
	return strings.Join(parts, " ")
}

func (q workloadQuery) match(name, ns, kind string) bool {
	if q.ns != "" && ns != "" && ns != q.ns {
		return false
	}
	if kind != "" && !strings.EqualFold(kind, q.kind) && !(q.kind == "service" && strings.EqualFold(kind, "svc")) {
		return false
	}
	switch {
	case q.re != nil:
		return q.re.MatchString(name)
	case q.name != "":
		return name == q.name
	}
	return true
}

// resolveWorkloads turns --ns/--pod/--svc into IPs, the documented way
// (kubeshark-mcp.md §5: list_workloads / list_ips -> IPs -> bpf_filter).
// The server's answer is filtered again here, so a server that ignores a
// filter argument does not widen the selection.
func (p *puller) resolveWorkloads(ctx context.Context) ([]evidence.SelectedIP, error) {
	var out []evidence.SelectedIP
	for _, q := range p.queries() {
		var ips []evidence.SelectedIP
		var err error
		switch {
		case p.s.Has("list_workloads"):
			ips, err = p.viaListWorkloads(ctx, q)
		case p.s.Has("list_ips"):
			ips, err = p.viaListIPs(ctx, q)
		default:
			return nil, newErr(KindToolMissing, "select "+q.describe(), errors.New("the server offers neither list_workloads nor list_ips"),
				"select with --bpf \"host A or host B\" instead; it offers: "+strings.Join(p.s.ToolNames(), ", "))
		}
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, newErr(KindNoMatch, "select "+q.describe(), errors.New("no workload matches during the window"),
				"check the names (kubectl get pods,svc -n NAMESPACE -o wide); --pod is an RE2 pattern on pod names, --svc an exact service name; the answers are saved in kubeshark/")
		}
		out = append(out, ips...)
	}
	return out, nil
}

func (p *puller) viaListWorkloads(ctx context.Context, q workloadQuery) ([]evidence.SelectedIP, error) {
	t, _ := p.s.Tool("list_workloads")
	a := newArgs(t)
	if p.snapshot != nil {
		a.set(p.snapshot.ID, "snapshot_id")
	}
	if q.ns != "" {
		if !a.set(q.ns, "namespace", "ns") && t.Has("namespaces") {
			a.setList([]string{q.ns}, "namespaces")
		}
	}
	switch {
	case q.re != nil:
		a.set(q.re.String(), "name_regex", "regex")
	case q.name != "":
		a.set(q.name, "name")
	}
	a.set(q.kind, "type", "kind")
	if p.snapshot == nil && !p.window.IsZero() && t.Has("timestamp") {
		a.m["timestamp"] = p.window.To.UnixMilli()
	}
	res, _, err := p.call(ctx, "list_workloads", a.m, 0, "selection-list_workloads-"+q.label+".json")
	if err != nil {
		return nil, err
	}
	if res.IsError {
		return nil, p.selectionFailed(res, q)
	}
	if res.Data == nil {
		return nil, newErr(KindProtocol, "list_workloads", fmt.Errorf("the answer is not JSON: %q", excerpt(res.Text, 200)), "expected {\"workloads\":[...]}")
	}
	var out []evidence.SelectedIP
	for _, w := range objects(res.Data, "workloads", "items", "results") {
		name, ns, kind := str(w["name"]), firstStr(w, "namespace", "ns"), firstStr(w, "kind", "type")
		if !q.match(name, ns, kind) {
			continue
		}
		for _, ip := range ipEntries(w) {
			if ip.Timestamp > 0 && !p.window.IsZero() && ip.Timestamp > p.window.To.UnixMilli() {
				continue // the workload got this IP after the window
			}
			if kind == "" {
				kind = q.kind
			}
			out = append(out, evidence.SelectedIP{IP: ip.IP, Name: name, Namespace: ns, Kind: strings.ToLower(kind), Timestamp: ip.Timestamp, Via: "list_workloads"})
		}
	}
	return out, nil
}

func (p *puller) viaListIPs(ctx context.Context, q workloadQuery) ([]evidence.SelectedIP, error) {
	t, _ := p.s.Tool("list_ips")
	a := newArgs(t)
	if p.snapshot != nil {
		a.set(p.snapshot.ID, "snapshot_id")
	}
	if q.ns != "" {
		a.setList([]string{q.ns}, "namespaces", "namespace")
	}
	if q.re != nil {
		a.set(q.re.String(), "name_regex")
	} else if q.name != "" {
		a.set("^"+regexp.QuoteMeta(q.name)+"$", "name_regex")
	}
	res, _, err := p.call(ctx, "list_ips", a.m, 0, "selection-list_ips-"+q.label+".json")
	if err != nil {
		return nil, err
	}
	if res.IsError {
		return nil, p.selectionFailed(res, q)
	}
	var out []evidence.SelectedIP
	for _, e := range objects(res.Data, "ips", "items", "results") {
		ip := str(e["ip"])
		if _, err := netip.ParseAddr(ip); err != nil {
			continue
		}
		for _, rec := range objects(e, "records", "workloads") {
			name, ns, kind := str(rec["name"]), firstStr(rec, "namespace", "ns"), firstStr(rec, "kind", "type")
			if !q.match(name, ns, kind) {
				continue
			}
			ts := int64(num(rec["timestamp"]))
			if ts > 0 && !p.window.IsZero() && ts > p.window.To.UnixMilli() {
				continue
			}
			if kind == "" {
				kind = q.kind
			}
			out = append(out, evidence.SelectedIP{IP: ip, Name: name, Namespace: ns, Kind: strings.ToLower(kind), Timestamp: ts, Via: "list_ips"})
		}
	}
	return out, nil
}

func (p *puller) selectionFailed(res *Result, q workloadQuery) error {
	err := p.toolFailed(res)
	if strings.Contains(strings.ToLower(res.Text), "snapshot_id is required") {
		return newErr(KindToolError, "select "+q.describe(), fmt.Errorf("%s: %s", res.Tool, res.ErrorText()),
			"Kubeshark filters workloads only within a snapshot; use the snapshot route (--dialect snapshot) or select with --bpf")
	}
	return err
}

// ipEntry is one IP of a workload.
type ipEntry struct {
	IP        string
	Timestamp int64
}

// ipEntries reads a workload's IPs: "ips": [{"ip","timestamp"}] or
// ["10.0.0.1"], or a single "ip".
func ipEntries(w map[string]any) []ipEntry {
	var out []ipEntry
	add := func(ip string, ts int64) {
		if _, err := netip.ParseAddr(ip); err == nil {
			out = append(out, ipEntry{IP: ip, Timestamp: ts})
		}
	}
	if list, ok := w["ips"].([]any); ok {
		for _, x := range list {
			switch v := x.(type) {
			case string:
				add(v, 0)
			case map[string]any:
				add(str(v["ip"]), int64(num(v["timestamp"])))
			}
		}
	}
	if ip := str(w["ip"]); ip != "" {
		add(ip, 0)
	}
	return out
}

// objects returns the objects of the first list found under keys in v (v
// itself when it is a list).
func objects(v any, keys ...string) []map[string]any {
	var list []any
	switch t := v.(type) {
	case []any:
		list = t
	case map[string]any:
		for _, k := range keys {
			if l, ok := t[k].([]any); ok {
				list = l
				break
			}
		}
	}
	var out []map[string]any
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func firstStr(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := str(m[k]); s != "" {
			return s
		}
	}
	return ""
}

func num(v any) float64 {
	switch t := v.(type) {
	case json.Number:
		f, _ := t.Float64()
		return f
	case float64:
		return t
	}
	return 0
}

// exportRoute: a single export_pcap tool, called with what its schema takes
// of the selection and the window; its answer may carry a path or URL to
// download, base64 capture bytes, an embedded resource blob or a resource
// link.
func (p *puller) exportRoute(ctx context.Context) (c *captured, via string, err error) {
	r := p.req
	sel := r.Selection
	t, _ := p.s.Tool("export_pcap")
	a := newArgs(t)
	needHosts := false
	if sel.NS != "" && !a.set(sel.NS, "namespace", "ns") {
		if t.Has("namespaces") {
			a.setList([]string{sel.NS}, "namespaces")
		} else {
			needHosts = true
		}
	}
	if sel.Pod != "" && !a.set(sel.Pod, "pod", "pod_name", "pod_regex", "name_regex") {
		needHosts = true
	}
	if sel.Svc != "" && !a.set(sel.Svc, "service", "svc", "service_name") {
		needHosts = true
	}
	bpf := sel.BPF
	if needHosts {
		if bpf, err = p.selectionBPF(ctx); err != nil {
			return nil, "", err
		}
	}
	if bpf != "" {
		if !a.set(bpf, "bpf_filter", "bpf", "bpfFilter", "capture_filter") && !p.setByDescription(a, t, bpf, "bpf") {
			return nil, "", newErr(KindToolError, "export_pcap", errors.New("its schema declares no BPF filter argument"),
				"the server cannot narrow the capture this way: drop --bpf (and --ns/--pod/--svc it does not take) and filter the capture afterwards")
		}
		p.m.Kubeshark.BPFFilter = bpf
	}
	if sel.KFL != "" {
		if a.set(sel.KFL, "kfl", "kfl_filter") || p.setByDescription(a, t, sel.KFL, "kfl") {
			p.kflUsed = true
		}
	}
	if len(sel.Nodes) > 0 && !a.setList(sel.Nodes, "nodes", "node") {
		p.warn("export_pcap takes no nodes argument: --nodes was not applied")
	}
	if !p.window.IsZero() {
		okFrom := a.setTime(p.window.From, "start_time", "startTime", "start", "from")
		okTo := a.setTime(p.window.To, "end_time", "endTime", "end", "to", "until")
		durName := ""
		for _, n := range []string{"duration", "since", "last"} {
			if durName == "" && t.Has(n) {
				durName = n
			}
		}
		if !okFrom && !okTo && durName != "" {
			a.m[durName] = compactDuration(p.window.To.Sub(p.window.From))
			p.warn("export_pcap takes only a duration (%s): it exports the last %s, not exactly the requested window", durName, compactDuration(p.window.To.Sub(p.window.From)))
		} else if !okFrom && !okTo {
			p.warn("export_pcap takes no time range: the capture covers whatever the server exports")
		}
	}
	if miss := a.missing(); len(miss) > 0 {
		return nil, "", newErr(KindToolError, "export_pcap", fmt.Errorf("it requires arguments flowproof does not know how to fill: %s", strings.Join(miss, ", ")),
			"its schema is in kubeshark/tools.json; please report it")
	}
	p.logf("calling export_pcap%s", filterNote(bpf))
	// The answer may carry the capture itself: a --download-timeout given
	// on the command line bounds it too.
	timeout := r.Session.CallTimeout
	if p.downloadTimeoutGiven && r.DownloadTimeout > timeout {
		timeout = r.DownloadTimeout
	}
	res, _, err := p.call(ctx, "export_pcap", a.m, timeout, "")
	if err != nil {
		return nil, "", err
	}
	if res.IsError {
		return nil, "", p.toolFailed(res)
	}
	base := filepath.Join(r.Dir, evidence.CapturesDir, "export-"+p.now().UTC().Format("20060102T150405Z"))
	if !p.window.IsZero() {
		base = filepath.Join(r.Dir, evidence.CapturesDir, "export-"+p.window.From.UTC().Format("20060102T150405Z"))
	}
	// Keep the answer unless it carries the capture itself.
	carriesBytes := captureBase64(res) != "" && !strings.HasPrefix(captureBase64(res), "/") && !strings.HasPrefix(captureBase64(res), "http")
	for _, rs := range res.Resources {
		if rs.Blob != "" {
			carriesBytes = true
		}
	}
	if !carriesBytes {
		if f, err := p.save("export_pcap.json", res); err == nil {
			p.m.Kubeshark.Calls[len(p.m.Kubeshark.Calls)-1].SavedAs = f.Name
		}
	}
	c, via, err = p.captureFromAnswer(ctx, res, base)
	if err != nil {
		return nil, via, err
	}
	return p.checkComplete(c, statedSizes(res.Data, "export_pcap's answer")), via, nil
}

// setByDescription sets v under a generic "filter" argument whose name or
// description says it is a BPF or KFL filter.
func (p *puller) setByDescription(a *args, t Tool, v, kind string) bool {
	for _, name := range []string{"filter", "query"} {
		if !t.Has(name) {
			continue
		}
		if strings.Contains(strings.ToLower(t.PropDesc[name]), kind) {
			a.m[name] = v
			return true
		}
	}
	return false
}

// captureFromAnswer takes the capture out of an export_pcap answer.
func (p *puller) captureFromAnswer(ctx context.Context, res *Result, base string) (*captured, string, error) {
	for _, rs := range res.Resources {
		if rs.Blob != "" {
			data, err := decodeBase64(rs.Blob)
			if err != nil {
				return nil, "", newErr(KindProtocol, "export_pcap", fmt.Errorf("the embedded resource's blob is not base64: %v", err), "")
			}
			c, err := p.writeBytes(data, base, "export_pcap's embedded resource "+rs.URI)
			return c, "embedded resource " + rs.URI + " in export_pcap's answer", err
		}
	}
	if b64 := captureBase64(res); b64 != "" && !strings.HasPrefix(b64, "/") && !strings.HasPrefix(b64, "http") {
		data, err := decodeBase64(b64)
		if err == nil {
			c, err := p.writeBytes(data, base, "export_pcap's base64 capture")
			return c, "base64 capture in export_pcap's answer", err
		}
	}
	if res.Data == nil {
		// The whole text may be the capture in base64.
		if t := strings.TrimSpace(res.Text); len(t) > 32 {
			if data, err := decodeBase64(t); err == nil && looksLikeCapture(data) {
				c, err := p.writeBytes(data, base, "export_pcap's base64 capture")
				return c, "base64 capture in export_pcap's answer", err
			}
		}
	}
	for _, rs := range res.Resources {
		if rs.Link && (strings.HasPrefix(rs.URI, "http://") || strings.HasPrefix(rs.URI, "https://") || strings.HasPrefix(rs.URI, "/")) {
			return p.fetchLocation(ctx, rs.URI, base)
		}
	}
	if loc := capturePath(res); loc != "" {
		return p.fetchLocation(ctx, loc, base)
	}
	return nil, "", newErr(KindProtocol, "export_pcap", fmt.Errorf("its answer holds no capture: no path or URL, no base64 capture, no embedded resource: %q", excerpt(res.Text, 300)),
		"the answer's shape is recorded in the manifest's calls; please report it")
}

// fetchLocation fetches a relative Hub path or a URL into base.part. A
// relative path goes to --hub-url + "/api" + path; without --hub-url, to the
// URL get_file_url builds; when no Hub URL is reachable (or the Hub refuses
// our token), the MCP server's download_file tool fetches it instead. A URL
// is fetched only from a trusted origin (trusted), and a local path a
// server answers with is never read.
func (p *puller) fetchLocation(ctx context.Context, loc, base string) (*captured, string, error) {
	r := p.req
	token := r.Endpoint.Token
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		if err := p.checkOrigin(loc, "the server's answer"); err != nil {
			return nil, "", err
		}
		p.logf("downloading %s", provenance.RedactURL(loc))
		c, err := p.fetchHTTP(ctx, loc, token, base)
		return c, "http GET " + provenance.RedactURL(loc), err
	}
	if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
		return nil, "", newErr(KindProtocol, "fetch the capture", fmt.Errorf("%q is neither a relative Hub path nor an http(s) URL: %w", excerpt(provenance.SafeText(loc), 200), errLocalPath),
			"flowproof never reads a local file a server names; if the server wrote the capture on this host, copy it yourself and analyze it")
	}
	loc = strings.ReplaceAll(loc, " ", "%20") // a path whose query was not escaped
	// The URLs to try, in order; a later one only after a 404.
	var urls []string
	derived := false
	switch {
	case r.HubURL != "" && strings.HasPrefix(loc, "/api/"):
		urls = []string{r.HubURL + loc} // already a front path
	case r.HubURL != "":
		// As Kubeshark's get_file_url builds it; then as a Hub-native path,
		// in case --hub-url is the Hub itself (port 8898).
		urls = []string{r.HubURL + "/api" + loc, r.HubURL + loc}
	case p.s.Has("get_file_url"):
		t, _ := p.s.Tool("get_file_url")
		a := newArgs(t)
		a.set(loc, "path")
		res, _, err := p.call(ctx, "get_file_url", a.m, 0, "get_file_url.json")
		if err == nil && !res.IsError {
			u := strings.TrimSpace(jsonv.LookupString(res.Data, "url"))
			if u == "" {
				u = strings.TrimSpace(res.Text)
			}
			if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
				if err := p.checkOrigin(u, "get_file_url"); err != nil {
					return nil, "", err
				}
				urls = []string{u}
			}
		}
	case r.Endpoint.URL != "":
		// No Hub URL: try the MCP server's own host, which may serve both.
		if u, err := neturl.Parse(r.Endpoint.URL); err == nil && u.Host != "" {
			origin := u.Scheme + "://" + u.Host
			urls, derived = []string{origin + "/api" + loc, origin + loc}, true
		}
	}
	if len(urls) > 0 {
		var err error
		for i, u := range urls {
			if i > 0 && !errors.Is(err, errNotFound) {
				break
			}
			p.logf("downloading %s", provenance.RedactURL(u))
			var c *captured
			if c, err = p.fetchHTTP(ctx, u, token, base); err == nil {
				if i > 0 {
					p.warn("%s answered 404 but %s worked: --hub-url seems to be the Hub itself rather than the Kubeshark front", provenance.RedactURL(urls[0]), provenance.RedactURL(u))
				}
				if derived {
					p.warn("no --hub-url: the capture was fetched from the MCP server's host (%s)", provenance.RedactURL(u))
				}
				return c, "http GET " + provenance.RedactURL(u), nil
			}
		}
		k := KindOf(err)
		if errors.Is(err, errCrossOrigin) || (k != KindConnect && k != KindAuth && !derived) || !p.s.Has("download_file") {
			if derived {
				var e *Error
				if errors.As(err, &e) && !errors.Is(err, errCrossOrigin) {
					e.Fix = "no --hub-url was given and the MCP server's host does not serve the file: give --hub-url (the Kubeshark front URL, e.g. http://127.0.0.1:8899 after `kubeshark proxy`) or set KUBESHARK_HUB_URL"
				}
			}
			return nil, "", err
		}
		p.warn("%v; falling back to the server's download_file", err)
	} else if !p.s.Has("download_file") {
		return nil, "", newErr(KindUsage, "fetch "+loc, errors.New("the capture is a relative Hub path, no --hub-url was given and the server offers neither get_file_url nor download_file"),
			"give --hub-url (the Kubeshark front URL, e.g. http://127.0.0.1:8899 after `kubeshark proxy`) or set KUBESHARK_HUB_URL")
	}
	p.logf("fetching %s with download_file", loc)
	c, err := p.fetchWithTool(ctx, loc, base)
	return c, "download_file " + loc, err
}

// errLocalPath marks an answer that names a local file.
var errLocalPath = errors.New("a local path")

// checkOrigin refuses a download URL a server named on an untrusted origin:
// neither the token nor a request goes there.
func (p *puller) checkOrigin(u, from string) error {
	if p.trusted(u) {
		return nil
	}
	return newErr(KindDownload, "download "+provenance.RedactURL(provenance.SafeText(u)), fmt.Errorf("%s names a URL on another origin than the Hub's: %w", from, errCrossOrigin),
		"flowproof downloads only from --hub-url, --mcp-url, the --url of --mcp-command, or an origin given with --trust-origin; if this origin is yours, give it with --trust-origin")
}
