package analyze

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// Config sets the flow table's limits. The zero value of a field means its
// default (see DefaultConfig).
type Config struct {
	TCPTimeoutNs       int64 // idle time after which a TCP flow ends (default 5 min)
	UDPTimeoutNs       int64 // idle time after which a UDP flow ends (default 1 min)
	TCPClosedTimeoutNs int64 // idle time after FIN+FIN or RST before a TCP flow ends (default 5 s)
	MaxFlows           int   // live flows kept at most; the idlest are ended early beyond it (default 1,000,000)
	NoDecap            bool  // do not open tunnels (VXLAN, Geneve, GRE, IP-in-IP): only their outer packets count
	NoReassembly       bool  // do not reassemble IP fragments: they are only counted
	FragTimeoutNs      int64 // how long the first piece of a fragmented datagram waits for the rest (default 5 min)
	MaxFragDatagrams   int   // fragmented datagrams reassembled at once at most; beyond, the oldest is dropped (default 8192)
	// DeferStrings leaves FlowID, CommunityID and History of the records
	// emitted to the receiver, which makes them with (*Record).Complete:
	// building them (a SHA-1 each for the Community ID) can then run beside
	// the table instead of in it.
	DeferStrings bool
	// L7, when set, gets the payload of flows' packets (see L7Factory),
	// given to Table.AddPayload (Run and RunConcurrent do).
	L7 L7Factory
	// NoDedup counts every record of a packet: copies of one packet from
	// two vantage points are not folded (see "Vantage copies").
	NoDedup bool
	// DupWindowNs is how far apart in capture time two records of one
	// packet may be to be folded (default DefaultDupWindowNs, 10 ms).
	DupWindowNs int64
	// DupSameTTL also folds copies whose TTLs are equal, the earlier taken
	// as the sender's: for captures whose two vantage points no router
	// separates (Kubeshark on a CNI that bridges pods of one node). A
	// repeat at one vantage point within the window (an IPv6
	// retransmission with unchanged headers, a duplicate the network made)
	// is then folded too.
	DupSameTTL bool
	// MaxDupEntries caps the records remembered for folding, and the
	// records held back waiting for their copy (default 65,536 each).
	MaxDupEntries int
}

// Default limits, as Zeek's: tcp_inactivity_timeout, udp_inactivity_timeout
// and tcp_close_delay.
const (
	DefaultTCPTimeoutNs       = 5 * 60 * 1e9
	DefaultUDPTimeoutNs       = 60 * 1e9
	DefaultTCPClosedTimeoutNs = 5 * 1e9
	DefaultMaxFlows           = 1_000_000
)

// WithDefaults returns c with every zero setting replaced by its default.
func (c Config) WithDefaults() Config {
	if c.TCPTimeoutNs <= 0 {
		c.TCPTimeoutNs = DefaultTCPTimeoutNs
	}
	if c.UDPTimeoutNs <= 0 {
		c.UDPTimeoutNs = DefaultUDPTimeoutNs
	}
	if c.TCPClosedTimeoutNs <= 0 {
		c.TCPClosedTimeoutNs = DefaultTCPClosedTimeoutNs
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = DefaultMaxFlows
	}
	if c.FragTimeoutNs <= 0 {
		c.FragTimeoutNs = DefaultFragTimeoutNs
	}
	if c.MaxFragDatagrams <= 0 {
		c.MaxFragDatagrams = DefaultMaxFragDatagrams
	}
	if c.DupWindowNs <= 0 {
		c.DupWindowNs = DefaultDupWindowNs
	}
	if c.MaxDupEntries <= 0 {
		c.MaxDupEntries = DefaultMaxDupEntries
	}
	c.MaxDupEntries = 1 << bits.Len(uint(c.MaxDupEntries-1)) // a power of two
	return c
}

// flowKey identifies a bidirectional flow: the endpoints in canonical order
// (lo sorts before hi), the transport and the outermost VLAN.
type flowKey struct {
	lo, hi         [16]byte // netip.Addr.As16: IPv4 as ::ffff:a.b.c.d
	loPort, hiPort uint16
	vlan           int32
	proto          uint8
	tunnel         Tunnel
	tunnelID       int64 // VNI or GRE key, -1 for none
}

// dirCount is what one direction of a flow sent.
type dirCount struct {
	pkts, bytes, ipBytes, wireBytes int64
}

// Lists that order live flows by last activity. Each list has one idle
// timeout, so its head is always the next flow to expire.
const (
	listUDP = iota
	listTCPOpen
	listTCPClosed
	numLists
	listNone = numLists // in no list: the flow has ended
)

// flow is a live flow. Its fields are ordered to pack (216 bytes; with its
// TCP state alongside, a TCP flow takes 632): tens of thousands are live at
// once.
type flow struct {
	key             flowKey
	prev, next      *flow
	nextInBucket    *flow    // flowIndex chain
	twin            *flow    // the other connection live on the same 5-tuple (a synthetic twin pair)
	tcp             *tcpConn // nil for UDP
	hash            uint64
	firstNs, lastNs int64
	firstIndex      int64 // packet index in the capture of the first packet (flow_id)
	count           [2]dirCount
	firstOrigNs     int64 // UDP: first packet from the originator, 0 when none yet
	firstReplyNs    int64 // UDP: rtt_first_reply, when firstReplySet

	list              uint8
	ipVersion         uint8
	udpHist           uint8 // UDP history bits: 1 orig sent, 2 resp sent
	origIsLo          bool  // the originator is the key's lo endpoint
	directionInferred bool
	flipped           bool // the first packet's sender was judged the responder
	firstReplySet     bool
	vantages          uint8 // 2 once a copy of one of its packets was folded (its state is in Table.vant)
}

// tcpFlow is a TCP flow and its TCP state in one allocation.
type tcpFlow struct {
	flow
	tcp tcpConn
}

type flowList struct{ head, tail *flow }

func (l *flowList) pushBack(f *flow) {
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

func (l *flowList) remove(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

// Table rebuilds flows from decoded packets of one capture. It is not safe
// for concurrent use. Finished flows go to the emit function given to
// NewTable, in the order they end; the *Record is reused after emit returns.
type Table struct {
	cfg     Config
	capture string
	ordinal int
	index   *flowIndex
	lists   [numLists]flowList
	freeTCP []*flow // finished TCP flows (of a tcpFlow) kept for reuse
	freeUDP []*flow // finished UDP flows kept for reuse
	// The unused rest of the chunks new flows come from (allocFlow).
	tcpChunk  []tcpFlow
	udpChunk  []flow
	tcpChunks int // chunks allocated, to size the next one
	udpChunks int
	live      int // flows in the table, twins included
	emit      func(*Record)
	rec       Record
	strs      Completer
	nowNs     int64 // latest packet time seen
	sweepNs   int64 // capture time of the last idle sweep

	l7 *l7Hook // nil without Config.L7

	// Kinds counts packets by classification.
	Kinds         [numKinds]int64
	ipProtos      [256]int64       // KindOtherIP packets by IP protocol
	etherTypes    map[uint16]int64 // KindOtherEther packets by EtherType
	unopened      int64            // GRE and IP-in-IP packets whose payload was not opened
	frags         fragStats        // of the run's reassembler
	evictedEarly  int64            // flows ended before their idle timeout: the table was full
	flows         int64            // flows emitted
	badTCPHeaders int64            // TCP packets whose header length is impossible

	// Folding vantage copies (nil fold with Config.NoDedup).
	fold     *folder
	vant     map[*flow]*vantage // state of the flows with two vantage points
	freeVant []*vantage
	// DupFolded counts records folded into another record of the same
	// packet (not counted as packets of their own).
	DupFolded int64
	// GSOSplit counts GSO super-packets matched with the wire-sized
	// segments of the other vantage point.
	GSOSplit int64
	// DupAmbiguous counts records identical to an earlier one within the
	// window, TTL included: a repeat at one vantage point (a
	// retransmission, a duplicate the network made) or a copy from a
	// vantage point no router separates (a bridge) look the same. They are
	// not folded: each stays counted.
	DupAmbiguous int64
	// DupCapped counts records the folding state could not keep (its
	// entries, index buckets or hold queue were full): a copy of such a
	// record may be counted as a packet of its own.
	DupCapped int64
	// GSOMismatch counts held super-packets whose segments at the other
	// vantage point covered only part of them.
	GSOMismatch int64
}

// EvictedEarly counts flows ended before their idle timeout because the
// table was full (MaxFlows).
func (t *Table) EvictedEarly() int64 { return t.evictedEarly }

// Flows counts the flows emitted so far.
func (t *Table) Flows() int64 { return t.flows }

// BadTCPHeaders counts TCP packets whose header length is impossible:
// counted in their flow, left out of the TCP analysis.
func (t *Table) BadTCPHeaders() int64 { return t.badTCPHeaders }

// NewTable returns a table for the capture named capture; ordinal numbers
// the capture within the run and prefixes every flow_id.
func NewTable(cfg Config, capture string, ordinal int, emit func(*Record)) *Table {
	t := &Table{
		cfg:        cfg.WithDefaults(),
		capture:    capture,
		ordinal:    ordinal,
		index:      newFlowIndex(),
		etherTypes: make(map[uint16]int64),
		emit:       emit,
		l7:         newL7Hook(cfg.L7, ordinal),
	}
	if !cfg.NoDedup {
		t.fold = newFolder(t.cfg)
	}
	return t
}

// Add accounts one decoded packet; index is its 0-based position in the
// capture. Packets that are not TCP or UDP are only counted.
func (t *Table) Add(d *Decoded, index int64) {
	t.AddPayload(d, index, nil)
}

// AddPayload is Add for a table with Config.L7: payload is the packet's
// captured transport payload (d.PayloadBytes of its frame), given to the
// L7 hook; it needs to stay valid only during the call.
func (t *Table) AddPayload(d *Decoded, index int64, payload []byte) {
	t.Kinds[d.Kind]++
	switch d.Kind {
	case KindTCP, KindUDP:
	case KindOtherIP:
		t.ipProtos[d.IPProto]++
		if d.carries == TunnelNone && (d.IPProto == ipProtoGRE || d.IPProto == ipProtoIPIP || d.IPProto == ipProtoIPv6) {
			t.unopened++
		}
		return
	case KindOtherEther:
		t.etherTypes[d.EtherType]++
		return
	default:
		return
	}
	if t.fold != nil {
		t.foldAdd(d, index, payload)
		return
	}
	t.nowNs = max(t.nowNs, d.TsNs)
	t.add(d, index, payload)
}

// keyOf sets *key to the flow key of a TCP or UDP packet and reports
// whether its sender is the key's lo endpoint.
func keyOf(d *Decoded, key *flowKey) bool {
	*key = flowKey{vlan: d.VLAN, proto: d.IPProto, tunnel: d.Tunnel, tunnelID: d.TunnelID}
	src, dst := d.Src.As16(), d.Dst.As16()
	srcIsLo := endpointLE(&src, d.SrcPort, &dst, d.DstPort)
	if srcIsLo {
		key.lo, key.loPort, key.hi, key.hiPort = src, d.SrcPort, dst, d.DstPort
	} else {
		key.lo, key.loPort, key.hi, key.hiPort = dst, d.DstPort, src, d.SrcPort
	}
	return srcIsLo
}

// add counts one TCP or UDP packet in its flow and returns the flow and the
// packet's direction in it.
func (t *Table) add(d *Decoded, index int64, payload []byte) (*flow, int) {
	if t.nowNs-t.sweepNs >= 1e9 {
		t.expire(t.nowNs)
		t.sweepNs = t.nowNs
	}

	var key flowKey
	srcIsLo := keyOf(d, &key)
	h := t.index.hash(&key)

	f := t.index.get(&key, h)
	if f != nil && f.twin != nil && d.Kind == KindTCP {
		f = route(f, srcIsLo, d)
	}
	if f != nil && d.TsNs-f.lastNs > t.timeout(f) {
		t.end(f)
		f = nil
	}
	var twinOf *flow
	if f != nil && d.Kind == KindTCP && !d.BadHeader && f.tcp.startsNewConnection(f.dirOf(srcIsLo), d) {
		if f.twin == nil && !f.tcp.closed() && syntheticStart(d.Seq) != syntheticStart(f.tcp.d[f.dirOf(srcIsLo)].baseSeq) {
			// A connection and its synthetic plaintext twin share the 5-tuple:
			// keep both live, apart (design.md: TLS plaintext in Kubeshark captures).
			twinOf = f
		} else {
			t.end(f)
		}
		f = nil
	}
	if f == nil {
		if t.live >= t.cfg.MaxFlows {
			t.evictIdlest()
			if twinOf != nil && twinOf.list == listNone {
				twinOf = nil // the eviction ended it
			}
		}
		f = t.newFlow(key, h, srcIsLo, d, index, twinOf)
	}

	dir := f.dirOf(srcIsLo)
	c := &f.count[dir]
	c.pkts++
	c.bytes += d.Payload
	c.ipBytes += d.IPLen
	c.wireBytes += d.WireLen
	if d.TsNs > f.lastNs {
		f.lastNs = d.TsNs
	}
	if d.TsNs < f.firstNs {
		f.firstNs = d.TsNs
	}

	list := uint8(listUDP)
	if d.Kind == KindTCP {
		if d.BadHeader {
			t.badTCPHeaders++
		} else {
			f.tcp.add(dir, d)
		}
		list = listTCPOpen
		if f.tcp.closed() {
			list = listTCPClosed
		}
	} else {
		f.udpHist |= 1 << dir
		if dir == 0 && f.firstOrigNs == 0 {
			f.firstOrigNs = d.TsNs
		}
		if dir == 1 && f.firstOrigNs != 0 && !f.firstReplySet && f.count[1].pkts == 1 {
			f.firstReplyNs, f.firstReplySet = d.TsNs-f.firstOrigNs, true
		}
	}
	if t.l7 != nil {
		t.l7.packet(f, dir, d, payload)
	}
	// Move to the back of its list: lists stay ordered by last activity.
	t.lists[f.list].remove(f)
	f.list = list
	t.lists[list].pushBack(f)
	return f, dir
}

// endpointLE reports whether endpoint a sorts before or equal to endpoint b:
// address bytes, then port. For two addresses of one family (the source and
// destination of one IP header) without zones, it is netip.AddrPort.Compare
// <= 0, in two word comparisons.
func endpointLE(a *[16]byte, aPort uint16, b *[16]byte, bPort uint16) bool {
	if ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8]); ah != bh {
		return ah < bh
	}
	if al, bl := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]); al != bl {
		return al < bl
	}
	return aPort <= bPort
}

func (t *Table) timeout(f *flow) int64 {
	switch f.list {
	case listUDP:
		return t.cfg.UDPTimeoutNs
	case listTCPClosed:
		return t.cfg.TCPClosedTimeoutNs
	}
	return t.cfg.TCPTimeoutNs
}

// syntheticStart reports whether a sequence number looks like the start of a
// synthetic stream (Kubeshark numbers the plaintext twin's bytes from 1, so its
// ISN is 0); real stacks pick ISNs at random.
func syntheticStart(seq uint32) bool { return seq <= 1 }

// route picks, of a flow and its twin, the one whose sequence spaces the
// packet fits: its seq near the sender's next expected sequence number, its
// ack near the receiver's. Unknown spaces neither fit nor miss; a tie goes to
// f, the flow first seen.
func route(f *flow, srcIsLo bool, d *Decoded) *flow {
	if fit(f.twin, srcIsLo, d) > fit(f, srcIsLo, d) {
		return f.twin
	}
	return f
}

// fitWindow is how far (in sequence numbers) a packet may be from a flow's
// expected sequence numbers and still fit it.
const fitWindow = 1 << 24

func fit(f *flow, srcIsLo bool, d *Decoded) int {
	dir := f.dirOf(srcIsLo)
	fwd, rev := &f.tcp.d[dir], &f.tcp.d[1-dir]
	near := func(a, b uint32) int {
		if diff := int32(a - b); diff > -fitWindow && diff < fitWindow {
			return 1
		}
		return -1
	}
	score := 0
	if fwd.seqSet {
		score += near(d.Seq, fwd.nextSeq)
	}
	if d.Flags&flagACK != 0 && rev.seqSet {
		score += near(d.Ack, rev.nextSeq)
	}
	return score
}

func (t *Table) newFlow(key flowKey, h uint64, srcIsLo bool, d *Decoded, index int64, twinOf *flow) *flow {
	f := t.allocFlow(d.Kind == KindTCP)
	f.key = key
	f.firstNs, f.lastNs = d.TsNs, d.TsNs
	f.firstIndex = index
	f.ipVersion = d.IPVersion
	f.origIsLo = srcIsLo
	if d.Kind == KindTCP {
		switch {
		case d.Flags&(flagSYN|flagACK) == flagSYN:
			// The sender of a SYN is the originator.
		case d.Flags&(flagSYN|flagACK) == flagSYN|flagACK:
			// A SYN/ACK answers the originator.
			f.origIsLo = !srcIsLo
			f.directionInferred, f.flipped = true, true
		default:
			f.directionInferred = true
			if serverSide(d.SrcPort, d.DstPort) {
				f.origIsLo = !srcIsLo
				f.flipped = true
			}
		}
		f.list = listTCPOpen
	} else {
		if serverSide(d.SrcPort, d.DstPort) {
			f.origIsLo = !srcIsLo
			f.directionInferred, f.flipped = true, true
		}
		f.list = listUDP
	}
	t.live++
	f.hash = h
	t.lists[f.list].pushBack(f)
	switch old := t.index.get(&key, h); {
	case twinOf != nil:
		f.twin, twinOf.twin = twinOf, f
	case old != nil:
		// Another connection still lives on this 5-tuple (one of a twin
		// pair): pair the new one with it.
		if old.twin != nil {
			t.end(old.twin)
		}
		f.twin, old.twin = old, f
	default:
		t.index.put(f)
	}
	return f
}

// flowChunk is how many flows are allocated together.
const flowChunk = 256

// A table's first chunk of each kind holds firstFlowChunk flows; each next
// one twice as many, up to flowChunk.
const (
	firstFlowChunk     = 8
	flowChunkDoublings = 5 // 8 << 5 = flowChunk
)

// allocFlow returns a zeroed flow, with zeroed TCP state when tcp, reusing a
// finished one when there is one.
func (t *Table) allocFlow(tcp bool) *flow {
	free := &t.freeUDP
	if tcp {
		free = &t.freeTCP
	}
	n := len(*free)
	if n == 0 {
		// New flows come from chunks: one object per flowChunk flows for the
		// collector to find and mark instead of one each (5% faster on the
		// bench capture, where the memory limit makes collections frequent).
		// A chunk is never freed while the table lives: its flows are reused.
		// Chunks start small and double up to flowChunk: a capture of a
		// few flows does not clear room for hundreds.
		if !tcp {
			if len(t.udpChunk) == 0 {
				t.udpChunk = make([]flow, firstFlowChunk<<min(t.udpChunks, flowChunkDoublings))
				t.udpChunks++
			}
			f := &t.udpChunk[0]
			t.udpChunk = t.udpChunk[1:]
			return f
		}
		if len(t.tcpChunk) == 0 {
			t.tcpChunk = make([]tcpFlow, firstFlowChunk<<min(t.tcpChunks, flowChunkDoublings))
			t.tcpChunks++
		}
		tf := &t.tcpChunk[0]
		t.tcpChunk = t.tcpChunk[1:]
		tf.flow.tcp = &tf.tcp
		return &tf.flow
	}
	f := (*free)[n-1]
	*free = (*free)[:n-1]
	c := f.tcp
	*f = flow{tcp: c}
	if c != nil {
		c.reset()
	}
	return f
}

// dirOf returns the direction of a packet whose sender is the key's lo
// endpoint when srcIsLo: 0 from the originator, 1 from the responder.
func (f *flow) dirOf(srcIsLo bool) int {
	if srcIsLo == f.origIsLo {
		return 0
	}
	return 1
}

// endpointAddr returns the key's lo (or hi) address in its own family.
func (f *flow) endpointAddr(lo bool) netip.Addr {
	b := f.key.hi
	if lo {
		b = f.key.lo
	}
	a := netip.AddrFrom16(b)
	if f.ipVersion == 4 {
		a = a.Unmap()
	}
	return a
}

func (f *flow) endpointPort(lo bool) uint16 {
	if lo {
		return f.key.loPort
	}
	return f.key.hiPort
}

// serverSide reports whether a packet from srcPort to dstPort was probably
// sent by the server: only its source port is a likely server port, or both
// are and the source port is the lower (Zeek's rule).
func serverSide(srcPort, dstPort uint16) bool {
	s, d := likelyServerPort(srcPort), likelyServerPort(dstPort)
	if s && d {
		return srcPort < dstPort
	}
	return s
}

// likelyServerPort: the IANA system ports, plus registered ports that
// clusters commonly serve on.
func likelyServerPort(p uint16) bool {
	if p < 1024 {
		return true
	}
	switch p {
	case 1080, 1433, 1521, 1883, 2049, 2181, 2375, 2376, 2379, 2380, 3000, 3128, 3306, 3389,
		4222, 4317, 4318, 4789, 5000, 5044, 5060, 5061, 5432, 5601, 5672, 5900, 6081,
		6379, 6443, 6667, 7000, 7001, 7077, 8000, 8008, 8080, 8081, 8086, 8088, 8443,
		8472, 8500, 8888, 9000, 9042, 9090, 9092, 9093, 9100, 9200, 9300, 9418, 9443,
		10250, 10255, 11211, 15672, 25565, 27017:
		return true
	}
	return false
}

// Flush ends every live flow, oldest activity first, and emits it. It then
// lets go of the finished flows kept for reuse: the rest of a run (the
// report) does not need their memory.
func (t *Table) Flush() {
	if t.fold != nil {
		t.drain(true)
	}
	for {
		var oldest *flow
		for i := range t.lists {
			if h := t.lists[i].head; h != nil && (oldest == nil || h.lastNs < oldest.lastNs) {
				oldest = h
			}
		}
		if oldest == nil {
			break
		}
		t.end(oldest)
	}
	t.freeTCP, t.freeUDP = nil, nil
	t.tcpChunk, t.udpChunk = nil, nil
}

// expire ends the flows idle for longer than their timeout at capture time now.
func (t *Table) expire(now int64) {
	for i := range t.lists {
		for f := t.lists[i].head; f != nil && now-f.lastNs > t.timeout(f); f = t.lists[i].head {
			t.end(f)
		}
	}
}

func (t *Table) evictIdlest() {
	var idlest *flow
	for i := range t.lists {
		if h := t.lists[i].head; h != nil && (idlest == nil || h.lastNs < idlest.lastNs) {
			idlest = h
		}
	}
	if idlest != nil {
		t.evictedEarly++
		t.end(idlest)
	}
}

// end removes f from the table and emits its record.
func (t *Table) end(f *flow) {
	t.lists[f.list].remove(f)
	f.list = listNone
	t.live--
	if f.twin != nil {
		if t.index.get(&f.key, f.hash) == f {
			t.index.replace(f, f.twin)
		}
		f.twin.twin = nil
		f.twin = nil
	} else {
		t.index.remove(f)
	}
	if t.l7 != nil {
		t.l7.end(f)
	}
	t.fill(&t.rec, f)
	if f.vantages > 1 {
		t.dropVantage(f)
	}
	if !t.cfg.DeferStrings {
		t.rec.Complete(&t.strs)
	}
	t.flows++
	t.emit(&t.rec)
	if f.tcp != nil {
		t.freeTCP = append(t.freeTCP, f)
	} else {
		t.freeUDP = append(t.freeUDP, f)
	}
}

func (t *Table) fill(r *Record, f *flow) {
	*r = Record{
		Capture:           t.capture,
		IPVersion:         int32(f.ipVersion),
		SrcIP:             f.endpointAddr(f.origIsLo),
		DstIP:             f.endpointAddr(!f.origIsLo),
		SrcPort:           f.endpointPort(f.origIsLo),
		DstPort:           f.endpointPort(!f.origIsLo),
		TsNs:              f.firstNs,
		EndNs:             f.lastNs,
		DirectionInferred: f.directionInferred,
		OrigPkts:          f.count[0].pkts,
		RespPkts:          f.count[1].pkts,
		OrigBytes:         f.count[0].bytes,
		RespBytes:         f.count[1].bytes,
		OrigIPBytes:       f.count[0].ipBytes,
		RespIPBytes:       f.count[1].ipBytes,
		OrigWireBytes:     f.count[0].wireBytes,
		RespWireBytes:     f.count[1].wireBytes,
	}
	if f.key.vlan >= 0 {
		r.VLAN = Some(int64(f.key.vlan))
	}
	if f.key.tunnel != TunnelNone {
		r.Tunnel = f.key.tunnel.String()
		if f.key.tunnelID >= 0 {
			r.TunnelID = Some(f.key.tunnelID)
		}
	}
	r.Vantages = 1
	if v := t.vantageOf(f); v != nil {
		r.Vantages = 2
		r.DupPkts = v.dupPkts
		r.OrigTransitP50Ns = v.transit[0].p50()
		r.RespTransitP50Ns = v.transit[1].p50()
	}
	r.pending = pendingStrings{todo: true, ordinal: t.ordinal, firstIndex: f.firstIndex, ipProto: f.key.proto, flipped: f.flipped}
	if f.tcp != nil {
		r.Proto = "tcp"
		f.tcp.fill(r)
		return
	}
	r.Proto = "udp"
	r.RTTFirstReply = Opt{V: f.firstReplyNs, Valid: f.firstReplySet}
	switch f.udpHist {
	case 3:
		r.State = "SF"
	case 1:
		r.State = "S0"
	case 2:
		r.State = "SHR"
	default:
		r.State = "OTH"
	}
	p := &r.pending
	if f.udpHist&1 != 0 {
		p.hist[p.histLen] = 'D'
		p.histLen++
	}
	if f.udpHist&2 != 0 {
		p.hist[p.histLen] = 'd'
		p.histLen++
	}
}

// KindCounts returns the packets counted per kind, by name, leaving out
// kinds with no packets. Other IP protocols and other EtherTypes are also
// broken down, as "other-ip:47" and "other-ethertype:0x8847".
func (t *Table) KindCounts() map[string]int64 {
	m := make(map[string]int64)
	for k, n := range t.Kinds {
		if n > 0 {
			m[Kind(k).String()] = n
		}
	}
	for p, n := range t.ipProtos {
		if n > 0 {
			m[fmt.Sprintf("%s:%d", KindOtherIP, p)] = n
		}
	}
	for et, n := range t.etherTypes {
		m[fmt.Sprintf("%s:0x%04x", KindOtherEther, et)] = n
	}
	for name, n := range map[string]int64{"fragments-reassembled": t.frags.reassembled,
		"fragments-timed-out": t.frags.timedOut, "fragments-overlapping": t.frags.overlapping,
		"fragments-dropped": t.frags.dropped} {
		if n > 0 {
			m[name] = n
		}
	}
	if t.unopened > 0 {
		// GRE version 1 (PPTP), GRE carrying PPP or ERSPAN, cut headers, or
		// decapsulation turned off.
		m["tunnel-not-opened"] = t.unopened
	}
	return m
}
