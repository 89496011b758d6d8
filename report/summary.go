package report

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/internal/prefetch"
)

// Defaults for SummaryOptions.
const (
	DefaultTopN            = 10
	DefaultMaxServers      = 4096
	DefaultMaxTalkers      = 65536
	DefaultMaxExactRTT     = 1 << 18
	DefaultSlowHandshakeNs = 200_000_000 // 200 ms
)

// Finding rules that are not options (the report's Method states them).
const (
	retransHeavyMinPkts = 3  // a retransmission-heavy flow retransmitted at least this many packets
	retransHeavyRatio   = 20 // ... and at least 1 in retransHeavyRatio of its packets
	findingExamples     = 5  // flow ids quoted per finding
	maxLabels           = 64 // distinct states or cross-check verdicts kept; more go to "other"
)

// SummaryOptions bound a Summary. The zero value gives the defaults.
type SummaryOptions struct {
	// TopN is the number of rows of every top-N table (default 10).
	TopN int
	// SlowRequestNs is the HTTP latency from which a request is flagged
	// slow (default DefaultSlowRequestNs).
	SlowRequestNs int64
	// MaxServers is the number of TCP servers (dst_ip, dst_port) tracked;
	// the first MaxServers seen are kept, later ones are counted together
	// as untracked (default 4096).
	MaxServers int
	// MaxTalkers is the number of conversations (proto, src_ip, dst_ip,
	// dst_port), and separately of workload pairs, tracked; first seen, first
	// kept (default 65536).
	MaxTalkers int
	// MaxExactRTT is the number of handshake RTTs kept exactly for the
	// percentiles of all flows, and again across all tracked servers
	// (default 1<<18, 2 MiB each). Past it, distributions become log-linear
	// histograms (the largest server first), and their percentiles are
	// marked approximate.
	MaxExactRTT int
	// FloodMinHalfOpen is how many half-open connections (from at least
	// 100 distinct sources) make a server's SYN flood a finding.
	FloodMinHalfOpen int64
	// SlowHandshakeNs is the handshake RTT from which a handshake is
	// reported as slow (default 200 ms).
	SlowHandshakeNs int64
	// ScanMinHosts and ScanMinPorts are how many distinct hosts, or
	// ports, one source must probe in vain to be reported as scanning
	// (defaults DefaultScanMinHosts and DefaultScanMinPorts).
	ScanMinHosts, ScanMinPorts int
	// MaxScanSources is how many probing sources are tracked at once
	// (default DefaultMaxScanSources).
	MaxScanSources int
	// Parts, when set, says the tables are a sharded run's hive-partitioned
	// parts (TABLE/date=D/shard=NNNN/part-K.parquet) rather than
	// TABLE.parquet, and which shards the report covers: "*" for all,
	// "shard=0007" for one. The report's DuckDB statements read them so
	// (PartsSQL), from the run's output directory.
	Parts string
}

func (o SummaryOptions) withDefaults() SummaryOptions {
	if o.TopN <= 0 {
		o.TopN = DefaultTopN
	}
	if o.MaxServers <= 0 {
		o.MaxServers = DefaultMaxServers
	}
	if o.MaxTalkers <= 0 {
		o.MaxTalkers = DefaultMaxTalkers
	}
	if o.MaxExactRTT <= 0 {
		o.MaxExactRTT = DefaultMaxExactRTT
	}
	if o.FloodMinHalfOpen <= 0 {
		o.FloodMinHalfOpen = DefaultFloodMinHalfOpen
	}
	if o.SlowHandshakeNs <= 0 {
		o.SlowHandshakeNs = DefaultSlowHandshakeNs
	}
	if o.ScanMinHosts <= 0 {
		o.ScanMinHosts = DefaultScanMinHosts
	}
	if o.ScanMinPorts <= 0 {
		o.ScanMinPorts = DefaultScanMinPorts
	}
	if o.MaxScanSources <= 0 {
		o.MaxScanSources = DefaultMaxScanSources
	}
	return o
}

// Summary accumulates everything the Markdown report shows, one flow at a
// time, in memory that does not grow with the number of flows: counters,
// top-N lists, fixed-bucket histograms, and maps capped by SummaryOptions.
// Add it to analyze's emit callback; WriteReport renders it. A Summary is not
// safe for concurrent use.
type Summary struct {
	opts SummaryOptions

	rows      int64 // every flow, synthetic ones too
	synthetic int64

	// The rest counts wire flows only (synthetic false).
	flows, pkts, bytes, wireBytes int64
	firstNs, lastNs               int64
	protos                        map[string]*protoAgg
	states                        map[stateKey]*int64
	ports                         [2]*[65536]portAgg // tcp, udp by dst_port
	timeline                      timeline

	talkers map[talkerKey]*volume
	// talkersFull is a Bloom filter of the tracked conversations, made when
	// the map fills up: from then on a conversation it does not hold is
	// counted as untracked without a map lookup, which at a full map's load
	// is the summary's largest cost on a SYN flood (a miss per flow).
	talkersFull      []uint64
	talkersUntracked volume
	workloads        map[workloadKey]*volume
	workUntracked    volume
	identityFlows    int64

	// AddBatch's hashes of a batch's sources and conversations.
	batchSrc, batchTalker [summaryBatch]uint64

	servers        map[serverKey]*serverAgg
	srvUntracked   serverAgg
	srvExactValues int // exact handshake values held by servers

	// The aggregates of the last flow's protocol, state and server: the
	// next flow mostly has the same (on a flood, always), and a map
	// lookup per flow and aggregate was a large part of Add's cost.
	lastProto     string
	lastProtoAgg  *protoAgg
	lastState     stateKey
	lastStateN    *int64
	lastServer    serverKey
	lastServerAgg *serverAgg

	rtt       dist    // every handshake
	rttHist   []int64 // fixed buckets rttEdges
	slow      int64   // handshakes >= SlowHandshakeNs
	slowest   topK
	tcp       tcpHealth
	heavy     topK // retransmission-heavy flows by retransmitted packets
	zeroWin   topK
	missed    topK
	failed    topK    // earliest failed connections
	failedBy  [3]topK // earliest per failure class (findings)
	failCount [3]int64
	scan      scanTable // probing sources, for the scan findings

	crosscheck   map[string]int64
	disagree     int64
	disagreeList topK // earliest disagreeing flows
	pending      map[int32]*pendingVerdict
	xc           *CrossCheckReport
	xcL7         *CrossCheckL7Report

	l7 *L7Summary // nil: no L7 tables
}

// L7 returns the summary of the L7 tables, made on first use: a report
// whose Summary had L7 called has the HTTP and DNS sections.
func (s *Summary) L7() *L7Summary {
	if s.l7 == nil {
		s.l7 = NewL7Summary(s.opts.TopN, s.opts.SlowRequestNs)
	}
	return s.l7
}

type protoAgg struct{ flows, pkts, bytes int64 }

type stateKey struct{ proto, state string }

type portAgg struct{ flows, bytes int64 }

type volume struct{ flows, bytes int64 }

type talkerKey struct {
	proto    string
	src, dst netip.Addr
	port     uint16
}

type workloadKey struct{ srcNS, srcPod, dstNS, dst string }

type serverKey struct {
	addr netip.Addr
	port uint16
}

type serverAgg struct {
	flows      int64
	handshakes dist
	fail       [3]int64  // rejected, unanswered, reset
	completed  int64     // connections whose handshake completed
	flood      *floodAgg // from its first half-open connection on
}

func (a *serverAgg) failed() int64 { return a.fail[0] + a.fail[1] + a.fail[2] }

// Failure classes of TCP connections (Zeek conn_state).
const (
	failRejected   = iota // REJ: the SYN was answered by a RST
	failUnanswered        // S0: SYN seen, no reply
	failReset             // RSTO, RSTR, RSTOS0, RSTRH: established or half-open, then reset
)

func failClass(state string) int {
	switch state {
	case "REJ":
		return failRejected
	case "S0":
		return failUnanswered
	case "RSTO", "RSTR", "RSTOS0", "RSTRH":
		return failReset
	}
	return -1
}

type tcpHealth struct {
	flows, pkts                                  int64
	retransPkts, retransBytes, ooo, dupAcks      int64
	zeroWindows, missedBytes                     int64
	fRetransPkts, fRetransBytes, fOOO, fDupAcks  int64 // flows with any
	fZeroWindows, fMissed, heavyFlows, heavyPkts int64
}

// rttEdges are the bucket edges (ns) of the handshake RTT distribution chart,
// 1-2-5 steps from 10 µs to 5 s; the last bucket has no upper edge.
var rttEdges = []int64{
	0, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
	1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000, 50_000_000,
	100_000_000, 200_000_000, 500_000_000, 1_000_000_000, 2_000_000_000, 5_000_000_000,
}

// NewSummary returns an empty Summary.
func NewSummary(opts SummaryOptions) *Summary {
	opts = opts.withDefaults()
	s := &Summary{
		opts:       opts,
		protos:     map[string]*protoAgg{},
		states:     map[stateKey]*int64{},
		talkers:    map[talkerKey]*volume{},
		workloads:  map[workloadKey]*volume{},
		servers:    map[serverKey]*serverAgg{},
		rttHist:    make([]int64, len(rttEdges)),
		crosscheck: map[string]int64{},
	}
	n := opts.TopN
	s.slowest = topK{k: n}
	s.heavy = topK{k: n}
	s.zeroWin = topK{k: n}
	s.missed = topK{k: n}
	s.failed = topK{k: n}
	for i := range s.failedBy {
		s.failedBy[i] = topK{k: findingExamples}
	}
	s.disagreeList = topK{k: findingExamples}
	s.scan.k = opts.MaxScanSources
	return s
}

// Options returns the options in effect, defaults filled in.
func (s *Summary) Options() SummaryOptions { return s.opts }

// Flows returns the number of flows added (synthetic ones included).
func (s *Summary) Flows() int64 { return s.rows }

// Add counts one finished flow. It keeps nothing that points into r, so
// the caller may reuse r.
func (s *Summary) Add(r *analyze.Record) {
	s.add(r, addrHash(r.SrcIP), 0, false)
}

// summaryBatch is the most records AddBatch hashes and prefetches at once.
const summaryBatch = 64

// AddBatch is Add of each record of b in turn. It first hashes every
// record's source (and conversation, once the talkers map is full) and
// starts loading the scan and talkers filters' words they choose: on a
// spoofed flood each is a cache miss, and issued together for the batch
// the misses overlap instead of stalling one flow after another.
func (s *Summary) AddBatch(b []analyze.Record) {
	for len(b) > 0 {
		n := min(len(b), summaryBatch)
		s.addBatch(b[:n])
		b = b[n:]
	}
}

func (s *Summary) addBatch(b []analyze.Record) {
	src, talk := &s.batchSrc, &s.batchTalker
	talkers := s.talkersFull != nil
	for i := range b {
		r := &b[i]
		if r.Synthetic {
			continue
		}
		src[i] = addrHash(r.SrcIP)
		s.scan.prefetch(r, src[i])
		if talkers {
			h := talkerHash(r.Proto, r.DstIP, r.DstPort, src[i])
			talk[i] = h
			prefetch.Read(&s.talkersFull[h%talkerFilterBits/64])
			prefetch.Read(&s.talkersFull[(h>>32)%talkerFilterBits/64])
		}
	}
	for i := range b {
		s.add(&b[i], src[i], talk[i], talkers)
	}
}

// add is Add given the source's addrHash and, when talkerOK, the flow's
// talkerHash (talker).
func (s *Summary) add(r *analyze.Record, srcHash, talker uint64, talkerOK bool) {
	s.rows++
	if r.Synthetic {
		s.synthetic++
		return
	}
	pkts := r.OrigPkts + r.RespPkts
	bytes := r.OrigBytes + r.RespBytes
	if s.flows == 0 || r.TsNs < s.firstNs {
		s.firstNs = r.TsNs
	}
	if s.flows == 0 || r.EndNs > s.lastNs {
		s.lastNs = r.EndNs
	}
	s.flows++
	s.pkts += pkts
	s.bytes += bytes
	s.wireBytes += r.OrigWireBytes + r.RespWireBytes

	p := s.lastProtoAgg
	if p == nil || r.Proto != s.lastProto {
		p = s.protos[r.Proto]
		if p == nil {
			p = &protoAgg{}
			s.protos[r.Proto] = p
		}
		s.lastProto, s.lastProtoAgg = r.Proto, p
	}
	p.flows++
	p.pkts += pkts
	p.bytes += bytes

	if sk := (stateKey{r.Proto, r.State}); s.lastStateN == nil || sk != s.lastState {
		n := s.states[sk]
		if n == nil {
			if len(s.states) >= maxLabels {
				// The map only grows: this state always goes to "other" now.
				other := stateKey{r.Proto, "other"}
				if n = s.states[other]; n == nil {
					n = new(int64)
					s.states[other] = n
				}
			} else {
				n = new(int64)
				s.states[sk] = n
			}
		}
		s.lastState, s.lastStateN = sk, n
	}
	*s.lastStateN++

	if pi := protoIndex(r.Proto); pi >= 0 {
		if s.ports[pi] == nil {
			s.ports[pi] = new([65536]portAgg)
		}
		pa := &s.ports[pi][r.DstPort]
		pa.flows++
		pa.bytes += bytes
	}
	s.timeline.add(r.TsNs, bytes, r.Proto == "tcp" && isHalfOpen(r))
	// One hash of the source for scan, talkers and floods.
	s.scan.add(r, srcHash)
	s.addTalker(r, bytes, srcHash, talker, talkerOK)
	if r.CrossCheck != "" {
		s.countVerdict(r.CrossCheck, 1)
		if r.CrossCheck != CrossCheckMatch {
			s.disagreeList.add(r, -r.TsNs)
		}
	}
	if r.Proto == "tcp" {
		s.addTCP(r, pkts, srcHash)
	}
}

// countVerdict counts n flows with verdict v.
func (s *Summary) countVerdict(v string, n int64) {
	if v != CrossCheckMatch {
		s.disagree += n
	}
	if _, ok := s.crosscheck[v]; !ok && len(s.crosscheck) >= maxLabels {
		v = "other"
	}
	s.crosscheck[v] += n
}

// AddDeferred is Add for a flow whose cross-check verdict is known only once
// every flow has been seen: ref names its Kubeshark aggregate, and
// ResolveVerdicts counts it. Until then the summary keeps, per aggregate, its
// number of flows and its earliest flows (the findings quote those).
func (s *Summary) AddDeferred(r *analyze.Record, ref int32) {
	v := r.CrossCheck
	r.CrossCheck = ""
	s.Add(r)
	r.CrossCheck = v
	if r.Synthetic {
		return
	}
	p := s.pending[ref]
	if p == nil {
		if s.pending == nil {
			s.pending = map[int32]*pendingVerdict{}
		}
		p = &pendingVerdict{examples: topK{k: findingExamples}}
		s.pending[ref] = p
	}
	p.flows++
	p.examples.add(r, -r.TsNs)
}

// pendingVerdict is what the summary holds of an aggregate's flows until
// its verdict is known.
type pendingVerdict struct {
	flows    int64
	examples topK
}

// ResolveVerdicts counts the flows given to AddDeferred under the verdicts
// of their aggregates ("" leaves a flow uncounted, as Add does).
func (s *Summary) ResolveVerdicts(verdict func(ref int32) string) {
	refs := make([]int32, 0, len(s.pending))
	for ref := range s.pending {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		p := s.pending[ref]
		v := verdict(ref)
		if v == "" {
			continue
		}
		s.countVerdict(v, p.flows)
		if v != CrossCheckMatch {
			for _, e := range p.examples.items {
				e.CrossCheck = v
				s.disagreeList.insert(e)
			}
		}
	}
	s.pending = nil
}

// CrossCheckMatch is the cross-check verdict of a flow whose numbers agree
// with Kubeshark's; every other verdict is reported as a disagreement.
const CrossCheckMatch = "match"

func protoIndex(proto string) int {
	switch proto {
	case "tcp":
		return 0
	case "udp":
		return 1
	}
	return -1
}

// flowOrdinal parses the capture ordinal that prefixes a flow_id.
func flowOrdinal(id string) (int, bool) {
	i := strings.IndexByte(id, '-')
	if i <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(id[:i])
	return n, err == nil
}

// talkerFilterBits sizes the Bloom filter of a full talkers map: 1 Mi bits
// (128 KiB), two probes, so at the default 65,536 conversations about 1.4%
// of other ones still look the map up.
const talkerFilterBits = 1 << 20

// talkerHash mixes a conversation's key fields into 64 bits for the
// filter, given its source's addrHash (the zone of dst is not hashed); the
// protocol is folded 8 bytes at a time.
func talkerHash(proto string, dst netip.Addr, port uint16, srcHash uint64) uint64 {
	h := srcHash ^ mix64(addrHash(dst)+uint64(port)<<8+uint64(len(proto)))
	for p := proto; p != ""; {
		var w uint64
		n := min(len(p), 8)
		for i := range n {
			w |= uint64(p[i]) << (8 * i)
		}
		h = mix64(h + w)
		p = p[n:]
	}
	return h
}

// talkerMaybeTracked reports whether the filter may hold the conversation
// of r (its key's fields, not the key: building the key per flow, to find
// on a flood that it is not tracked, cost as much as the filter).
func (s *Summary) talkerMaybeTracked(r *analyze.Record, srcHash, h uint64, hashed bool) bool {
	if !hashed {
		h = talkerHash(r.Proto, r.DstIP, r.DstPort, srcHash)
	}
	a, b := h%talkerFilterBits, (h>>32)%talkerFilterBits
	return s.talkersFull[a/64]&(1<<(a%64)) != 0 && s.talkersFull[b/64]&(1<<(b%64)) != 0
}

func (s *Summary) fillTalkerFilter() {
	s.talkersFull = make([]uint64, talkerFilterBits/64)
	for k := range s.talkers {
		h := talkerHash(k.proto, k.dst, k.port, addrHash(k.src))
		a, b := h%talkerFilterBits, (h>>32)%talkerFilterBits
		s.talkersFull[a/64] |= 1 << (a % 64)
		s.talkersFull[b/64] |= 1 << (b % 64)
	}
}

func (s *Summary) addTalker(r *analyze.Record, bytes int64, srcHash, talker uint64, talkerOK bool) {
	s.countTalker(r, bytes, srcHash, talker, talkerOK)
	if r.SrcNamespace == "" && r.SrcPod == "" && r.SrcService == "" &&
		r.DstNamespace == "" && r.DstPod == "" && r.DstService == "" {
		return
	}
	s.identityFlows++
	wk := workloadKey{dash(r.SrcNamespace), dash(r.SrcPod), dash(r.DstNamespace), dash(cmp.Or(r.DstService, r.DstPod))}
	if v := s.workloads[wk]; v != nil {
		v.flows++
		v.bytes += bytes
	} else if len(s.workloads) < s.opts.MaxTalkers {
		s.workloads[wk] = &volume{1, bytes}
	} else {
		s.workUntracked.flows++
		s.workUntracked.bytes += bytes
	}
}

// countTalker counts a flow in its conversation, or as untracked.
func (s *Summary) countTalker(r *analyze.Record, bytes int64, srcHash, talker uint64, talkerOK bool) {
	if s.talkersFull != nil && !s.talkerMaybeTracked(r, srcHash, talker, talkerOK) {
		s.talkersUntracked.flows++
		s.talkersUntracked.bytes += bytes
		return
	}
	k := talkerKey{r.Proto, r.SrcIP.WithZone(""), r.DstIP.WithZone(""), r.DstPort}
	if v := s.talkers[k]; v != nil {
		v.flows++
		v.bytes += bytes
	} else if len(s.talkers) < s.opts.MaxTalkers {
		s.talkers[k] = &volume{1, bytes}
		if len(s.talkers) == s.opts.MaxTalkers {
			s.fillTalkerFilter()
		}
	} else {
		s.talkersUntracked.flows++
		s.talkersUntracked.bytes += bytes
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (s *Summary) addTCP(r *analyze.Record, pkts int64, srcHash uint64) {
	t := &s.tcp
	t.flows++
	t.pkts += pkts
	count := func(v int64, total, flows *int64) {
		*total += v
		if v > 0 {
			*flows++
		}
	}
	retrans := r.OrigRetransPkts + r.RespRetransPkts
	count(retrans, &t.retransPkts, &t.fRetransPkts)
	count(r.OrigRetransBytes+r.RespRetransBytes, &t.retransBytes, &t.fRetransBytes)
	count(r.OutOfOrder, &t.ooo, &t.fOOO)
	count(r.DupAcks, &t.dupAcks, &t.fDupAcks)
	count(r.ZeroWindows, &t.zeroWindows, &t.fZeroWindows)
	count(r.MissedBytes, &t.missedBytes, &t.fMissed)
	if retrans >= retransHeavyMinPkts && retrans*retransHeavyRatio >= pkts {
		t.heavyFlows++
		t.heavyPkts += retrans
		s.heavy.add(r, retrans)
	}
	if r.ZeroWindows > 0 {
		s.zeroWin.add(r, r.ZeroWindows)
	}
	if r.MissedBytes > 0 {
		s.missed.add(r, r.MissedBytes)
	}

	fc := failClass(r.State)
	if fc >= 0 {
		s.failCount[fc]++
		s.failed.add(r, -r.TsNs)
		s.failedBy[fc].add(r, -r.TsNs)
	}

	sk := serverKey{r.DstIP.WithZone(""), r.DstPort}
	srv := s.lastServerAgg
	if srv == nil || sk != s.lastServer {
		srv = s.servers[sk]
		if srv == nil && len(s.servers) < s.opts.MaxServers {
			srv = &serverAgg{}
			s.servers[sk] = srv
		}
		if srv == nil {
			// Servers are never removed: this one stays untracked.
			srv = &s.srvUntracked
		}
		s.lastServer, s.lastServerAgg = sk, srv
	}
	srv.flows++
	if fc >= 0 {
		srv.fail[fc]++
	}
	if srv.flood == nil && srv != &s.srvUntracked && isHalfOpen(r) {
		srv.flood = &floodAgg{}
	}
	if srv.flood != nil {
		srv.flood.add(r, srcHash)
	}
	if r.RTTHandshake.Valid {
		srv.completed++
	}

	if !r.RTTHandshake.Valid {
		return
	}
	v := max(r.RTTHandshake.V, 0)
	s.rtt.add(v)
	if s.rtt.exact() && s.rtt.n > int64(s.opts.MaxExactRTT) {
		s.rtt.toHist()
	}
	b, _ := slices.BinarySearch(rttEdges, v+1) // first edge above v
	s.rttHist[b-1]++
	if v >= s.opts.SlowHandshakeNs {
		s.slow++
	}
	s.slowest.add(r, v)
	if srv == &s.srvUntracked {
		srv.handshakes.n++ // only the count is used
		return
	}
	exact := srv.handshakes.exact()
	srv.handshakes.add(v)
	if exact {
		s.srvExactValues++
		for s.srvExactValues > s.opts.MaxExactRTT {
			s.shrinkServers()
		}
	}
}

// shrinkServers turns the exact handshake values of the server holding the
// most (ties: the lowest address, then port) into a histogram.
func (s *Summary) shrinkServers() {
	var best *serverAgg
	var bestKey serverKey
	for k, a := range s.servers {
		if !a.handshakes.exact() || a.handshakes.n == 0 {
			continue
		}
		n, bn := a.handshakes.n, int64(0)
		if best != nil {
			bn = best.handshakes.n
		}
		if best == nil || n > bn || n == bn && (k.addr.Compare(bestKey.addr) < 0 || k.addr == bestKey.addr && k.port < bestKey.port) {
			best, bestKey = a, k
		}
	}
	if best == nil {
		s.srvExactValues = 0
		return
	}
	s.srvExactValues -= int(best.handshakes.n)
	best.handshakes.toHist()
}

// flowRef is what a top-N list keeps of a flow.
type flowRef struct {
	key                  int64 // ranking value: higher first, ties by FlowID
	FlowID, Capture      string
	Proto, Src, Dst      string
	SrcPort, DstPort     int32
	TsNs                 int64
	State                string
	Pkts, Retrans        int64
	RetransBytes         int64
	ZeroWindows, Missed  int64
	Handshake            int64
	SynSynAck, SynAckAck analyze.Opt
	CrossCheck           string
}

// topK keeps the k flows with the highest key, ties broken by the lower
// flow_id (byte-wise, as DuckDB orders strings), in rank order.
type topK struct {
	k     int
	items []flowRef
}

func ranksBefore(key int64, id string, r *flowRef) bool {
	return key > r.key || key == r.key && id < r.FlowID
}

func (t *topK) add(r *analyze.Record, key int64) {
	if len(t.items) == t.k && !ranksBefore(key, r.FlowID, &t.items[len(t.items)-1]) {
		return
	}
	t.insert(flowRef{
		// A copy: the record's flow_id shares a chunk with thousands of
		// others (analyze.Completer), which the copy lets go.
		key: key, FlowID: strings.Clone(r.FlowID), Capture: r.Capture, Proto: r.Proto,
		Src: r.SrcIP.WithZone("").String(), Dst: r.DstIP.WithZone("").String(),
		SrcPort: int32(r.SrcPort), DstPort: int32(r.DstPort), TsNs: r.TsNs, State: r.State,
		Pkts: r.OrigPkts + r.RespPkts, Retrans: r.OrigRetransPkts + r.RespRetransPkts,
		RetransBytes: r.OrigRetransBytes + r.RespRetransBytes,
		ZeroWindows:  r.ZeroWindows, Missed: r.MissedBytes,
		Handshake: r.RTTHandshake.V, SynSynAck: r.RTTSynSynAck, SynAckAck: r.RTTSynAckAck,
		CrossCheck: r.CrossCheck,
	})
}

// insert puts ref in its place, dropping the last item when full.
func (t *topK) insert(ref flowRef) {
	if len(t.items) == t.k && !ranksBefore(ref.key, ref.FlowID, &t.items[len(t.items)-1]) {
		return
	}
	i := len(t.items)
	for i > 0 && ranksBefore(ref.key, ref.FlowID, &t.items[i-1]) {
		i--
	}
	if len(t.items) < t.k {
		t.items = append(t.items, flowRef{})
	}
	copy(t.items[i+1:], t.items[i:len(t.items)-1])
	t.items[i] = ref
}

// timelineLadder lists the interval widths (ns) of the traffic-over-time
// chart; each divides the next, so intervals merge exactly when the width
// grows. Past the last, widths grow tenfold.
var timelineLadder = []int64{
	1e6, 1e7, 1e8, 1e9, 1e10, 60e9, 600e9, 3600e9, 6 * 3600e9, 86400e9, 7 * 86400e9,
}

// maxIntervals is the most intervals the traffic chart has: the width is the
// smallest of timelineLadder that covers the flows' start times in at most
// this many intervals.
const maxIntervals = 60

// timeline counts flows, bytes and half-open TCP connections by the
// interval of their start time: interval i covers [i*width, (i+1)*width)
// epoch ns (i = ts_ns / width, truncated, as DuckDB's // divides).
type timeline struct {
	step    int
	width   int64
	lo, hi  int64 // interval range seen
	buckets map[int64]*tlBucket
	lastI   int64     // the last interval added to
	last    *tlBucket // its bucket; nil after grow
	// halfOpen counts every half-open connection, for the chart's third
	// panel (shown only when there are some).
	halfOpen int64
}

type tlBucket struct {
	volume
	halfOpen int64
}

func ladderWidth(step int) int64 {
	if step < len(timelineLadder) {
		return timelineLadder[step]
	}
	w := timelineLadder[len(timelineLadder)-1]
	for i := len(timelineLadder) - 1; i < step && w <= math.MaxInt64/10; i++ {
		w *= 10
	}
	return w
}

func (t *timeline) add(ts, bytes int64, halfOpen bool) {
	if t.buckets == nil {
		t.width = ladderWidth(0)
		t.buckets = map[int64]*tlBucket{}
		t.lo, t.hi = ts/t.width, ts/t.width
	}
	i := ts / t.width
	t.lo, t.hi = min(t.lo, i), max(t.hi, i)
	for t.hi-t.lo >= maxIntervals && t.grow() {
		i = ts / t.width
	}
	v := t.last
	if v == nil || i != t.lastI {
		v = t.buckets[i]
		if v == nil {
			v = &tlBucket{}
			t.buckets[i] = v
		}
		t.lastI, t.last = i, v
	}
	v.flows++
	v.bytes += bytes
	if halfOpen {
		v.halfOpen++
		t.halfOpen++
	}
}

// grow moves to the next width of the ladder, merging intervals; it
// returns false when the width cannot grow any more.
func (t *timeline) grow() bool {
	w := ladderWidth(t.step + 1)
	if w == t.width {
		return false
	}
	t.step++
	f := w / t.width
	t.width = w
	merged := make(map[int64]*tlBucket, len(t.buckets)/int(min(f, 64))+1)
	for i, v := range t.buckets {
		j := i / f
		if m := merged[j]; m != nil {
			m.flows += v.flows
			m.bytes += v.bytes
			m.halfOpen += v.halfOpen
		} else {
			merged[j] = v
		}
	}
	t.buckets = merged
	t.last = nil
	t.lo /= f
	t.hi /= f
	return true
}
