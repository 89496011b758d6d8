package crosscheck

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest/kubeshark/l4"
)

// Verdicts.
const (
	Match         = "match"
	BytesMismatch = "bytes_mismatch"
	RTTMismatch   = "rtt_mismatch"
	PcapOnly      = "pcap_only"
	KubesharkOnly = "kubeshark_only"
	OutsideWindow = "outside_window"
	// InvalidCounters: a Kubeshark record holds a counter that is not an
	// exact integer in 0 .. 2^53 (negative, fractional, or so large that a
	// JSON number loses precision), or the records' sums overflow.
	InvalidCounters = "invalid_counters"
)

// Verdicts lists every verdict, agreement first.
var Verdicts = []string{Match, BytesMismatch, RTTMismatch, PcapOnly, KubesharkOnly, OutsideWindow, InvalidCounters}

// Meaning is a plain-language reading of each verdict.
var Meaning = map[string]string{
	Match:           "the capture and Kubeshark's socket counters agree within the tolerances: the numbers stand.",
	BytesMismatch:   "both saw the connection but count different application bytes: usually capture loss (the socket counted more; the capture's missed_bytes often says so), counters sampled at another moment (every 5 s), or a capture that began or ended mid-connection.",
	RTTMismatch:     "the bytes agree but the handshake times do not: the capture was taken far from the socket (another node or a middlebox), or Kubeshark's percentiles cover other handshakes of its 2-minute window.",
	PcapOnly:        "the capture holds traffic Kubeshark never counted: host-network or short-lived sockets, traffic outside Kubeshark's selection or namespaces, or a record list that was truncated.",
	KubesharkOnly:   "Kubeshark counted traffic the capture lacks: capture loss, a capture filter (BPF, pod selection), or a node the capture did not cover.",
	OutsideWindow:   "Kubeshark's record is dated outside the capture's time range: the two witnesses looked at different times, so their numbers cannot be compared.",
	InvalidCounters: "Kubeshark's record holds a counter that is not an exact non-negative integer (negative, fractional, above 2^53 where JSON numbers lose precision, or sums that overflow): it is not compared, and never counts as agreement.",
}

// Defaults of Tolerances.
const (
	DefaultBytesRel      = 0.01
	DefaultBytesAbs      = 0
	DefaultRTTRel        = 0.25
	DefaultRTTAbsNs      = 1_000_000
	DefaultWindowSlackNs = 5_000_000_000
	DefaultMaxPcapOnly   = 100_000
	maxSamples           = 1024 // handshake samples kept per Kubeshark aggregate and half (the first ones)
)

// Tolerances say when two numbers agree.
type Tolerances struct {
	BytesRel      float64 // relative, 0.01 is 1%
	BytesAbs      int64   // bytes
	RTTRel        float64
	RTTAbsNs      int64
	WindowSlackNs int64
	MaxPcapOnly   int // pcap_only aggregates kept for the results
}

// DefaultTolerances returns the documented defaults.
func DefaultTolerances() Tolerances {
	return Tolerances{BytesRel: DefaultBytesRel, BytesAbs: DefaultBytesAbs, RTTRel: DefaultRTTRel, RTTAbsNs: DefaultRTTAbsNs, WindowSlackNs: DefaultWindowSlackNs, MaxPcapOnly: DefaultMaxPcapOnly}
}

// Key identifies an aggregate.
type Key struct {
	Proto          string
	Client, Server netip.Addr
	Port           uint16
}

func (k Key) String() string {
	return fmt.Sprintf("%s %s -> %s", k.Proto, k.Client, netip.AddrPortFrom(k.Server, k.Port))
}

// Capture is the capture's side of an aggregate.
type Capture struct {
	Flows                            int64
	FirstNs, LastNs                  int64
	C2SBytes, S2CBytes               int64 // payload minus retransmitted bytes
	C2SPkts, S2CPkts                 int64
	C2SRetransBytes, S2CRetransBytes int64
	MissedBytes                      int64
	// PartialFlows are TCP flows the capture saw only part of: no SYN from
	// the originator (begun before the capture) or not closed (state S1,
	// S2, S3 or OTH: still open when it ended).
	PartialFlows                  int64
	clientRTT, serverRTT, fullRTT []int64
}

// RTT returns the p50, p90, p99 (ns) of the capture's client half (SYN ->
// SYN/ACK), server half (SYN/ACK -> ACK) or whole handshake (SYN -> ACK);
// ok is false without samples.
func (c *Capture) RTT(which string) (p [3]int64, ok bool) {
	s := map[string][]int64{"client": c.clientRTT, "server": c.serverRTT, "full": c.fullRTT}[which]
	if len(s) == 0 {
		return p, false
	}
	s = slices.Clone(s)
	slices.Sort(s)
	for i, q := range []float64{0.5, 0.9, 0.99} {
		p[i] = s[int(math.Ceil(q*float64(len(s))))-1] // nearest rank
	}
	return p, true
}

// Result is one compared aggregate.
type Result struct {
	Key       Key
	Kubeshark *l4.Flow // nil for pcap_only
	Capture   Capture
	Verdict   string
	Reason    string
	// The Kubeshark values compared with the capture's C2S and S2C bytes
	// (client tx/rx, or server rx/tx when the client side is absent), their
	// deltas (Kubeshark minus capture), and the RTT medians compared (ns).
	KsC2SBytes, KsS2CBytes       Opt
	DeltaC2SBytes, DeltaS2CBytes Opt
	KsClientRTT, CapClientRTT    Opt
	KsServerRTT, CapServerRTT    Opt
	ServerRTTHalf                string  // "synack_ack" or "syn_ack": the capture half matched with the server's view
	WorstRel                     float64 // the largest relative disagreement, for ranking
}

// Opt is an optional integer.
type Opt = analyze.Opt

type holder struct {
	fromNs          int64
	kind            string
	name, namespace string
	node, service   string
}

// Checker fills identities and accumulates the capture side. It is not safe
// for concurrent use.
type Checker struct {
	tol             Tolerances
	aggs            map[Key]*entry
	order           []Key // Kubeshark keys in input order
	pcapOnly        map[Key]*entry
	pcapOrder       []Key
	droppedPcapOnly int64
	byIP            map[netip.Addr][]holder
	podInfo         map[[2]string][2]string    // ns/pod -> service, node ("" when ambiguous)
	l4Names         map[netip.Addr]l4.Endpoint // IP -> the single pod L4 records name (Pod "" when ambiguous)
	verdicts        map[Key]string
	ksMin, ksMax    int64 // range of Kubeshark's record times; 0 when any is unknown
	finished        bool
}

type entry struct {
	ks      *l4.Flow
	cap     Capture
	index   int32  // in order
	invalid string // why Kubeshark's counters cannot be compared ("" when they can)
}

// New builds a checker from Kubeshark's records and workload assignments.
func New(aggs []l4.Flow, assigns []l4.Workload, tol Tolerances) *Checker {
	c := &Checker{tol: tol, aggs: map[Key]*entry{}, pcapOnly: map[Key]*entry{}, byIP: map[netip.Addr][]holder{},
		podInfo: map[[2]string][2]string{}, l4Names: map[netip.Addr]l4.Endpoint{}}
	for i := range aggs {
		a := aggs[i]
		a.Client.IP, a.Server.IP = a.Client.IP.Unmap(), a.Server.IP.Unmap()
		k := Key{Proto: strings.ToLower(a.Proto), Client: a.Client.IP, Server: a.Server.IP, Port: a.Server.Port}
		if e, ok := c.aggs[k]; ok { // the same aggregate twice (several nodes): sum
			if !addSide(&e.ks.ClientStats, a.ClientStats) || !addSide(&e.ks.ServerStats, a.ServerStats) {
				e.invalid = cmp.Or(e.invalid, "the records' counters sum beyond 2^63")
			}
			e.invalid = cmp.Or(e.invalid, a.Invalid)
			e.ks.TimeNs = max(e.ks.TimeNs, a.TimeNs)
		} else {
			c.aggs[k] = &entry{ks: &a, index: int32(len(c.order)), invalid: a.Invalid}
			c.order = append(c.order, k)
		}
		for _, ep := range []l4.Endpoint{a.Client, a.Server} {
			c.notePod(ep)
		}
	}
	for i, a := range aggs {
		if a.TimeNs == 0 {
			c.ksMin, c.ksMax = 0, 0
			break
		}
		if i == 0 || a.TimeNs < c.ksMin {
			c.ksMin = a.TimeNs
		}
		c.ksMax = max(c.ksMax, a.TimeNs)
	}
	for _, as := range assigns {
		ip := as.IP.Unmap()
		c.byIP[ip] = append(c.byIP[ip], holder{fromNs: as.TimeNs, kind: strings.ToLower(as.Kind), name: as.Name, namespace: as.Namespace, node: as.Node, service: as.Service})
	}
	for ip, hs := range c.byIP {
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].fromNs < hs[j].fromNs })
		c.byIP[ip] = hs
	}
	return c
}

// addSide adds o's counters to s; false when a sum overflows.
func addSide(s *l4.Side, o l4.Side) bool {
	ok := true
	add := func(dst *int64, v int64) {
		if v > 0 && *dst > math.MaxInt64-v {
			ok = false
			return
		}
		*dst += v
	}
	s.Present = s.Present || o.Present
	add(&s.TxPkts, o.TxPkts)
	add(&s.RxPkts, o.RxPkts)
	add(&s.TxBytes, o.TxBytes)
	add(&s.RxBytes, o.RxBytes)
	for i := range s.HandshakeUs {
		s.HandshakeUs[i] = max(s.HandshakeUs[i], o.HandshakeUs[i])
	}
	return ok
}

func (c *Checker) notePod(ep l4.Endpoint) {
	if !ep.IP.IsValid() || ep.Pod == "" {
		return
	}
	k := [2]string{ep.Namespace, ep.Pod}
	v := [2]string{ep.Service, ep.Node}
	if old, ok := c.podInfo[k]; ok {
		for i := range v {
			if old[i] != v[i] {
				v[i] = ""
			}
		}
	}
	c.podInfo[k] = v
	if old, ok := c.l4Names[ep.IP]; ok && (old.Pod != ep.Pod || old.Namespace != ep.Namespace) {
		c.l4Names[ep.IP] = l4.Endpoint{IP: ep.IP} // named differently over time: no name
		return
	} else if ok {
		if old.Service != ep.Service {
			old.Service = ""
		}
		if old.Node != ep.Node {
			old.Node = ""
		}
		c.l4Names[ep.IP] = old
		return
	}
	c.l4Names[ep.IP] = ep
}

// Identity is a flow endpoint's Kubernetes identity ("" where unknown).
type Identity struct{ Pod, Namespace, Service, Node string }

// Identify returns the identity of ip over [fromNs, toNs].
func (c *Checker) Identify(ip netip.Addr, fromNs, toNs int64) Identity {
	ip = ip.Unmap()
	if hs, ok := c.byIP[ip]; ok {
		a, okA := holderAt(hs, fromNs)
		b, okB := holderAt(hs, toNs)
		if !okA || !okB || a != b {
			return Identity{}
		}
		if a.kind == "service" {
			return Identity{Namespace: a.namespace, Service: a.name}
		}
		id := Identity{Pod: a.name, Namespace: a.namespace, Service: a.service, Node: a.node}
		if info, ok := c.podInfo[[2]string{a.namespace, a.name}]; ok {
			id.Service, id.Node = cmp.Or(id.Service, info[0]), cmp.Or(id.Node, info[1])
		}
		return id
	}
	if ep, ok := c.l4Names[ip]; ok && ep.Pod != "" {
		return Identity{Pod: ep.Pod, Namespace: ep.Namespace, Service: ep.Service, Node: ep.Node}
	}
	return Identity{}
}

// holderAt returns the single holder at t.
func holderAt(hs []holder, t int64) (holder, bool) {
	i := sort.Search(len(hs), func(i int) bool { return hs[i].fromNs > t }) - 1
	if i < 0 {
		return holder{}, false
	}
	h := hs[i]
	for j := i - 1; j >= 0 && hs[j].fromNs == h.fromNs; j-- { // two holders from the same time
		if hs[j] != h {
			return holder{}, false
		}
	}
	return h, true
}

// Fill sets r's identity columns.
func (c *Checker) Fill(r *analyze.Record) {
	s := c.Identify(r.SrcIP, r.TsNs, r.EndNs)
	d := c.Identify(r.DstIP, r.TsNs, r.EndNs)
	r.SrcPod, r.SrcNamespace, r.SrcService, r.SrcNode = s.Pod, s.Namespace, s.Service, s.Node
	r.DstPod, r.DstNamespace, r.DstService, r.DstNode = d.Pod, d.Namespace, d.Service, d.Node
}

// keyOf returns the aggregate key of r and whether it is reversed
// (responder as client). ok is false for flows not compared.
func (c *Checker) keyOf(r *analyze.Record) (k Key, reversed, ok bool) {
	if r.Synthetic || (r.Proto != "tcp" && r.Proto != "udp") {
		return Key{}, false, false
	}
	k = Key{Proto: r.Proto, Client: r.SrcIP.Unmap(), Server: r.DstIP.Unmap(), Port: r.DstPort}
	if _, found := c.aggs[k]; found {
		return k, false, true
	}
	rk := Key{Proto: r.Proto, Client: r.DstIP.Unmap(), Server: r.SrcIP.Unmap(), Port: r.SrcPort}
	if _, found := c.aggs[rk]; found {
		return rk, true, true
	}
	return k, false, true
}

// References Add returns besides the index of a Kubeshark aggregate.
const (
	NotCompared = -1 // a flow the cross-check leaves out (a synthetic twin): no verdict
	NotListed   = -2 // a flow of no Kubeshark record: its verdict is PcapOnly, known at once
)

// Add accumulates a finished flow into its aggregate and returns the
// aggregate's reference: the index of Kubeshark's record (its verdict is
// known after Finish: VerdictOf), NotListed or NotCompared.
func (c *Checker) Add(r *analyze.Record) int32 {
	k, rev, ok := c.keyOf(r)
	if !ok {
		return NotCompared
	}
	e := c.aggs[k]
	known := e != nil
	ref := int32(NotListed)
	if known {
		ref = e.index
	}
	if e == nil {
		if e = c.pcapOnly[k]; e == nil {
			if len(c.pcapOnly) >= c.tol.MaxPcapOnly {
				c.droppedPcapOnly++
				return ref
			}
			e = &entry{}
			c.pcapOnly[k] = e
			c.pcapOrder = append(c.pcapOrder, k)
		}
	}
	cp := &e.cap
	if cp.Flows == 0 || r.TsNs < cp.FirstNs {
		cp.FirstNs = r.TsNs
	}
	cp.LastNs = max(cp.LastNs, r.EndNs)
	cp.Flows++
	ob, rb := r.OrigBytes-r.OrigRetransBytes, r.RespBytes-r.RespRetransBytes
	op, rp, orb, rrb := r.OrigPkts, r.RespPkts, r.OrigRetransBytes, r.RespRetransBytes
	if rev {
		ob, rb, op, rp, orb, rrb = rb, ob, rp, op, rrb, orb
	}
	cp.C2SBytes += ob
	cp.S2CBytes += rb
	cp.C2SPkts += op
	cp.S2CPkts += rp
	cp.C2SRetransBytes += orb
	cp.S2CRetransBytes += rrb
	cp.MissedBytes += r.MissedBytes
	if r.Proto == "tcp" && (!strings.HasPrefix(r.History, "S") || r.State == "S1" || r.State == "S2" || r.State == "S3" || r.State == "OTH") {
		cp.PartialFlows++
	}
	if r.Proto == "tcp" && !rev && known { // pcap_only aggregates keep no samples: memory stays bounded by Kubeshark's list
		appendSample(&cp.clientRTT, r.RTTSynSynAck)
		appendSample(&cp.serverRTT, r.RTTSynAckAck)
		appendSample(&cp.fullRTT, r.RTTHandshake)
	}
	return ref
}

// VerdictOf returns the verdict of a reference Add returned; valid after
// Finish. It is "" for NotCompared.
func (c *Checker) VerdictOf(ref int32) string {
	switch {
	case ref == NotListed:
		return PcapOnly
	case ref < 0 || int(ref) >= len(c.order):
		return ""
	}
	return c.verdicts[c.order[ref]]
}

func appendSample(s *[]int64, o analyze.Opt) {
	if o.Valid && len(*s) < maxSamples {
		*s = append(*s, o.V)
	}
}

// DroppedPcapOnly is how many flows of pcap_only aggregates beyond
// MaxPcapOnly were left out of the results (their flows still get pcap_only).
func (c *Checker) DroppedPcapOnly() int64 { return c.droppedPcapOnly }

// Verdict returns the verdict of r's aggregate; valid after Finish. It is ""
// for flows not compared (synthetic twins).
func (c *Checker) Verdict(r *analyze.Record) string {
	k, _, ok := c.keyOf(r)
	if !ok {
		return ""
	}
	if v, ok := c.verdicts[k]; ok {
		return v
	}
	return PcapOnly
}

// Finish judges every aggregate, given the capture's time range (first and
// last packet of all inputs, ns; known is false when no packet was read), and
// returns the results: Kubeshark's records in input order, then the
// pcap_only aggregates.
func (c *Checker) Finish(firstNs, lastNs int64, known bool) []Result {
	c.verdicts = map[Key]string{}
	var out []Result
	for _, k := range c.order {
		e := c.aggs[k]
		r := c.judge(k, e, firstNs, lastNs, known)
		c.verdicts[k] = r.Verdict
		out = append(out, r)
	}
	for _, k := range c.pcapOrder {
		e := c.pcapOnly[k]
		r := Result{Key: k, Capture: e.cap, Verdict: PcapOnly, WorstRel: 1,
			Reason: fmt.Sprintf("the capture holds %d flow(s), %d bytes, that Kubeshark has no record of", e.cap.Flows, e.cap.C2SBytes+e.cap.S2CBytes)}
		if sl := c.tol.WindowSlackNs; c.ksMax != 0 && (e.cap.LastNs < c.ksMin-sl || e.cap.FirstNs > c.ksMax+sl) {
			r.Reason += fmt.Sprintf(" (Kubeshark's records are dated %s .. %s: the traffic is outside that time)", fmtNs(c.ksMin), fmtNs(c.ksMax))
		}
		r.fillRTT(nil, c.tol)
		c.verdicts[k] = PcapOnly
		out = append(out, r)
	}
	return out
}

func (c *Checker) judge(k Key, e *entry, firstNs, lastNs int64, known bool) Result {
	a, cp := e.ks, e.cap
	r := Result{Key: k, Kubeshark: a, Capture: cp}
	if e.invalid != "" {
		r.Verdict, r.WorstRel = InvalidCounters, 1
		r.Reason = "Kubeshark's record cannot be compared: " + e.invalid
		return r
	}
	// Bytes Kubeshark attributes to each direction.
	switch {
	case a.ClientStats.Present:
		r.KsC2SBytes, r.KsS2CBytes = analyze.Some(a.ClientStats.TxBytes), analyze.Some(a.ClientStats.RxBytes)
	case a.ServerStats.Present:
		r.KsC2SBytes, r.KsS2CBytes = analyze.Some(a.ServerStats.RxBytes), analyze.Some(a.ServerStats.TxBytes)
	}
	if cp.Flows > 0 {
		if r.KsC2SBytes.Valid {
			r.DeltaC2SBytes = analyze.Some(r.KsC2SBytes.V - cp.C2SBytes)
			r.DeltaS2CBytes = analyze.Some(r.KsS2CBytes.V - cp.S2CBytes)
		}
	}
	r.fillRTT(a, c.tol)
	slack := c.tol.WindowSlackNs
	inWindow := func(t int64) bool {
		return t == 0 || !known || (t >= firstNs-slack && t <= lastNs+slack)
	}
	if !inWindow(a.TimeNs) {
		r.Verdict, r.WorstRel = OutsideWindow, 1
		r.Reason = fmt.Sprintf("Kubeshark's record is dated %s, the capture spans %s .. %s (slack %s)", fmtNs(a.TimeNs), fmtNs(firstNs), fmtNs(lastNs), fmtDur(slack))
		return r
	}
	if cp.Flows == 0 {
		r.Verdict, r.WorstRel = KubesharkOnly, 1
		r.Reason = fmt.Sprintf("Kubeshark counted %d bytes (%d client tx, %d client rx) the capture has no flow for", sideBytes(a), a.ClientStats.TxBytes, a.ClientStats.RxBytes)
		if id := c.Identify(k.Server, a.TimeNs, a.TimeNs); id.Service != "" && id.Pod == "" {
			r.Reason += fmt.Sprintf("; the server is service %s/%s's ClusterIP (counted before DNAT): the capture may hold the same traffic addressed to a pod, as a pcap_only aggregate from the same client", id.Namespace, id.Service)
		}
		return r
	}
	// Bytes: every counter of the sides reported.
	type cmpItem struct {
		name     string
		ks, capv int64
		dir      string
	}
	var items []cmpItem
	if a.ClientStats.Present {
		items = append(items, cmpItem{"client tx_bytes", a.ClientStats.TxBytes, cp.C2SBytes, "client->server"}, cmpItem{"client rx_bytes", a.ClientStats.RxBytes, cp.S2CBytes, "server->client"})
	}
	if a.ServerStats.Present {
		items = append(items, cmpItem{"server tx_bytes", a.ServerStats.TxBytes, cp.S2CBytes, "server->client"}, cmpItem{"server rx_bytes", a.ServerStats.RxBytes, cp.C2SBytes, "client->server"})
	}
	var bad []string
	for _, it := range items {
		rel := relDiff(it.ks, it.capv)
		if !agree(it.ks, it.capv, c.tol.BytesRel, c.tol.BytesAbs) {
			r.WorstRel = max(r.WorstRel, rel)
			s := fmt.Sprintf("%s %d vs capture %d (%s payload minus retransmissions)", it.name, it.ks, it.capv, it.dir)
			if it.ks > it.capv && cp.MissedBytes > 0 {
				s += fmt.Sprintf("; the capture missed %d bytes: capture loss", cp.MissedBytes)
			}
			bad = append(bad, s)
		}
	}
	var rttBad []string
	if r.KsClientRTT.Valid && r.CapClientRTT.Valid && !agree(r.KsClientRTT.V, r.CapClientRTT.V, c.tol.RTTRel, c.tol.RTTAbsNs) {
		r.WorstRel = max(r.WorstRel, relDiff(r.KsClientRTT.V, r.CapClientRTT.V))
		rttBad = append(rttBad, fmt.Sprintf("client handshake p50 %s vs capture SYN->SYN/ACK median %s", fmtDur(r.KsClientRTT.V), fmtDur(r.CapClientRTT.V)))
	}
	if r.KsServerRTT.Valid && r.CapServerRTT.Valid && !agree(r.KsServerRTT.V, r.CapServerRTT.V, c.tol.RTTRel, c.tol.RTTAbsNs) {
		r.WorstRel = max(r.WorstRel, relDiff(r.KsServerRTT.V, r.CapServerRTT.V))
		rttBad = append(rttBad, fmt.Sprintf("server handshake p50 %s vs capture SYN/ACK->ACK median %s", fmtDur(r.KsServerRTT.V), fmtDur(r.CapServerRTT.V)))
	}
	switch {
	case len(bad) > 0:
		r.Verdict = BytesMismatch
		if cp.PartialFlows > 0 {
			bad = append(bad, fmt.Sprintf("%d of %d flow(s) began before or outlived the capture: it saw only part of them (a window mismatch)", cp.PartialFlows, cp.Flows))
		}
		r.Reason = strings.Join(append(bad, rttBad...), "; ")
	case len(rttBad) > 0:
		r.Verdict = RTTMismatch
		r.Reason = strings.Join(rttBad, "; ")
	default:
		r.Verdict = Match
		r.Reason = fmt.Sprintf("%d flow(s): bytes within max(%g%%, %d B)", cp.Flows, c.tol.BytesRel*100, c.tol.BytesAbs)
		if r.KsClientRTT.Valid && r.CapClientRTT.Valid || r.KsServerRTT.Valid && r.CapServerRTT.Valid {
			r.Reason += fmt.Sprintf(", handshake RTT within max(%g%%, %s)", c.tol.RTTRel*100, fmtDur(c.tol.RTTAbsNs))
		}
	}
	return r
}

// fillRTT sets the RTT medians compared; a is nil for pcap_only.
func (r *Result) fillRTT(a *l4.Flow, tol Tolerances) {
	if p, ok := r.Capture.RTT("client"); ok {
		r.CapClientRTT = analyze.Some(p[0])
	}
	if p, ok := r.Capture.RTT("server"); ok {
		r.CapServerRTT, r.ServerRTTHalf = analyze.Some(p[0]), "synack_ack"
	}
	if a == nil {
		return
	}
	if v := a.ClientStats.HandshakeUs[0]; a.ClientStats.Present && v > 0 {
		r.KsClientRTT = analyze.Some(v * 1000)
	}
	if v := a.ServerStats.HandshakeUs[0]; a.ServerStats.Present && v > 0 {
		r.KsServerRTT = analyze.Some(v * 1000)
		// The kernel's SYN_RECV -> ESTABLISHED may start at the SYN: take
		// the whole handshake when that is the half that agrees.
		if p, ok := r.Capture.RTT("full"); ok && (!r.CapServerRTT.Valid || !agree(r.KsServerRTT.V, r.CapServerRTT.V, tol.RTTRel, tol.RTTAbsNs)) && agree(r.KsServerRTT.V, p[0], tol.RTTRel, tol.RTTAbsNs) {
			r.CapServerRTT, r.ServerRTTHalf = analyze.Some(p[0]), "syn_ack"
		}
	}
}

func sideBytes(a *l4.Flow) int64 {
	if a.ClientStats.Present {
		return a.ClientStats.TxBytes + a.ClientStats.RxBytes
	}
	return a.ServerStats.TxBytes + a.ServerStats.RxBytes
}

func agree(a, b int64, rel float64, abs int64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	lim := max(float64(abs), rel*float64(max(absInt(a), absInt(b))))
	return float64(d) <= lim
}

func absInt(a int64) int64 { return max(a, -a) }

func relDiff(a, b int64) float64 {
	m := max(absInt(a), absInt(b))
	if m == 0 {
		return 0
	}
	return float64(absInt(a-b)) / float64(m)
}

func fmtNs(ns int64) string {
	if ns == 0 {
		return "unknown"
	}
	return unixNs(ns)
}

func fmtDur(ns int64) string { return durString(ns) }

// SortWorst orders results by disagreement, worst first (matches last).
func SortWorst(rs []Result) {
	slices.SortStableFunc(rs, func(a, b Result) int {
		return cmp.Or(cmp.Compare(b.WorstRel, a.WorstRel), cmp.Compare(a.Key.String(), b.Key.String()))
	})
}

// Worst returns up to n disagreements (any verdict but Match), worst first,
// without reordering results.
func Worst(results []Result, n int) []Result {
	var out []Result
	for i := range results {
		if results[i].Verdict != Match {
			out = append(out, results[i])
		}
	}
	SortWorst(out)
	return out[:min(n, len(out))]
}

// Identities names a result's endpoints: Kubeshark's own names when its
// record has them, else the workloads over the capture's time of the
// aggregate (the record's time for kubeshark_only).
func (c *Checker) Identities(r *Result) (client, server Identity) {
	from, to := r.Capture.FirstNs, r.Capture.LastNs
	if r.Capture.Flows == 0 && r.Kubeshark != nil {
		from, to = r.Kubeshark.TimeNs, r.Kubeshark.TimeNs
	}
	client = c.Identify(r.Key.Client, from, to)
	server = c.Identify(r.Key.Server, from, to)
	if a := r.Kubeshark; a != nil {
		if a.Client.Pod != "" || a.Client.Service != "" {
			client = Identity{Pod: a.Client.Pod, Namespace: a.Client.Namespace, Service: a.Client.Service, Node: a.Client.Node}
		}
		if a.Server.Pod != "" || a.Server.Service != "" {
			server = Identity{Pod: a.Server.Pod, Namespace: a.Server.Namespace, Service: a.Server.Service, Node: a.Server.Node}
		}
	}
	return client, server
}
