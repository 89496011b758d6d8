package mcpserver

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/parquet-go/parquet-go"

	"github.com/flowproof/flowproof/report"
)

// query_l7: rows of http.parquet or dns.parquet, with query_flows' safety:
// the file is streamed in batches, only the best limit rows are kept, the
// answer is capped in bytes; no SQL.

func queryL7Tool() mcp.Tool {
	str := func(name, desc string) mcp.ToolOption {
		return mcp.WithString(name, mcp.MaxLength(1024), mcp.Description(desc))
	}
	return mcp.NewTool("query_l7",
		mcp.WithDescription("Rows of an analysis' http.parquet (one per HTTP/1.x request) or dns.parquet (one per DNS query), written by analyze with L7 on; filtered, sorted and limited, the answer says how many more rows matched. "+
			"String filters match exactly, or as a glob with * and ?. Times are RFC 3339, durations ms. src is the client."),
		mcp.WithString("output_dir", mcp.Required(), mcp.MaxLength(4096), mcp.Description("Output directory of an analysis, inside a root.")),
		mcp.WithString("table", mcp.Required(), mcp.Enum("http", "dns"), mcp.Description("http.parquet or dns.parquet.")),
		str("flow_id", "flow_id (joins query_flows)."),
		str("src_ip", "Client address."), str("dst_ip", "Server address."),
		str("src_pod", "Client pod."), str("dst_pod", "Server pod."),
		str("src_namespace", "Client namespace."), str("dst_namespace", "Server namespace."),
		str("dst_service", "Server service."),
		str("method", "http: request method."), str("host", "http: Host header."), str("uri", "http: request URI (a glob such as /api/*)."),
		mcp.WithString("status_class", mcp.Enum("1xx", "2xx", "3xx", "4xx", "5xx", "none"), mcp.Description("http: status class; none is no response.")),
		mcp.WithInteger("status", mcp.Min(0), mcp.Max(999), mcp.Description("http: status code.")),
		str("query", "dns: queried name (a glob such as *.svc.cluster.local)."),
		str("qtype_name", "dns: A, AAAA, SRV, ..."), str("rcode_name", "dns: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ..."),
		mcp.WithBoolean("answered", mcp.Description("dns: only answered (true) or unanswered (false) queries.")),
		mcp.WithBoolean("synthetic", mcp.Description("http: only requests on Kubeshark's synthetic TLS plaintext (true) or on the wire (false).")),
		mcp.WithNumber("min_latency_ms", mcp.Min(0), mcp.Description("Only rows whose latency (http latency_ns, dns rtt_ns) is at least this many ms.")),
		str("since", "Only rows at or after this RFC 3339 time."),
		str("until", "Only rows before this RFC 3339 time."),
		mcp.WithString("sort_by", mcp.Enum("ts", "latency", "duration", "response_body_len"), mcp.Description("Sort key (default ts); latency is latency_ns (http) or rtt_ns (dns); duration and response_body_len are http's.")),
		mcp.WithString("order", mcp.Enum("asc", "desc"), mcp.Description("Default asc for ts, desc for the others.")),
		mcp.WithInteger("limit", mcp.Min(1), mcp.Description(fmt.Sprintf("Rows to return (default %d, at most %d; the answer is also capped in bytes).", DefaultLimit, DefaultMaxRows))),
		mcp.WithReadOnlyHintAnnotation(true),
	)
}

type queryL7Args struct {
	OutputDir    string   `json:"output_dir"`
	Table        string   `json:"table"`
	FlowID       string   `json:"flow_id"`
	SrcIP        string   `json:"src_ip"`
	DstIP        string   `json:"dst_ip"`
	SrcPod       string   `json:"src_pod"`
	DstPod       string   `json:"dst_pod"`
	SrcNamespace string   `json:"src_namespace"`
	DstNamespace string   `json:"dst_namespace"`
	DstService   string   `json:"dst_service"`
	Method       string   `json:"method"`
	Host         string   `json:"host"`
	URI          string   `json:"uri"`
	StatusClass  string   `json:"status_class"`
	Status       *int     `json:"status"`
	Query        string   `json:"query"`
	QTypeName    string   `json:"qtype_name"`
	RcodeName    string   `json:"rcode_name"`
	Answered     *bool    `json:"answered"`
	Synthetic    *bool    `json:"synthetic"`
	MinLatencyMs *float64 `json:"min_latency_ms"`
	Since        string   `json:"since"`
	Until        string   `json:"until"`
	SortBy       string   `json:"sort_by"`
	Order        string   `json:"order"`
	Limit        *int     `json:"limit"`
}

// l7Row is what the filters and sort keys read of a row of either table.
type l7Row struct {
	strs      map[string]string
	tsNs      int64
	latNs     *int64
	durNs     *int64
	respBody  int64
	status    *int32
	answered  bool
	synthetic bool
}

// L7Out is one row of query_l7's answer: an http.parquet or dns.parquet
// row, durations in ms.
type L7Out map[string]any

func httpOut(r *report.HTTPRow) L7Out {
	o := L7Out{"flow_id": r.FlowID, "ts": rfc3339(r.TsNs), "src_ip": r.SrcIP, "src_port": r.SrcPort, "dst_ip": r.DstIP, "dst_port": r.DstPort,
		"trans_depth": r.TransDepth, "method": r.Method, "host": r.Host, "uri": r.URI, "version": r.Version,
		"request_body_len": r.RequestBodyLen, "response_body_len": r.ResponseBodyLen, "tags": r.Tags, "synthetic": r.Synthetic}
	if r.StatusCode != nil {
		o["status_code"], o["status_msg"] = *r.StatusCode, r.StatusMsg
	}
	for k, v := range map[string]*int64{"latency_ms": r.LatencyNs, "duration_ms": r.DurationNs} {
		if m := ms(v); m != nil {
			o[k] = *m
		}
	}
	identityOut(o, r.Identity)
	return o
}

func dnsOut(r *report.DNSRow) L7Out {
	o := L7Out{"flow_id": r.FlowID, "ts": rfc3339(r.TsNs), "src_ip": r.SrcIP, "src_port": r.SrcPort, "dst_ip": r.DstIP, "dst_port": r.DstPort,
		"proto": r.Proto, "trans_id": r.TransID, "query": r.Query, "qtype_name": r.QTypeName, "answered": r.Answered, "answers": r.Answers, "retry": r.Retry}
	if r.Rcode != nil {
		o["rcode_name"] = r.RcodeName
	}
	if m := ms(r.RTTNs); m != nil {
		o["rtt_ms"] = *m
	}
	identityOut(o, r.Identity)
	return o
}

func identityOut(o L7Out, id report.Identity) {
	for k, v := range map[string]string{"src_pod": id.SrcPod, "src_namespace": id.SrcNamespace, "src_service": id.SrcService,
		"dst_pod": id.DstPod, "dst_namespace": id.DstNamespace, "dst_service": id.DstService} {
		if v != "" {
			o[k] = v
		}
	}
}

func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

type l7Filter struct {
	strs       map[string]strPattern
	statusLo   int32
	statusHi   int32 // exclusive; both 0: any
	noResponse bool
	answered   *bool
	synthetic  *bool
	minLatNs   int64
	hasLat     bool
	when       timeRange
}

func (a *queryL7Args) filter() (*l7Filter, error) {
	f := &l7Filter{strs: map[string]strPattern{}, answered: a.Answered, synthetic: a.Synthetic}
	httpOnly := map[string]string{"method": a.Method, "host": a.Host, "uri": a.URI}
	dnsOnly := map[string]string{"query": a.Query, "qtype_name": a.QTypeName, "rcode_name": a.RcodeName}
	for name, v := range map[string]string{"flow_id": a.FlowID, "src_ip": a.SrcIP, "dst_ip": a.DstIP, "src_pod": a.SrcPod, "dst_pod": a.DstPod,
		"src_namespace": a.SrcNamespace, "dst_namespace": a.DstNamespace, "dst_service": a.DstService,
		"method": a.Method, "host": a.Host, "uri": a.URI, "query": a.Query, "qtype_name": a.QTypeName, "rcode_name": a.RcodeName} {
		if v == "" {
			continue
		}
		if _, ok := httpOnly[name]; ok && a.Table != "http" {
			return nil, errorf("%s filters http rows: use table http", name)
		}
		if _, ok := dnsOnly[name]; ok && a.Table != "dns" {
			return nil, errorf("%s filters dns rows: use table dns", name)
		}
		p, err := compilePattern(name, v)
		if err != nil {
			return nil, err
		}
		f.strs[name] = p
	}
	if (a.StatusClass != "" || a.Status != nil || a.Synthetic != nil) && a.Table != "http" {
		return nil, errorf("status_class, status and synthetic filter http rows: use table http")
	}
	if a.Answered != nil && a.Table != "dns" {
		return nil, errorf("answered filters dns rows: use table dns")
	}
	switch c := a.StatusClass; {
	case c == "none":
		f.noResponse = true
	case c != "":
		d, err := strconv.Atoi(c[:1])
		if err != nil || len(c) != 3 || c[1:] != "xx" || d < 1 || d > 5 {
			return nil, errorf("status_class %q: use 1xx .. 5xx or none", c)
		}
		f.statusLo, f.statusHi = int32(d*100), int32(d*100+100)
	}
	if a.Status != nil {
		if *a.Status < 0 || *a.Status > 999 {
			return nil, errorf("status %d: want 0..999", *a.Status)
		}
		if f.statusHi != 0 && (int32(*a.Status) < f.statusLo || int32(*a.Status) >= f.statusHi) || f.noResponse {
			return nil, errorf("status %d contradicts status_class %s", *a.Status, a.StatusClass)
		}
		f.statusLo, f.statusHi = int32(*a.Status), int32(*a.Status)+1
	}
	if a.MinLatencyMs != nil {
		if *a.MinLatencyMs < 0 || *a.MinLatencyMs > 1e9 {
			return nil, errorf("min_latency_ms %v: want 0..1e9", *a.MinLatencyMs)
		}
		f.minLatNs, f.hasLat = int64(*a.MinLatencyMs*1e6), true
	}
	var err error
	if f.when, err = parseTimeRange(a.Since, a.Until); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *l7Filter) match(r *l7Row) bool {
	for name, p := range f.strs {
		if !p.match(r.strs[name]) {
			return false
		}
	}
	switch {
	case f.noResponse && r.status != nil,
		f.statusHi != 0 && (r.status == nil || *r.status < f.statusLo || *r.status >= f.statusHi),
		f.answered != nil && r.answered != *f.answered,
		f.synthetic != nil && r.synthetic != *f.synthetic,
		f.hasLat && (r.latNs == nil || *r.latNs < f.minLatNs),
		f.when.hasSince && r.tsNs < f.when.sinceNs,
		f.when.hasUntil && r.tsNs >= f.when.untilNs:
		return false
	}
	return true
}

func httpView(r *report.HTTPRow) l7Row {
	return l7Row{strs: map[string]string{"flow_id": r.FlowID, "src_ip": r.SrcIP, "dst_ip": r.DstIP, "src_pod": r.SrcPod, "dst_pod": r.DstPod,
		"src_namespace": r.SrcNamespace, "dst_namespace": r.DstNamespace, "dst_service": r.DstService, "method": r.Method, "host": r.Host, "uri": r.URI},
		tsNs: r.TsNs, latNs: r.LatencyNs, durNs: r.DurationNs, respBody: r.ResponseBodyLen, status: r.StatusCode, synthetic: r.Synthetic}
}

func dnsView(r *report.DNSRow) l7Row {
	return l7Row{strs: map[string]string{"flow_id": r.FlowID, "src_ip": r.SrcIP, "dst_ip": r.DstIP, "src_pod": r.SrcPod, "dst_pod": r.DstPod,
		"src_namespace": r.SrcNamespace, "dst_namespace": r.DstNamespace, "dst_service": r.DstService, "query": r.Query, "qtype_name": r.QTypeName, "rcode_name": r.RcodeName},
		tsNs: r.TsNs, latNs: r.RTTNs, answered: r.Answered}
}

// queryL7Answer is what query_l7 returns.
type queryL7Answer struct {
	OutputDir string  `json:"output_dir"`
	Table     string  `json:"table"`
	Scanned   int64   `json:"scanned"`
	Matched   int64   `json:"matched"`
	Returned  int     `json:"returned"`
	More      int64   `json:"more"`
	Note      string  `json:"note,omitempty"`
	Rows      []L7Out `json:"rows"`
}

func (s *Server) queryL7Tool(c *call) (any, error) {
	var a queryL7Args
	if err := c.decode(&a); err != nil {
		return nil, err
	}
	dir, err := s.outputDir(c, a.OutputDir)
	if err != nil {
		return nil, err
	}
	if a.Table != "http" && a.Table != "dns" {
		return nil, errorf("table %q: use http or dns", a.Table)
	}
	f, err := a.filter()
	if err != nil {
		return nil, err
	}
	keys := map[string]func(*l7Row) int64{
		"ts":                func(r *l7Row) int64 { return r.tsNs },
		"latency":           func(r *l7Row) int64 { return optOr(r.latNs, -1) },
		"duration":          func(r *l7Row) int64 { return optOr(r.durNs, -1) },
		"response_body_len": func(r *l7Row) int64 { return r.respBody },
	}
	sortBy := a.SortBy
	if sortBy == "" {
		sortBy = "ts"
	}
	key, ok := keys[sortBy]
	if !ok || (a.Table == "dns" && (sortBy == "duration" || sortBy == "response_body_len")) {
		return nil, errorf("sort_by %q: use ts or latency (and, for http, duration or response_body_len)", sortBy)
	}
	q, err := newRowQuery(a.Limit, s.o.MaxRows, a.Order, sortBy)
	if err != nil {
		return nil, err
	}
	h := &topN[L7Out]{desc: q.desc}
	ans := &queryL7Answer{OutputDir: dir, Table: a.Table}
	consider := func(pos int64, v *l7Row, out func() L7Out) {
		ans.Scanned++
		if f.match(v) {
			ans.Matched++
			h.offer(q.limit, key(v), pos, out)
		}
	}
	switch a.Table {
	case "http":
		err = scanTable(c, filepath.Join(dir, report.HTTPFile), func(pos int64, r *report.HTTPRow) {
			v := httpView(r)
			consider(pos, &v, func() L7Out { return httpOut(r) })
		})
	default:
		err = scanTable(c, filepath.Join(dir, report.DNSFile), func(pos int64, r *report.DNSRow) {
			v := dnsView(r)
			consider(pos, &v, func() L7Out { return dnsOut(r) })
		})
	}
	if err != nil {
		return nil, err
	}
	ans.Rows, ans.Note = fitRows(q, h.best(), s.o.MaxAnswerBytes, ans.Matched)
	ans.Returned = len(ans.Rows)
	ans.More = ans.Matched - int64(ans.Returned)
	return ans, nil
}

// scanTable streams a table written by package report in batches to fn,
// checking the schema version and stopping when the call is canceled.
func scanTable[T any](c *call, path string, fn func(pos int64, r *T)) error {
	name := filepath.Base(path)
	if _, err := os.Stat(path); os.IsNotExist(err) && name != "flows.parquet" {
		return errorf("%s: not in this output directory: analyze with L7 on (without --no-l7) writes it", name)
	}
	file, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if v, ok := pf.Lookup(report.MetaSchema); !ok || v != strconv.Itoa(report.FlowSchemaVersion) {
		return errorf("%s: %s is %q, want %d (written by another flowproof version?)", name, report.MetaSchema, v, report.FlowSchemaVersion)
	}
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	buf := make([]T, readBatch)
	var pos int64
	for {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		clear(buf)
		n, err := r.Read(buf)
		for i := range buf[:n] {
			fn(pos, &buf[i])
			pos++
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errorf("%s: row %d: %v", name, pos, err)
		}
	}
}
