package crosscheck

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowproof/flowproof/ingest/kubeshark/apicalls"
)

// L7 verdicts; OutsideWindow is shared with L4.
const (
	CountMismatch   = "count_mismatch"
	LatencyMismatch = "latency_mismatch"
	CaptureOnly     = "capture_only"
	// KubesharkOnly (shared with L4): Kubeshark saw calls the capture lacks.
)

// L7Verdicts lists every L7 verdict, agreement first.
var L7Verdicts = []string{Match, CountMismatch, LatencyMismatch, CaptureOnly, KubesharkOnly, OutsideWindow}

// L7Meaning is a plain-language reading of each L7 verdict.
var L7Meaning = map[string]string{
	Match:           "the capture's HTTP requests and Kubeshark's API calls agree: the same number, latency medians within the tolerance.",
	CountMismatch:   "both saw requests of this kind but count a different number: capture loss or a capture that began or ended mid-way, calls Kubeshark's dissector dropped or merged, or its list was truncated.",
	LatencyMismatch: "the counts agree but the latency medians do not: Kubeshark times the request to the response at its own vantage point (the pod's socket), the capture from the packet that completes the request headers to the one that completes the response headers.",
	CaptureOnly:     "the capture holds requests Kubeshark has no call for: a status or path it reports differently, traffic outside its selection, dissection off, or a truncated list.",
	KubesharkOnly:   "Kubeshark reports calls the capture lacks: capture loss, a capture filter, a node the capture did not cover, or a status or path the capture saw differently.",
	OutsideWindow:   "Kubeshark's calls are dated outside the capture's time range: the two witnesses looked at different times.",
}

// Defaults of L7Tolerances.
const (
	DefaultLatencyRel   = 0.25
	DefaultLatencyAbsNs = 1_000_000 // Kubeshark's latency_ms is whole milliseconds
	DefaultMaxL7Groups  = 100_000
	DefaultMaxL7Calls   = 1 << 21 // 64 MiB of calls at 32 bytes
	maxL7Samples        = 1024    // latency samples kept per group and side (the first ones)
	maxL7Names          = 65536   // names of workloads and of addresses kept made, each
)

// L7Tolerances say when the two sides of a group agree.
type L7Tolerances struct {
	CountAbs      int64 // calls; 0: counts must be equal
	LatencyRel    float64
	LatencyAbsNs  int64
	WindowSlackNs int64
	MaxGroups     int // capture groups kept; more are counted in Dropped
	MaxCalls      int // Kubeshark calls kept; more are counted in DroppedCalls
}

// DefaultL7Tolerances returns the documented defaults.
func DefaultL7Tolerances() L7Tolerances {
	return L7Tolerances{LatencyRel: DefaultLatencyRel, LatencyAbsNs: DefaultLatencyAbsNs, WindowSlackNs: DefaultWindowSlackNs, MaxGroups: DefaultMaxL7Groups, MaxCalls: DefaultMaxL7Calls}
}

// L7Key identifies a group: client and server are names (Namer) or IP
// text, the path has no query string, status 0 is no response.
type L7Key struct {
	Client, Server string
	Method, Path   string
	Status         int32
	Outside        bool // Kubeshark's calls dated outside the capture's range
}

// L7Txn is the capture's side of one HTTP request (an http.parquet row).
type L7Txn struct {
	Client, Server netip.Addr
	TsNs           int64
	Method, URI    string
	Status         int32 // 0: no response
	LatencyNs      int64 // -1: unknown
	ReqBody        int64
	RespBody       int64
}

// L7Side is what one witness says about a group.
type L7Side struct {
	Count           int64
	FirstNs, LastNs int64 // 0 when unknown
	LatencyN        int64 // requests with a latency
	ReqBytes        int64 // sum of sizes known (Kubeshark) or body lengths (capture)
	RespBytes       int64
	SizesKnown      int64 // Kubeshark: calls with both sizes
	lat             []int64
}

// LatencyMedian returns the median (nearest rank, lower middle) of the
// first maxL7Samples latencies; ok is false without any.
func (s *L7Side) LatencyMedian() (int64, bool) {
	if len(s.lat) == 0 {
		return 0, false
	}
	v := slices.Clone(s.lat)
	slices.Sort(v)
	return v[(len(v)-1)/2], true
}

func (s *L7Side) add(tsNs, latNs int64) {
	s.Count++
	if tsNs != 0 {
		if s.FirstNs == 0 || tsNs < s.FirstNs {
			s.FirstNs = tsNs
		}
		s.LastNs = max(s.LastNs, tsNs)
	}
	if latNs >= 0 {
		s.LatencyN++
		if len(s.lat) < maxL7Samples {
			s.lat = append(s.lat, latNs)
		}
	}
}

// L7Result is one compared group.
type L7Result struct {
	Key                   L7Key
	ClientID, ServerID    Identity // when the name is a workload's
	Kubeshark, Capture    L7Side
	Verdict, Reason       string
	KsLatency, CapLatency Opt // medians, ns
	// SizesAgree says whether Kubeshark's request and response sizes
	// (summed) equal the capture's body lengths (summed); null unless both
	// sides have the same count and Kubeshark gave every call's sizes. It
	// is recorded, never a verdict: whether Kubeshark counts headers is not
	// documented.
	SizesAgree *bool
	WorstRel   float64
	ks         []ksCall // Kubeshark's calls until Finish
}

// L7Checker groups Kubeshark's calls and the capture's requests and judges
// each group. Calls come first (AddCall), then the capture's requests
// (Add), then Finish. It is not safe for concurrent use.
type L7Checker struct {
	tol     L7Tolerances
	name    func(ip netip.Addr, tsNs int64) Identity
	names   map[netip.Addr]Identity // from the calls, when they all agree
	vague   map[netip.Addr]bool     // addresses the calls name differently
	texts   map[Identity]string     // a workload's name in keys, made once
	ipTexts map[netip.Addr]string   // an address's, made once
	groups  map[L7Key]*L7Result
	order   []L7Key
	dropped int64

	// Kubeshark's calls until the first request or Finish, by address
	// (they are named then, when the calls' own names are all known).
	raw          map[rawKey]*[]ksCall
	rawOrder     []rawKey
	calls        int64
	droppedCalls int64
	settled      bool
}

// rawKey is a call's group before naming.
type rawKey struct {
	src, dst     netip.Addr
	method, path string
	status       int32
}

// ksCall is what the checker keeps of a call (32 bytes).
type ksCall struct{ ts, lat, req, resp int64 }

// NewL7 returns a checker. name resolves an address at a time to a
// workload (nil: none known); an address it cannot name is named by the
// calls when they all give it the same pod, else left as its IP. The same
// naming serves both witnesses, so that their keys meet.
func NewL7(name func(netip.Addr, int64) Identity, tol L7Tolerances) *L7Checker {
	if tol.MaxGroups <= 0 {
		tol.MaxGroups = DefaultMaxL7Groups
	}
	if tol.MaxCalls <= 0 {
		tol.MaxCalls = DefaultMaxL7Calls
	}
	return &L7Checker{tol: tol, name: name, names: map[netip.Addr]Identity{}, vague: map[netip.Addr]bool{}, texts: map[Identity]string{},
		ipTexts: map[netip.Addr]string{}, groups: map[L7Key]*L7Result{}, raw: map[rawKey]*[]ksCall{}}
}

// AddCall adds one of Kubeshark's calls (before any Add); k is not kept.
// Beyond MaxCalls calls are counted (DroppedCalls), not kept.
func (c *L7Checker) AddCall(k *apicalls.Call) {
	if c.settled {
		panic("crosscheck: AddCall after Add or Finish")
	}
	if c.calls >= int64(c.tol.MaxCalls) {
		c.droppedCalls++
		return
	}
	c.calls++
	for _, e := range []*apicalls.Endpoint{&k.Src, &k.Dst} {
		if e.Pod == "" || c.vague[e.IP] {
			continue
		}
		if old, ok := c.names[e.IP]; ok && (old.Pod != e.Pod || old.Namespace != e.Namespace) {
			c.vague[e.IP] = true
			delete(c.names, e.IP)
			continue
		}
		if _, ok := c.names[e.IP]; !ok {
			c.names[e.IP] = Identity{Pod: e.Pod, Namespace: e.Namespace, Service: e.Service, Node: e.Node}
		}
	}
	rk := rawKey{k.Src.IP, k.Dst.IP, k.Method, k.Path, k.Status}
	l, ok := c.raw[rk]
	if !ok {
		l = new([]ksCall)
		c.raw[rk] = l
		c.rawOrder = append(c.rawOrder, rk)
	}
	*l = append(*l, ksCall{k.TsNs, k.LatencyNs, k.ReqSize, k.RespSize})
}

// DroppedCalls is how many calls were beyond MaxCalls.
func (c *L7Checker) DroppedCalls() int64 { return c.droppedCalls }

// settle names the calls' groups, once every call is in.
func (c *L7Checker) settle() {
	if c.settled {
		return
	}
	c.settled = true
	for _, rk := range c.rawOrder {
		for _, kc := range *c.raw[rk] {
			cn, cl := c.identify(rk.src, kc.ts)
			sn, sv := c.identify(rk.dst, kc.ts)
			g := c.group(L7Key{Client: cn, Server: sn, Method: rk.method, Path: rk.path, Status: rk.status}, cl, sv, false)
			g.ks = append(g.ks, kc)
		}
	}
	c.raw, c.rawOrder = nil, nil
}

// identify names ip at tsNs.
func (c *L7Checker) identify(ip netip.Addr, tsNs int64) (string, Identity) {
	var id Identity
	if c.name != nil {
		id = c.name(ip, tsNs)
	}
	if id.Pod == "" && id.Service == "" {
		id = c.names[ip]
	}
	if id.Pod == "" && id.Service == "" {
		text, ok := c.ipTexts[ip]
		if !ok {
			text = ip.String()
			if len(c.ipTexts) < maxL7Names {
				c.ipTexts[ip] = text
			}
		}
		return text, Identity{}
	}
	text, ok := c.texts[id]
	if !ok {
		if id.Pod != "" {
			text = id.Namespace + "/" + id.Pod
		} else {
			text = id.Namespace + "/" + id.Service + " (service)"
		}
		if len(c.texts) < maxL7Names {
			c.texts[id] = text
		}
	}
	return text, id
}

func (c *L7Checker) group(k L7Key, cl, sv Identity, fromCapture bool) *L7Result {
	g, ok := c.groups[k]
	if ok {
		return g
	}
	if fromCapture && len(c.groups) >= c.tol.MaxGroups {
		return nil
	}
	g = &L7Result{Key: k, ClientID: cl, ServerID: sv}
	c.groups[k] = g
	c.order = append(c.order, k)
	return g
}

// Add counts one of the capture's requests.
func (c *L7Checker) Add(t *L7Txn) {
	c.settle()
	cn, cl := c.identify(t.Client, t.TsNs)
	sn, sv := c.identify(t.Server, t.TsNs)
	k := L7Key{Client: cn, Server: sn, Method: t.Method, Path: apicalls.PathOf(t.URI), Status: t.Status}
	g := c.group(k, cl, sv, true)
	if g == nil {
		c.dropped++
		return
	}
	g.Capture.add(t.TsNs, t.LatencyNs)
	g.Capture.ReqBytes += t.ReqBody
	g.Capture.RespBytes += t.RespBody
}

// Dropped is how many capture requests fell in groups beyond MaxGroups.
func (c *L7Checker) Dropped() int64 { return c.dropped }

// Finish judges every group over the capture's time range [firstNs,
// lastNs] (known false: no packet was read) and returns the results in the
// order the groups were made (Kubeshark's first), each followed by the
// group of its calls dated outside the range, if any.
func (c *L7Checker) Finish(firstNs, lastNs int64, known bool) []L7Result {
	c.settle()
	out := make([]L7Result, 0, len(c.groups))
	for _, k := range c.order {
		g := c.groups[k]
		var outside *L7Result
		for _, kc := range g.ks {
			dst := g
			if known && kc.ts != 0 && (kc.ts < firstNs-c.tol.WindowSlackNs || kc.ts > lastNs+c.tol.WindowSlackNs) {
				if outside == nil {
					ok := k
					ok.Outside = true
					outside = &L7Result{Key: ok, ClientID: g.ClientID, ServerID: g.ServerID}
				}
				dst = outside
			}
			dst.Kubeshark.add(kc.ts, kc.lat)
			if kc.req >= 0 && kc.resp >= 0 {
				dst.Kubeshark.SizesKnown++
				dst.Kubeshark.ReqBytes += kc.req
				dst.Kubeshark.RespBytes += kc.resp
			}
		}
		g.ks = nil
		if g.Kubeshark.Count > 0 || g.Capture.Count > 0 {
			out = append(out, c.judge(g))
		}
		if outside != nil {
			out = append(out, c.judge(outside))
		}
	}
	return out
}

func (c *L7Checker) judge(g *L7Result) L7Result {
	r := *g
	ks, cp := &r.Kubeshark, &r.Capture
	if m, ok := ks.LatencyMedian(); ok {
		r.KsLatency = Opt{V: m, Valid: true}
	}
	if m, ok := cp.LatencyMedian(); ok {
		r.CapLatency = Opt{V: m, Valid: true}
	}
	if ks.Count > 0 && ks.Count == cp.Count && ks.SizesKnown == ks.Count {
		v := ks.ReqBytes == cp.ReqBytes && ks.RespBytes == cp.RespBytes
		r.SizesAgree = &v
	}
	switch {
	case r.Key.Outside:
		r.Verdict = OutsideWindow
		r.Reason = fmt.Sprintf("Kubeshark's calls (%d) are dated %s .. %s, outside the capture's time range", ks.Count, fmtNs(ks.FirstNs), fmtNs(ks.LastNs))
	case cp.Count == 0:
		r.Verdict, r.WorstRel = KubesharkOnly, 1
		r.Reason = fmt.Sprintf("calls: Kubeshark %d, capture none", ks.Count)
	case ks.Count == 0:
		r.Verdict, r.WorstRel = CaptureOnly, 1
		r.Reason = fmt.Sprintf("requests: capture %d, Kubeshark none", cp.Count)
	case absInt(ks.Count-cp.Count) > c.tol.CountAbs:
		r.Verdict, r.WorstRel = CountMismatch, relDiff(ks.Count, cp.Count)
		r.Reason = fmt.Sprintf("calls: Kubeshark %d, capture %d", ks.Count, cp.Count)
	case r.KsLatency.Valid && r.CapLatency.Valid && !agree(r.KsLatency.V, r.CapLatency.V, c.tol.LatencyRel, c.tol.LatencyAbsNs):
		r.Verdict, r.WorstRel = LatencyMismatch, relDiff(r.KsLatency.V, r.CapLatency.V)
		r.Reason = fmt.Sprintf("latency median: Kubeshark %s, capture %s", fmtDur(r.KsLatency.V), fmtDur(r.CapLatency.V))
	default:
		r.Verdict = Match
		var notes []string
		if !r.KsLatency.Valid || !r.CapLatency.Valid {
			notes = append(notes, "latency not compared (one side has none)")
		}
		if len(notes) > 0 {
			r.Reason = strings.Join(notes, "; ")
		}
	}
	return r
}

func (k L7Key) String() string {
	return fmt.Sprintf("%s -> %s %s %s %d", k.Client, k.Server, k.Method, k.Path, k.Status)
}
