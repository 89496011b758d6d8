package mcpserver

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/flowproof/flowproof/report"
)

// sortKeys are the columns query_flows sorts by; every one but ts sorts
// largest first unless order says otherwise.
var sortKeys = map[string]func(*report.FlowRow) int64{
	"ts":              func(r *report.FlowRow) int64 { return r.TsNs },
	"duration":        func(r *report.FlowRow) int64 { return r.DurationNs },
	"bytes":           func(r *report.FlowRow) int64 { return r.OrigBytes + r.RespBytes },
	"packets":         func(r *report.FlowRow) int64 { return r.OrigPkts + r.RespPkts },
	"retrans_pkts":    func(r *report.FlowRow) int64 { return r.OrigRetransPkts + r.RespRetransPkts },
	"rtt_handshake":   func(r *report.FlowRow) int64 { return optOr(r.RTTHandshakeNs, -1) },
	"rtt_syn_synack":  func(r *report.FlowRow) int64 { return optOr(r.RTTSynSynAckNs, -1) },
	"rtt_first_reply": func(r *report.FlowRow) int64 { return optOr(r.RTTFirstReplyNs, -1) },
	"missed_bytes":    func(r *report.FlowRow) int64 { return r.MissedBytes },
	"zero_windows":    func(r *report.FlowRow) int64 { return r.ZeroWindows },
	"orig_rtt_p50":    func(r *report.FlowRow) int64 { return optOr(r.OrigRTTP50Ns, -1) },
	"resp_rtt_p50":    func(r *report.FlowRow) int64 { return optOr(r.RespRTTP50Ns, -1) },
}

func sortKeyNames() []string {
	return []string{"ts", "duration", "bytes", "packets", "retrans_pkts", "rtt_handshake", "rtt_syn_synack", "rtt_first_reply", "missed_bytes", "zero_windows", "orig_rtt_p50", "resp_rtt_p50"}
}

func optOr(p *int64, d int64) int64 {
	if p == nil {
		return d
	}
	return *p
}

func queryTool() mcp.Tool {
	str := func(name, desc string) mcp.ToolOption {
		return mcp.WithString(name, mcp.MaxLength(1024), mcp.Description(desc))
	}
	return mcp.NewTool("query_flows",
		mcp.WithDescription("Rows of an analysis' flows.parquet (one per TCP/UDP flow), filtered, sorted and limited; the answer says how many more rows matched. "+
			"String filters match the column exactly, or as a glob with * and ?. Times in rows are RFC 3339, durations in ms. orig/src is the connection's originator."),
		mcp.WithString("output_dir", mcp.Required(), mcp.MaxLength(4096), mcp.Description("Output directory of an analysis, inside a root.")),
		str("flow_id", "flow_id (as findings name them)."),
		str("src_pod", "Originator pod."), str("dst_pod", "Responder pod."),
		str("src_namespace", "Originator namespace."), str("dst_namespace", "Responder namespace."),
		str("src_service", "Originator service."), str("dst_service", "Responder service."),
		str("src_ip", "Originator address."), str("dst_ip", "Responder address."),
		mcp.WithInteger("src_port", mcp.Min(0), mcp.Max(65535), mcp.Description("Originator port.")),
		mcp.WithInteger("dst_port", mcp.Min(0), mcp.Max(65535), mcp.Description("Responder (server) port.")),
		mcp.WithString("proto", mcp.Enum("tcp", "udp")),
		str("state", "Zeek conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH."),
		str("crosscheck", "Cross-check verdict of the flow's Kubeshark aggregate (match, mismatch_bytes, pcap_only, ...)."),
		str("capture", "Capture file name."),
		mcp.WithNumber("min_rtt_ms", mcp.Min(0), mcp.Description("Only flows whose TCP handshake RTT is at least this many milliseconds.")),
		mcp.WithInteger("min_bytes", mcp.Min(0), mcp.Description("Only flows with at least this many payload bytes (both directions).")),
		str("since", "Only flows that end at or after this RFC 3339 time."),
		str("until", "Only flows that start before this RFC 3339 time."),
		mcp.WithBoolean("synthetic", mcp.Description("Only Kubeshark's synthetic TLS plaintext twins (true) or only wire flows (false); default both.")),
		mcp.WithString("sort_by", mcp.Enum(sortKeyNames()...), mcp.Description("Sort key (default ts). Sums over both directions for bytes, packets, retrans_pkts.")),
		mcp.WithString("order", mcp.Enum("asc", "desc"), mcp.Description("Default asc for ts, desc for the others.")),
		mcp.WithInteger("limit", mcp.Min(1), mcp.Description(fmt.Sprintf("Rows to return (default %d, at most %d; the answer is also capped in bytes).", DefaultLimit, DefaultMaxRows))),
		mcp.WithReadOnlyHintAnnotation(true),
	)
}

type queryArgs struct {
	OutputDir    string   `json:"output_dir"`
	FlowID       string   `json:"flow_id"`
	SrcPod       string   `json:"src_pod"`
	DstPod       string   `json:"dst_pod"`
	SrcNamespace string   `json:"src_namespace"`
	DstNamespace string   `json:"dst_namespace"`
	SrcService   string   `json:"src_service"`
	DstService   string   `json:"dst_service"`
	SrcIP        string   `json:"src_ip"`
	DstIP        string   `json:"dst_ip"`
	SrcPort      *int     `json:"src_port"`
	DstPort      *int     `json:"dst_port"`
	Proto        string   `json:"proto"`
	State        string   `json:"state"`
	CrossCheck   string   `json:"crosscheck"`
	Capture      string   `json:"capture"`
	MinRTTMs     *float64 `json:"min_rtt_ms"`
	MinBytes     *int64   `json:"min_bytes"`
	Since        string   `json:"since"`
	Until        string   `json:"until"`
	Synthetic    *bool    `json:"synthetic"`
	SortBy       string   `json:"sort_by"`
	Order        string   `json:"order"`
	Limit        *int     `json:"limit"`
}

// flowFilter is a parsed query.
type flowFilter struct {
	strs       []strFilter
	srcPort    int32
	dstPort    int32
	minRTTNs   int64
	minBytes   int64
	when       timeRange
	synthetic  *bool
	hasSrcPort bool
	hasDstPort bool
	hasRTT     bool
}

type strFilter struct {
	get func(*report.FlowRow) string
	strPattern
}

func (a *queryArgs) filter() (*flowFilter, error) {
	f := &flowFilter{synthetic: a.Synthetic}
	for _, s := range []struct {
		name, v string
		get     func(*report.FlowRow) string
	}{
		{"flow_id", a.FlowID, func(r *report.FlowRow) string { return r.FlowID }},
		{"src_pod", a.SrcPod, func(r *report.FlowRow) string { return r.SrcPod }},
		{"dst_pod", a.DstPod, func(r *report.FlowRow) string { return r.DstPod }},
		{"src_namespace", a.SrcNamespace, func(r *report.FlowRow) string { return r.SrcNamespace }},
		{"dst_namespace", a.DstNamespace, func(r *report.FlowRow) string { return r.DstNamespace }},
		{"src_service", a.SrcService, func(r *report.FlowRow) string { return r.SrcService }},
		{"dst_service", a.DstService, func(r *report.FlowRow) string { return r.DstService }},
		{"src_ip", a.SrcIP, func(r *report.FlowRow) string { return r.SrcIP }},
		{"dst_ip", a.DstIP, func(r *report.FlowRow) string { return r.DstIP }},
		{"proto", a.Proto, func(r *report.FlowRow) string { return r.Proto }},
		{"state", a.State, func(r *report.FlowRow) string { return r.State }},
		{"crosscheck", a.CrossCheck, func(r *report.FlowRow) string { return r.CrossCheck }},
		{"capture", a.Capture, func(r *report.FlowRow) string { return r.Capture }},
	} {
		if s.v == "" {
			continue
		}
		p, err := compilePattern(s.name, s.v)
		if err != nil {
			return nil, err
		}
		f.strs = append(f.strs, strFilter{get: s.get, strPattern: p})
	}
	for _, p := range []struct {
		name string
		v    *int
		dst  *int32
		has  *bool
	}{{"src_port", a.SrcPort, &f.srcPort, &f.hasSrcPort}, {"dst_port", a.DstPort, &f.dstPort, &f.hasDstPort}} {
		if p.v == nil {
			continue
		}
		if *p.v < 0 || *p.v > 65535 {
			return nil, errorf("%s %d: want 0..65535", p.name, *p.v)
		}
		*p.dst, *p.has = int32(*p.v), true
	}
	if a.MinRTTMs != nil {
		if *a.MinRTTMs < 0 || *a.MinRTTMs > 1e9 {
			return nil, errorf("min_rtt_ms %v: want 0..1e9", *a.MinRTTMs)
		}
		f.minRTTNs, f.hasRTT = int64(*a.MinRTTMs*1e6), true
	}
	if a.MinBytes != nil {
		if *a.MinBytes < 0 {
			return nil, errorf("min_bytes %d: must not be negative", *a.MinBytes)
		}
		f.minBytes = *a.MinBytes
	}
	var err error
	if f.when, err = parseTimeRange(a.Since, a.Until); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *flowFilter) match(r *report.FlowRow) bool {
	for _, s := range f.strs {
		if !s.match(s.get(r)) {
			return false
		}
	}
	switch {
	case f.hasSrcPort && r.SrcPort != f.srcPort,
		f.hasDstPort && r.DstPort != f.dstPort,
		f.hasRTT && (r.RTTHandshakeNs == nil || *r.RTTHandshakeNs < f.minRTTNs),
		r.OrigBytes+r.RespBytes < f.minBytes,
		f.when.hasSince && r.EndNs < f.when.sinceNs,
		f.when.hasUntil && r.TsNs >= f.when.untilNs,
		f.synthetic != nil && r.Synthetic != *f.synthetic:
		return false
	}
	return true
}

// FlowOut is one row of query_flows' answer.
type FlowOut struct {
	FlowID        string   `json:"flow_id"`
	Capture       string   `json:"capture"`
	Proto         string   `json:"proto"`
	SrcIP         string   `json:"src_ip"`
	SrcPort       int32    `json:"src_port"`
	DstIP         string   `json:"dst_ip"`
	DstPort       int32    `json:"dst_port"`
	SrcPod        string   `json:"src_pod,omitempty"`
	SrcNamespace  string   `json:"src_namespace,omitempty"`
	SrcService    string   `json:"src_service,omitempty"`
	DstPod        string   `json:"dst_pod,omitempty"`
	DstNamespace  string   `json:"dst_namespace,omitempty"`
	DstService    string   `json:"dst_service,omitempty"`
	Ts            string   `json:"ts"`
	DurationMs    float64  `json:"duration_ms"`
	State         string   `json:"state"`
	History       string   `json:"history,omitempty"`
	OrigPkts      int64    `json:"orig_pkts"`
	RespPkts      int64    `json:"resp_pkts"`
	OrigBytes     int64    `json:"orig_bytes"`
	RespBytes     int64    `json:"resp_bytes"`
	RetransPkts   int64    `json:"retrans_pkts,omitempty"`
	MissedBytes   int64    `json:"missed_bytes,omitempty"`
	ZeroWindows   int64    `json:"zero_windows,omitempty"`
	RTTHandshake  *float64 `json:"rtt_handshake_ms,omitempty"`
	RTTSynSynAck  *float64 `json:"rtt_syn_synack_ms,omitempty"`
	RTTFirstReply *float64 `json:"rtt_first_reply_ms,omitempty"`
	OrigRTTP50    *float64 `json:"orig_rtt_p50_ms,omitempty"`
	RespRTTP50    *float64 `json:"resp_rtt_p50_ms,omitempty"`
	CrossCheck    string   `json:"crosscheck,omitempty"`
	Synthetic     bool     `json:"synthetic,omitempty"`
	Tunnel        string   `json:"tunnel,omitempty"`
}

func ms(p *int64) *float64 {
	if p == nil {
		return nil
	}
	v := float64(*p) / 1e6
	return &v
}

func flowOut(r *report.FlowRow) FlowOut {
	return FlowOut{FlowID: r.FlowID, Capture: r.Capture, Proto: r.Proto, SrcIP: r.SrcIP, SrcPort: r.SrcPort, DstIP: r.DstIP, DstPort: r.DstPort,
		SrcPod: r.SrcPod, SrcNamespace: r.SrcNamespace, SrcService: r.SrcService, DstPod: r.DstPod, DstNamespace: r.DstNamespace, DstService: r.DstService,
		Ts: time.Unix(0, r.TsNs).UTC().Format(time.RFC3339Nano), DurationMs: float64(r.DurationNs) / 1e6, State: r.State, History: r.History,
		OrigPkts: r.OrigPkts, RespPkts: r.RespPkts, OrigBytes: r.OrigBytes, RespBytes: r.RespBytes,
		RetransPkts: r.OrigRetransPkts + r.RespRetransPkts, MissedBytes: r.MissedBytes, ZeroWindows: r.ZeroWindows,
		RTTHandshake: ms(r.RTTHandshakeNs), RTTSynSynAck: ms(r.RTTSynSynAckNs), RTTFirstReply: ms(r.RTTFirstReplyNs),
		OrigRTTP50: ms(r.OrigRTTP50Ns), RespRTTP50: ms(r.RespRTTP50Ns), CrossCheck: r.CrossCheck, Synthetic: r.Synthetic, Tunnel: r.Tunnel}
}

// queryAnswer is what query_flows returns.
type queryAnswer struct {
	OutputDir string    `json:"output_dir"`
	Scanned   int64     `json:"scanned"`
	Matched   int64     `json:"matched"`
	Returned  int       `json:"returned"`
	More      int64     `json:"more"`
	Note      string    `json:"note,omitempty"`
	Rows      []FlowOut `json:"rows"`
}

// readBatch is how many rows are decoded at once.
const readBatch = 256

func (s *Server) queryTool(c *call) (any, error) {
	var a queryArgs
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	dir, err := s.outputDir(c, a.OutputDir)
	if err != nil {
		return nil, err
	}
	f, err := a.filter()
	if err != nil {
		return nil, err
	}
	sortBy := a.SortBy
	if sortBy == "" {
		sortBy = "ts"
	}
	key, ok := sortKeys[sortBy]
	if !ok {
		return nil, errorf("sort_by %q: use one of %s", sortBy, strings.Join(sortKeyNames(), ", "))
	}
	q, err := newRowQuery(a.Limit, s.o.MaxRows, a.Order, sortBy)
	if err != nil {
		return nil, err
	}
	h := &topN[report.FlowRow]{desc: q.desc}
	ans := &queryAnswer{OutputDir: dir}
	if err := scanTable(c, filepath.Join(dir, "flows.parquet"), func(pos int64, r *report.FlowRow) {
		ans.Scanned++
		if !f.match(r) {
			return
		}
		ans.Matched++
		h.offer(q.limit, key(r), pos, func() report.FlowRow { return *r })
	}); err != nil {
		return nil, err
	}
	var rows []FlowOut
	for _, r := range h.best() {
		rows = append(rows, flowOut(&r))
	}
	ans.Rows, ans.Note = fitRows(q, rows, s.o.MaxAnswerBytes, ans.Matched)
	ans.Returned = len(ans.Rows)
	ans.More = ans.Matched - int64(ans.Returned)
	return ans, nil
}
