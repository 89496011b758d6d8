package report

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// L7Summary is what the report says about http.parquet and dns.parquet.
// Like Summary it is bounded whatever the number of rows: fixed top-N
// lists, a status timeline of at most maxIntervals intervals, and capped
// maps (maxL7Groups) whose overflow is counted, not kept. It is fed the
// rows as they are written (AddHTTP, AddDNS), in the tables' order.
type L7Summary struct {
	topN   int
	slowNs int64

	httpRows     int64
	status       classTimeline
	slowCount    int64 // requests with latency_ns >= slowNs
	latencyRows  int64 // requests with latency_ns
	slowest      []httpRef
	groups       map[httpGroupKey]*httpGroup
	lastKey      httpGroupKey // the last row's group, found again without hashing
	lastGroup    *httpGroup
	lastURI      string // the last row's URI and its path template
	lastPath     string
	groupsLost   int64 // requests of groups not tracked (the map was full)
	dnsRows      int64
	rcodes       map[string]int64
	names        map[string]*dnsName
	namesLost    int64 // failing queries of names not tracked
	slowestDNS   []dnsRef
	dnsFailures  int64 // NXDOMAIN, SERVFAIL, REFUSED or unanswered
	dnsUnanswerd int64
}

// maxL7Groups caps the error-rate groups and the failing DNS names.
const maxL7Groups = 10000

// DefaultSlowRequestNs is the latency from which a request counts as slow
// in the findings.
const DefaultSlowRequestNs = 1e9

// Status classes of the timeline: 1xx to 5xx, other codes, no response.
const (
	numStatusClasses = 7
	classOther       = 5
	classNone        = 6
)

func statusClass(code *int32) int {
	switch {
	case code == nil:
		return classNone
	case *code >= 100 && *code < 600:
		return int(*code/100) - 1
	}
	return classOther
}

type httpRef struct {
	flowID         string
	depth          int32
	client, server string
	port           int32
	method, uri    string
	status         string // "-" without response
	latencyNs      int64
	durationNs     string // "-" when unknown, else ms
}

type httpGroupKey struct{ client, server, method, path string }

type httpGroup struct{ requests, s4xx, s5xx, none int64 }

type dnsName struct{ queries, nx, servfail, refused, unanswered int64 }

func (n *dnsName) failures() int64 { return n.nx + n.servfail + n.refused + n.unanswered }

type dnsRef struct {
	flowID         string
	tsNs           int64
	transID        int32
	client, server string
	name, qtype    string
	rcode          string
	rttNs          int64
}

// NewL7Summary returns an empty summary; topN <= 0 means DefaultTopN,
// slowNs <= 0 DefaultSlowRequestNs.
func NewL7Summary(topN int, slowNs int64) *L7Summary {
	if topN <= 0 {
		topN = DefaultTopN
	}
	if slowNs <= 0 {
		slowNs = DefaultSlowRequestNs
	}
	return &L7Summary{topN: topN, slowNs: slowNs, groups: map[httpGroupKey]*httpGroup{},
		rcodes: map[string]int64{}, names: map[string]*dnsName{}}
}

// Workload names a row's client as the error-rate table does: namespace/pod
// when both are known, else the IP.
func clientWorkload(id *Identity, ip string) string {
	if id.SrcNamespace != "" && id.SrcPod != "" {
		return id.SrcNamespace + "/" + id.SrcPod
	}
	return ip
}

// serverWorkload: namespace/service (or namespace/pod) when known, else the IP.
func serverWorkload(id *Identity, ip string) string {
	if id.DstNamespace != "" {
		if id.DstService != "" {
			return id.DstNamespace + "/" + id.DstService
		}
		if id.DstPod != "" {
			return id.DstNamespace + "/" + id.DstPod
		}
	}
	return ip
}

// PathTemplate is a URI's path with its ids replaced by {id}: the query
// string cut, and every path segment made only of digits, a UUID, or 16 or
// more hex digits replaced. /orders/1234?x=1 gives /orders/{id}.
func PathTemplate(uri string) string {
	path, _, _ := strings.Cut(uri, "?")
	// Most paths have no id: they are returned without a copy.
	found, start := false, 0
	for i := 0; i <= len(path) && !found; i++ {
		if i == len(path) || path[i] == '/' {
			found = isIDSegment(path[start:i])
			start = i + 1
		}
	}
	if !found {
		return path
	}
	b := make([]byte, 0, len(path)+8)
	start = 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		if seg := path[start:i]; isIDSegment(seg) {
			b = append(b, "{id}"...)
		} else {
			b = append(b, seg...)
		}
		if i < len(path) {
			b = append(b, '/')
		}
		start = i + 1
	}
	return string(b)
}

func isIDSegment(s string) bool {
	if s == "" {
		return false
	}
	digits, hex := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		digits = digits && isDigit
		hex = hex && (isDigit || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
	}
	if digits || hex && len(s) >= 16 {
		return true
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// pathTemplateSQL is PathTemplate in DuckDB.
const pathTemplateSQL = `array_to_string(list_transform(string_split(split_part(uri, '?', 1), '/'),
         s -> CASE WHEN regexp_full_match(s, '[0-9]+|[0-9a-fA-F]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')
              THEN '{id}' ELSE s END), '/')`

// AddHTTP counts one row of http.parquet.
func (l *L7Summary) AddHTTP(r *HTTPRow) {
	l.httpRows++
	class := statusClass(r.StatusCode)
	l.status.add(r.TsNs, class)
	if r.LatencyNs != nil {
		l.latencyRows++
		if *r.LatencyNs >= l.slowNs {
			l.slowCount++
		}
	}
	if r.LatencyNs != nil && (len(l.slowest) < l.topN || *r.LatencyNs >= l.slowest[len(l.slowest)-1].latencyNs) {
		// r's FlowID is only valid during the call (HTTPRows).
		ref := httpRef{flowID: strings.Clone(r.FlowID), depth: r.TransDepth, client: r.SrcIP, server: r.DstIP, port: r.DstPort,
			method: r.Method, uri: r.URI, status: "-", latencyNs: *r.LatencyNs, durationNs: "-"}
		l.slowest = insertTop(l.slowest, ref, l.topN, func(a, b *httpRef) int {
			if c := cmp.Compare(b.latencyNs, a.latencyNs); c != 0 {
				return c
			}
			if c := cmp.Compare(a.flowID, b.flowID); c != 0 {
				return c
			}
			return cmp.Compare(a.depth, b.depth)
		})
		if i := slices.IndexFunc(l.slowest, func(h httpRef) bool { return h.flowID == r.FlowID && h.depth == r.TransDepth }); i >= 0 {
			if r.StatusCode != nil {
				l.slowest[i].status = strconv.Itoa(int(*r.StatusCode))
			}
			if r.DurationNs != nil {
				l.slowest[i].durationNs = fmtMs(*r.DurationNs)
			}
		}
	}
	if r.Method == "" {
		return // a response without its request: no method, no path
	}
	// Rows of a connection, and of a client's connections, mostly follow
	// each other with the same group: the last one is kept, and the last
	// URI's template (the strings compare by address first).
	if r.URI != l.lastURI || l.lastGroup == nil {
		l.lastURI, l.lastPath = r.URI, PathTemplate(r.URI)
	}
	k := httpGroupKey{clientWorkload(&r.Identity, r.SrcIP), serverWorkload(&r.Identity, r.DstIP), r.Method, l.lastPath}
	g := l.lastGroup
	if g == nil || k != l.lastKey {
		if g = l.groups[k]; g == nil {
			if len(l.groups) >= maxL7Groups {
				l.groupsLost++
				return
			}
			g = &httpGroup{}
			l.groups[k] = g
		}
		l.lastKey, l.lastGroup = k, g
	}
	g.requests++
	switch class {
	case 3:
		g.s4xx++
	case 4:
		g.s5xx++
	case classNone:
		g.none++
	}
}

// AddDNS counts one row of dns.parquet.
func (l *L7Summary) AddDNS(r *DNSRow) {
	l.dnsRows++
	rc := "unanswered"
	if r.Rcode != nil {
		rc = r.RcodeName
		if rc == "" {
			rc = strconv.Itoa(int(*r.Rcode))
		}
	}
	l.rcodes[rc]++
	n := dnsName{queries: 1}
	switch {
	case r.Rcode == nil:
		n.unanswered = 1
		l.dnsUnanswerd++
	case r.RcodeName == "NXDOMAIN":
		n.nx = 1
	case r.RcodeName == "SERVFAIL":
		n.servfail = 1
	case r.RcodeName == "REFUSED":
		n.refused = 1
	}
	if n.failures() > 0 {
		l.dnsFailures++
	}
	name := dash(r.Query)
	if g := l.names[name]; g != nil {
		g.queries++
		g.nx += n.nx
		g.servfail += n.servfail
		g.refused += n.refused
		g.unanswered += n.unanswered
	} else if len(l.names) < maxL7Groups {
		l.names[name] = &n
	} else if n.failures() > 0 {
		l.namesLost++
	}
	if r.RTTNs != nil {
		ref := dnsRef{flowID: r.FlowID, tsNs: r.TsNs, transID: r.TransID, client: r.SrcIP, server: r.DstIP,
			name: name, qtype: r.QTypeName, rcode: r.RcodeName, rttNs: *r.RTTNs}
		l.slowestDNS = insertTop(l.slowestDNS, ref, l.topN, func(a, b *dnsRef) int {
			if c := cmp.Compare(b.rttNs, a.rttNs); c != 0 {
				return c
			}
			if c := cmp.Compare(a.flowID, b.flowID); c != 0 {
				return c
			}
			if c := cmp.Compare(a.tsNs, b.tsNs); c != 0 {
				return c
			}
			return cmp.Compare(a.transID, b.transID)
		})
	}
}

// insertTop keeps the k first of items plus v in the order of compare.
// Most values rank after the k kept: one comparison rejects them.
func insertTop[T any](items []T, v T, k int, compare func(a, b *T) int) []T {
	if len(items) >= k && compare(&v, &items[len(items)-1]) >= 0 {
		return items
	}
	i := sort.Search(len(items), func(j int) bool { return compare(&items[j], &v) > 0 })
	if i >= k {
		return items
	}
	if len(items) < k {
		var zero T
		items = append(items, zero)
	}
	copy(items[i+1:], items[i:len(items)-1])
	items[i] = v
	return items
}

// classTimeline counts requests per status class by the interval of their
// ts_ns, with the widths of the traffic timeline (timelineLadder).
type classTimeline struct {
	step    int
	width   int64
	lo, hi  int64
	buckets map[int64]*[numStatusClasses]int64
	// The last row's interval and bucket: rows come in time order, most in
	// the interval of the one before.
	lastI int64
	last  *[numStatusClasses]int64
}

func (t *classTimeline) add(ts int64, class int) {
	if t.buckets == nil {
		t.width = ladderWidth(0)
		t.buckets = map[int64]*[numStatusClasses]int64{}
		t.lo, t.hi = ts/t.width, ts/t.width
	}
	i := ts / t.width
	if t.last != nil && i == t.lastI {
		t.last[class]++
		return
	}
	t.lo, t.hi = min(t.lo, i), max(t.hi, i)
	for t.hi-t.lo >= maxIntervals {
		w := ladderWidth(t.step + 1)
		if w == t.width {
			break
		}
		t.step++
		f := w / t.width
		t.width = w
		merged := make(map[int64]*[numStatusClasses]int64, len(t.buckets))
		for j, v := range t.buckets {
			if m := merged[j/f]; m != nil {
				for c := range v {
					m[c] += v[c]
				}
			} else {
				merged[j/f] = v
			}
		}
		t.buckets, t.last = merged, nil // the last bucket may be merged into another
		t.lo, t.hi = t.lo/f, t.hi/f
		i = ts / t.width
	}
	b := t.buckets[i]
	if b == nil {
		b = new([numStatusClasses]int64)
		t.buckets[i] = b
	}
	b[class]++
	t.lastI, t.last = i, b
}

// intervals returns the non-empty intervals in time order.
func (t *classTimeline) intervals() []int64 {
	ks := make([]int64, 0, len(t.buckets))
	for k := range t.buckets {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// errorGroups returns the groups with 4xx or 5xx answers, ranked as the
// statement ranks them.
func (l *L7Summary) errorGroups() ([]httpGroupKey, int) {
	var ks []httpGroupKey
	for k, g := range l.groups {
		if g.s4xx+g.s5xx > 0 {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b httpGroupKey) int {
		ga, gb := l.groups[a], l.groups[b]
		return cmp.Or(cmp.Compare(gb.s5xx, ga.s5xx), cmp.Compare(gb.s4xx, ga.s4xx), cmp.Compare(gb.requests, ga.requests),
			cmp.Compare(a.client, b.client), cmp.Compare(a.server, b.server), cmp.Compare(a.method, b.method), cmp.Compare(a.path, b.path))
	})
	n := len(ks)
	return ks[:min(n, l.topN)], n
}

// failingNames returns the names with failed queries, ranked as the
// statement ranks them.
func (l *L7Summary) failingNames() ([]string, int) {
	var ks []string
	for k, n := range l.names {
		if n.failures() > 0 {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b string) int {
		na, nb := l.names[a], l.names[b]
		return cmp.Or(cmp.Compare(nb.failures(), na.failures()), cmp.Compare(a, b))
	})
	n := len(ks)
	return ks[:min(n, l.topN)], n
}

// The L7 tables' statements, as reportQueries gives the flows' ones.
func l7Queries(l *L7Summary) []query {
	n := strconv.Itoa(l.topN)
	w := strconv.FormatInt(l.status.width, 10)
	return []query{
		{"http-status", "HTTP requests by status class over time", `SELECT ts_ns // ` + w + ` * ` + w + ` AS start_time, count(*) AS requests,
       count(*) FILTER (WHERE status_code >= 100 AND status_code < 200) AS status_1xx,
       count(*) FILTER (WHERE status_code >= 200 AND status_code < 300) AS status_2xx,
       count(*) FILTER (WHERE status_code >= 300 AND status_code < 400) AS status_3xx,
       count(*) FILTER (WHERE status_code >= 400 AND status_code < 500) AS status_4xx,
       count(*) FILTER (WHERE status_code >= 500 AND status_code < 600) AS status_5xx,
       count(*) FILTER (WHERE status_code < 100 OR status_code >= 600) AS other,
       count(*) FILTER (WHERE status_code IS NULL) AS no_response
FROM 'http.parquet'
GROUP BY start_time ORDER BY start_time;`},
		{"http-slowest", "Slowest HTTP requests", `SELECT flow_id, trans_depth AS depth, src_ip AS client, dst_ip AS server, dst_port AS port,
       coalesce(method, '-') AS method, coalesce(uri, '-') AS uri, status_code AS status, latency_ns, duration_ns
FROM 'http.parquet' WHERE latency_ns IS NOT NULL
ORDER BY latency_ns DESC, flow_id, trans_depth LIMIT ` + n + `;`},
		{"http-errors", "HTTP error rates per client, server, method and path", `SELECT coalesce(src_namespace || '/' || src_pod, src_ip) AS client,
       coalesce(dst_namespace || '/' || coalesce(dst_service, dst_pod), dst_ip) AS server,
       method, ` + pathTemplateSQL + ` AS path,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code >= 400 AND status_code < 500) AS status_4xx,
       count(*) FILTER (WHERE status_code >= 500 AND status_code < 600) AS status_5xx,
       count(*) FILTER (WHERE status_code IS NULL) AS no_response,
       100 * (status_4xx + status_5xx) // requests AS error_pct
FROM 'http.parquet' WHERE method IS NOT NULL
GROUP BY ALL HAVING status_4xx + status_5xx > 0
ORDER BY status_5xx DESC, status_4xx DESC, requests DESC, client, server, method, path LIMIT ` + n + `;`},
		{"dns-rcodes", "DNS answers by response code", `SELECT CASE WHEN rcode IS NULL THEN 'unanswered' ELSE coalesce(rcode_name, CAST(rcode AS VARCHAR)) END AS rcode,
       count(*) AS queries
FROM 'dns.parquet'
GROUP BY ALL ORDER BY queries DESC, rcode;`},
		{"dns-failing", "Failing DNS names", `SELECT coalesce(query, '-') AS name, count(*) AS queries,
       count(*) FILTER (WHERE rcode_name = 'NXDOMAIN') AS nxdomain,
       count(*) FILTER (WHERE rcode_name = 'SERVFAIL') AS servfail,
       count(*) FILTER (WHERE rcode_name = 'REFUSED') AS refused,
       count(*) FILTER (WHERE rcode IS NULL) AS unanswered
FROM 'dns.parquet'
GROUP BY ALL HAVING nxdomain + servfail + refused + unanswered > 0
ORDER BY nxdomain + servfail + refused + unanswered DESC, name LIMIT ` + n + `;`},
		{"dns-slowest", "Slowest DNS lookups", `SELECT flow_id, ts_ns AS query_time, src_ip AS client, dst_ip AS server, coalesce(query, '-') AS name,
       qtype_name AS qtype, rcode_name AS rcode, rtt_ns
FROM 'dns.parquet' WHERE rtt_ns IS NOT NULL
ORDER BY rtt_ns DESC, flow_id, ts_ns, trans_id LIMIT ` + n + `;`},
	}
}

// httpSection writes the report's HTTP section.
func (r *renderer) httpSection() {
	l := r.s.l7
	r.p("## HTTP")
	if l.httpRows == 0 {
		r.p("No HTTP request in http.parquet.")
		return
	}
	r.p("### Requests by status class")
	var rows [][]string
	for _, i := range l.status.intervals() {
		b := l.status.buckets[i]
		var total int64
		for _, c := range b {
			total += c
		}
		row := []string{fmtTime(i * l.status.width), fmtInt(total)}
		for _, c := range b {
			row = append(row, fmtInt(c))
		}
		rows = append(rows, row)
	}
	r.table("http-status", true, []string{h("start", "m-interval"), "requests", h("1xx", "m-http-status"), "2xx", "3xx", "4xx", "5xx", "other", "no response"}, rows)
	r.p("%s in intervals of %s (by the time of the request's first byte). %s.",
		plural(l.httpRows, "request", "requests"), fmtDuration(l.status.width), queryLink("http-status"))

	r.p("### Slowest requests")
	rows = nil
	for _, h := range l.slowest {
		rows = append(rows, []string{h.flowID, fmtInt(int64(h.depth)), h.client, h.server, strconv.Itoa(int(h.port)),
			dash(h.method), mdCell(dash(h.uri)), h.status, fmtMs(h.latencyNs), h.durationNs})
	}
	if len(rows) == 0 {
		r.p("No request with a response.")
	} else {
		r.table("http-slowest", true, []string{"flow", "depth", "client", "server", "port", "method", "uri", "status", h("latency ms", "m-http-latency"), h("duration ms", "m-http-latency")}, rows)
		r.p("Top %d by latency (request headers complete to response headers complete, tshark's http.time); %s at or over %s. %s.",
			len(rows), plural(l.slowCount, "request is", "requests are"), fmtDuration(l.slowNs), queryLink("http-slowest"))
	}

	r.p("### Error rates")
	keys, total := l.errorGroups()
	if total == 0 {
		r.p("No request was answered 4xx or 5xx.")
		return
	}
	rows = nil
	for _, k := range keys {
		g := l.groups[k]
		rows = append(rows, []string{k.client, k.server, k.method, mdCell(k.path), fmtInt(g.requests), fmtInt(g.s4xx), fmtInt(g.s5xx),
			fmtInt(g.none), fmtInt(100 * (g.s4xx + g.s5xx) / g.requests)})
	}
	r.table("http-errors", l.groupsLost == 0, []string{h("client", "m-http-path"), h("server", "m-http-path"), "method", h("path", "m-http-path"), "requests", "4xx", "5xx", "no response", h("error %", "m-http-path")}, rows)
	r.p("Top %d of %s (client, server, method, path) groups with 4xx or 5xx answers; the path is the URI's with ids (digits, UUIDs, long hex) replaced by {id}. %s.",
		len(rows), fmtInt(int64(total)), queryLink("http-errors"))
}

// dnsSection writes the report's DNS section.
func (r *renderer) dnsSection() {
	l := r.s.l7
	r.p("## DNS")
	if l.dnsRows == 0 {
		r.p("No DNS query in dns.parquet.")
		return
	}
	var codes []string
	for k := range l.rcodes {
		codes = append(codes, k)
	}
	slices.SortFunc(codes, func(a, b string) int { return cmp.Or(cmp.Compare(l.rcodes[b], l.rcodes[a]), cmp.Compare(a, b)) })
	var rows [][]string
	for _, c := range codes {
		rows = append(rows, []string{c, fmtInt(l.rcodes[c])})
	}
	r.table("dns-rcodes", true, []string{"rcode", "queries"}, rows)
	r.p("%s; %s unanswered. %s.", plural(l.dnsRows, "query", "queries"), fmtInt(l.dnsUnanswerd), queryLink("dns-rcodes"))

	r.p("### Failing names")
	names, total := l.failingNames()
	if total == 0 {
		r.p("No NXDOMAIN, SERVFAIL, REFUSED or unanswered query.")
	} else {
		rows = nil
		for _, name := range names {
			n := l.names[name]
			rows = append(rows, []string{mdCell(name), fmtInt(n.queries), fmtInt(n.nx), fmtInt(n.servfail), fmtInt(n.refused), fmtInt(n.unanswered)})
		}
		r.table("dns-failing", l.namesLost == 0, []string{"name", "queries", h("NXDOMAIN", "m-dns"), "SERVFAIL", "REFUSED", h("unanswered", "m-dns")}, rows)
		r.p("Top %d of %s names by failed queries. %s.", len(rows), fmtInt(int64(total)), queryLink("dns-failing"))
	}

	r.p("### Slowest lookups")
	if len(l.slowestDNS) == 0 {
		r.p("No answered query.")
		return
	}
	rows = nil
	for _, d := range l.slowestDNS {
		rows = append(rows, []string{d.flowID, fmtTime(d.tsNs), d.client, d.server, mdCell(d.name), dash(d.qtype), dash(d.rcode), fmtMs(d.rttNs)})
	}
	r.table("dns-slowest", true, []string{"flow", "query time", "client", "server", "name", "qtype", "rcode", h("rtt ms", "m-dns")}, rows)
	r.p("Top %d by the time from the query to its response. %s.", len(rows), queryLink("dns-slowest"))
}

// mdCell escapes what would break a table cell.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// A 5xx burst is an interval of the status timeline with at least
// burstMin5xx 5xx answers making at least 1/burstShare of its requests.
const (
	burstMin5xx = 5
	burstShare  = 10
)

// findings are the L7 tables' findings: 5xx bursts, slow requests, DNS
// failures.
func (l *L7Summary) findings() []finding {
	var fs []finding
	var bursts, in5xx int64
	var first int64 = -1
	for _, i := range l.status.intervals() {
		b := l.status.buckets[i]
		var total int64
		for _, c := range b {
			total += c
		}
		if b[4] >= burstMin5xx && b[4]*burstShare >= total {
			bursts++
			in5xx += b[4]
			if first < 0 {
				first = i
			}
		}
	}
	if bursts > 0 {
		fs = append(fs, finding{order: 8, affected: in5xx, base: l.httpRows, text: fmt.Sprintf(
			"**5xx bursts**: %s of %s had at least %d 5xx answers making %s or more of their requests (%s 5xx in all), the first from %s. → [HTTP](#http)",
			plural(bursts, "interval", "intervals"), fmtDuration(l.status.width), burstMin5xx, fmtShare(1, burstShare), fmtInt(in5xx), fmtTime(first*l.status.width))})
	}
	if l.slowCount > 0 {
		fs = append(fs, finding{order: 9, affected: l.slowCount, base: l.latencyRows, text: fmt.Sprintf(
			"**Slow HTTP requests**: %s of %s answered took %s or more to the response headers (%s). → [Slowest requests](#slowest-requests)",
			fmtInt(l.slowCount), plural(l.latencyRows, "request", "requests"), fmtDuration(l.slowNs), fmtShare(l.slowCount, l.latencyRows))})
	}
	if l.dnsFailures > 0 {
		fs = append(fs, finding{order: 10, affected: l.dnsFailures, base: l.dnsRows, text: fmt.Sprintf(
			"**DNS failures**: %s of %s got NXDOMAIN, SERVFAIL or REFUSED or no answer (%s; %s unanswered). → [Failing names](#failing-names)",
			fmtInt(l.dnsFailures), plural(l.dnsRows, "query", "queries"), fmtShare(l.dnsFailures, l.dnsRows), fmtInt(l.dnsUnanswerd))})
	}
	return fs
}
