package analyze

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"unsafe"

	"github.com/flowproof/flowproof/internal/prefetch"
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

// maxStoreFlows bounds MaxFlows: live flows have 32-bit ids (0 means none)
// and the index, at most 3/4 full, has at most 2^32 slots.
const maxStoreFlows = 3<<30 - 1

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
	if uint64(c.MaxFlows) > maxStoreFlows {
		c.MaxFlows = min(maxStoreFlows, math.MaxInt) // flow ids are 32 bits; int may be too
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
// (lo sorts before hi), the transport, the outermost VLAN and the tunnel.
type flowKey struct {
	lo, hi         [16]byte // netip.Addr.As16: IPv4 as ::ffff:a.b.c.d
	loPort, hiPort uint16
	vlan           int32
	tunnelID       uint32 // VNI or GRE key (both 32 bits at most), when tunnelIDSet
	proto          uint8
	tunnel         Tunnel
	tunnelIDSet    uint8 // 1 when the tunnel has an id
}

// tunnelIDOf returns the key's tunnel id, -1 for none (as Decoded has it).
func (k *flowKey) tunnelIDOf() int64 {
	if k.tunnelIDSet == 0 {
		return -1
	}
	return int64(k.tunnelID)
}

// dirCount is what one direction of a flow sent, while every count fits 32
// bits; a flow past that keeps wideCounts in Table.wide instead.
type dirCount struct {
	pkts, bytes, ipBytes, wireBytes uint32
}

// wideCount is what one direction of a flow sent.
type wideCount struct {
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

// flow is the hot part of a live flow: what every packet touches. It holds
// no Go pointers (see store.go) and is ordered to pack into 144 bytes, the
// most of a half-open TCP flow's cost: millions can be live at once.
type flow struct {
	key             flowKey
	firstNs, lastNs int64
	firstIndex      int64 // packet index in the capture of the first packet (flow_id)
	count           [2]dirCount
	// aux: for UDP, the first packet from the originator (0 when none
	// yet) and rtt_first_reply (when flFirstReplySet); for a TCP flow
	// without its tcpConn, the first packet (setPending).
	aux        [2]int64
	prev, next flowID // in the list of lists[list]
	tcp        flowID // the TCP state in Table.conns; noFlow before the flow's second packet, and for UDP
	list       uint8
	ipVersion  uint8
	udpHist    uint8 // UDP history bits: 1 orig sent, 2 resp sent
	origIsLo   bool  // the originator is the key's lo endpoint
	fl         uint8 // flDirInferred ...
	// origins has bit i set when the flow had a packet, or a folded copy
	// of one, from capture i+1 of a merged stream (originBit).
	origins uint16
	// twin is the other connection live on the same 5-tuple (a synthetic
	// twin pair, both with their TCP state), noFlow when none. Here rather
	// than in tcpConn: every TCP packet asks, and the flow's lines are
	// loaded anyway.
	twin flowID
}

// MaxOrigins is how many captures of a merged stream a flow's Origins
// can tell apart; packets of later ones are analyzed, but not marked.
const MaxOrigins = 16

// originBit is the bit of flow.origins for a Decoded.Origin (0 for none).
func originBit(origin uint8) uint16 {
	if origin == 0 || origin > MaxOrigins {
		return 0
	}
	return 1 << (origin - 1)
}

// Bits of flow.fl.
const (
	flDirInferred   = 1 << iota // direction_inferred
	flFlipped                   // the first packet's sender was judged the responder
	flFirstReplySet             // UDP: aux[1] holds rtt_first_reply
	flVantages                  // a copy of one of its packets was folded (its state is in Table.vant)
	flWide                      // its counters are in Table.wide
	flTCP                       // a TCP flow (it has or will have a tcpConn)
	flL7Seen                    // its L7 state (l7Hook) is its own: set at its first payload packet
	flL7Live                    // its L7 state holds an L7Flow
)

// UDP's use of flow.aux.
const (
	auxFirstOrig  = 0
	auxFirstReply = 1
)

// A TCP flow's state (tcpConn, 416 bytes) is allocated at its second
// packet: until then the flow keeps its first packet in aux, and the table
// replays it into the state when the state is needed. Most flows of a SYN
// flood or a scan never get a second packet. A first packet that does not
// fit (payload of 4 GiB or more) gets the state at once.
//
// aux[0] is seq<<32 | ack; aux[1] is payload<<32 | window<<16 | flags<<8 |
// dir<<1 | 1 (0: no packet waiting, as after a bad TCP header). The time is
// the flow's firstNs: nothing else has changed it before the second packet.
func (f *flow) setPending(dir int, d *Decoded) bool {
	if d.Payload < 0 || d.Payload > 1<<32-1 {
		return false
	}
	f.aux[0] = int64(uint64(d.Seq)<<32 | uint64(d.Ack))
	f.aux[1] = int64(uint64(d.Payload)<<32 | uint64(d.Window)<<16 | uint64(d.Flags)<<8 | uint64(dir)<<1 | 1)
	return true
}

// eagerTCPState gives every TCP flow its state at the first packet: the
// tests' referee for the waiting first packet (export_test.go).
var eagerTCPState = false

// pending returns the waiting first packet into d and its direction, or
// false when none waits.
func (f *flow) pending(d *Decoded) (int, bool) {
	a, b := uint64(f.aux[0]), uint64(f.aux[1])
	if b == 0 {
		return 0, false
	}
	// Field by field: a composite literal is built on the stack and copied,
	// and reading back its just-written bytes in wider words stalls.
	*d = Decoded{}
	d.Kind, d.TsNs = KindTCP, f.firstNs
	d.Seq, d.Ack = uint32(a>>32), uint32(a)
	d.Payload, d.Window, d.Flags = int64(b>>32), uint16(b>>16), uint8(b>>8)
	return int(b>>1) & 1, true
}

type flowList struct{ head, tail flowID }

// link puts flow id at the back of list l.
func (t *Table) link(id flowID, f *flow, l uint8) {
	list := &t.lists[l]
	f.list, f.prev, f.next = l, list.tail, noFlow
	if list.tail != noFlow {
		t.store.at(list.tail).next = id
	} else {
		list.head = id
	}
	list.tail = id
}

// unlink takes f out of its list.
func (t *Table) unlink(f *flow) {
	list := &t.lists[f.list]
	if f.prev != noFlow {
		t.store.at(f.prev).next = f.next
	} else {
		list.head = f.next
	}
	if f.next != noFlow {
		t.store.at(f.next).prev = f.prev
	} else {
		list.tail = f.prev
	}
	f.prev, f.next = noFlow, noFlow
}

// Table rebuilds flows from decoded packets of one capture. It is not safe
// for concurrent use. Finished flows go to the emit function given to
// NewTable, in the order they end; the *Record is reused after emit returns
// (or is the one SetRecordSlot's function returned).
type Table struct {
	cfg      Config
	capture  string
	ordinal  int
	index    *flowIndex
	lists    [numLists]flowList
	store    flowStore                // the live flows, and finished ones for reuse
	conns    slabStore[tcpConn]       // TCP state of the flows that have it (flow.tcp)
	wide     map[flowID]*[2]wideCount // counters of the flows past 32 bits
	scratch  tcpConn                  // TCP state of a flow ending with its first packet only
	replay   Decoded                  // a flow's first packet, replayed into its TCP state
	live     int                      // flows in the table, twins included
	flushing bool                     // Flush is ending every flow
	emit     func(*Record)
	slot     func() *Record // where to build the next record (SetRecordSlot); nil: rec
	rec      Record
	strs     Completer
	nowNs    int64 // latest packet time seen
	sweepNs  int64 // capture time of the last idle sweep

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
	vant     map[flowID]*vantage // state of the flows with two vantage points
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
	// not folded: each stays counted. Only records compared one by one are
	// looked at: those of the delay line (a capture's first window, and the
	// rest of a capture that held copies), not the detect table's (doc.go).
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
		etherTypes: make(map[uint16]int64),
		emit:       emit,
		l7:         newL7Hook(cfg.L7, ordinal),
	}
	t.index = newFlowIndex(&t.store)
	if !cfg.NoDedup {
		t.fold = newFolder(t.cfg)
	}
	return t
}

// SetRecordSlot makes the table build each finished flow's record in the
// one slot returns, called just before, and give emit that record instead
// of one of its own: a receiver that keeps records (in a batch for another
// goroutine) then needs no copy of them. slot must return a record the
// table may overwrite whole; nil goes back to the table's own record.
func (t *Table) SetRecordSlot(slot func() *Record) { t.slot = slot }

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
	if f := t.fold; f != nil {
		// While folder.quick, detect's common case is done here: a record
		// whose TTL is the last one seen between its addresses is written
		// to the detect table and counted.
		switch x := f.quick; {
		case x == nil:
			t.foldAdd(d, index, payload)
			return
		case d.Fold == 0:
		case x.lastTTL[d.foldPair&(1<<pairBits-1)] != d.TTL:
			t.foldAdd(d, index, payload)
			return
		default:
			x.put(d.Fold, d.TTL, d.TsNs) // folder.now stays behind: foldAdd catches up from nowNs
		}
	}
	t.nowNs = max(t.nowNs, d.TsNs)
	t.add(d, index, payload)
}

// prefetching reports whether the index is too large for the CPU's caches,
// so that starting to load a packet's index slot ahead of it pays (a SYN
// flood: a new flow's lookup is a cache miss).
func (t *Table) prefetching() bool { return len(t.index.slots) >= prefetchMin }

// prefetchFlow starts loading the index slot that d, a packet to come, will
// look up.
func (t *Table) prefetchFlow(d *Decoded) {
	if d.Kind != KindTCP && d.Kind != KindUDP {
		return
	}
	var key flowKey
	keyOf(d, &key)
	t.index.prefetch(t.index.hash(&key))
}

// keyOf sets *key to the flow key of a TCP or UDP packet and reports
// whether its sender is the key's lo endpoint.
func keyOf(d *Decoded, key *flowKey) bool {
	*key = flowKey{vlan: d.VLAN, proto: d.IPProto, tunnel: d.Tunnel}
	if d.TunnelID >= 0 {
		key.tunnelID, key.tunnelIDSet = uint32(d.TunnelID), 1
	}
	// The addresses go through 64-bit words: copying As16's array whole
	// would read 16 bytes just written as two 8-byte halves, which the CPU
	// cannot forward from its store buffer (a stall per packet).
	var sh, sl, dh, dl uint64
	if d.Src.Is4() && d.Dst.Is4() {
		// Not addrWords, which does not inline: two calls of it cost more
		// than the rest of keyOf.
		sl, dl = addr4Word(d.Src), addr4Word(d.Dst)
	} else {
		sh, sl = addrWords(d.Src)
		dh, dl = addrWords(d.Dst)
	}
	sp, dp := d.SrcPort, d.DstPort
	srcIsLo := endpointLE(sh, sl, sp, dh, dl, dp)
	if !srcIsLo {
		sh, sl, sp, dh, dl, dp = dh, dl, dp, sh, sl, sp
	}
	be := binary.BigEndian
	be.PutUint64(key.lo[:8], sh)
	be.PutUint64(key.lo[8:], sl)
	be.PutUint64(key.hi[:8], dh)
	be.PutUint64(key.hi[8:], dl)
	key.loPort, key.hiPort = sp, dp
	return srcIsLo
}

// addrWords returns a's 16-byte form (netip.Addr.As16: IPv4 as
// ::ffff:a.b.c.d) as two big-endian words.
func addrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		return 0, addr4Word(a)
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// addr4Word is addrWords' low word of IPv4 address a (IPv4-mapped); small
// enough to inline, where addrWords is not.
func addr4Word(a netip.Addr) uint64 {
	v := a.As4()
	return 0xffff<<32 | uint64(binary.BigEndian.Uint32(v[:]))
}

// add counts one TCP or UDP packet in its flow and returns the flow and the
// packet's direction in it.
func (t *Table) add(d *Decoded, index int64, payload []byte) (flowID, *flow, int) {
	if t.nowNs-t.sweepNs >= 1e9 {
		t.expire(t.nowNs)
		t.sweepNs = t.nowNs
	}

	var key flowKey
	srcIsLo := keyOf(d, &key)
	h := t.index.hash(&key)

	id := t.index.get(&key, h)
	indexed := id != noFlow // the index held the key (newFlow looks again only then)
	var f *flow
	if id != noFlow {
		f = t.store.at(id)
		if d.Kind == KindTCP {
			if f.tcp == noFlow {
				t.conn(f) // the flow's second packet: its TCP state is needed now
			}
			if f.twin != noFlow {
				id = t.route(id, srcIsLo, d)
				f = t.store.at(id)
			}
		}
		if d.TsNs-f.lastNs > t.timeout(f) {
			t.end(id)
			id, f = noFlow, nil
		}
	}
	twinOf := noFlow
	if f != nil && d.Kind == KindTCP && !d.BadHeader {
		if c := t.conns.at(f.tcp); c.startsNewConnection(f.dirOf(srcIsLo), d) {
			if f.twin == noFlow && !c.closed() && syntheticStart(d.Seq) != syntheticStart(c.d[f.dirOf(srcIsLo)].baseSeq) {
				// A connection and its synthetic plaintext twin share the 5-tuple:
				// keep both live, apart (design.md: TLS plaintext in Kubeshark captures).
				twinOf = id
			} else {
				t.end(id)
			}
			id, f = noFlow, nil
		}
	}
	if f == nil {
		if t.live >= t.cfg.MaxFlows {
			t.evictIdlest()
			if twinOf != noFlow && t.store.at(twinOf).list == listNone {
				twinOf = noFlow // the eviction ended it
			}
		}
		id, f = t.newFlow(key, h, srcIsLo, d, index, twinOf, indexed)
	}

	f.origins |= originBit(d.Origin)
	dir := f.dirOf(srcIsLo)
	if c := &f.count[dir]; !c.add(f, d) {
		t.count(id, f, dir, 1, d.Payload, d.IPLen, d.WireLen)
	}
	if d.TsNs > f.lastNs {
		f.lastNs = d.TsNs
	}
	if d.TsNs < f.firstNs {
		f.firstNs = d.TsNs
	}

	list := uint8(listUDP)
	if d.Kind == KindTCP {
		closed := false
		switch {
		case d.BadHeader:
			t.badTCPHeaders++
			if f.tcp != noFlow {
				closed = t.conns.at(f.tcp).closed()
			}
		case f.tcp != noFlow:
			c := t.conns.at(f.tcp)
			c.add(dir, d)
			closed = c.closed()
		case !eagerTCPState && f.setPending(dir, d):
			// A new flow: its first packet waits (see setPending).
			closed = d.Flags&flagRST != 0
		default:
			c := t.conn(f)
			c.add(dir, d)
			closed = c.closed()
		}
		list = listTCPOpen
		if closed {
			list = listTCPClosed
		}
	} else {
		f.udpHist |= 1 << dir
		if dir == 0 && f.aux[auxFirstOrig] == 0 {
			f.aux[auxFirstOrig] = d.TsNs
		}
		if dir == 1 && f.aux[auxFirstOrig] != 0 && f.fl&flFirstReplySet == 0 && t.pkts(id, f, 1) == 1 {
			f.aux[auxFirstReply] = d.TsNs - f.aux[auxFirstOrig]
			f.fl |= flFirstReplySet
		}
	}
	if t.l7 != nil {
		t.l7.packet(t, id, f, dir, d, payload)
	}
	// Move to the back of its list: lists stay ordered by last activity.
	if list != f.list || t.lists[list].tail != id {
		t.unlink(f)
		t.link(id, f, list)
	}
	return id, f, dir
}

// conn returns the TCP state of f, a TCP flow, allocating it (and replaying
// the flow's first packet into it) when the flow has none yet.
func (t *Table) conn(f *flow) *tcpConn {
	if f.tcp != noFlow {
		return t.conns.at(f.tcp)
	}
	id, reused := t.conns.alloc()
	c := t.conns.at(id)
	if reused {
		c.reset()
	}
	f.tcp = id
	if dir, ok := f.pending(&t.replay); ok {
		c.add(dir, &t.replay)
	}
	f.aux = [2]int64{}
	return c
}

// add counts packet d in c, a direction of f, and reports whether it
// could: false when f's counters are wide or would pass 32 bits (then
// Table.count does it). The per-packet path, small enough to be inlined.
func (c *dirCount) add(f *flow, d *Decoded) bool {
	b, i, w := uint64(c.bytes)+uint64(d.Payload), uint64(c.ipBytes)+uint64(d.IPLen), uint64(c.wireBytes)+uint64(d.WireLen)
	if f.fl&flWide != 0 || c.pkts == 1<<32-1 || (b|i|w) > 1<<32-1 {
		return false
	}
	c.pkts++
	c.bytes, c.ipBytes, c.wireBytes = uint32(b), uint32(i), uint32(w)
	return true
}

// count adds counts to direction dir of flow id.
func (t *Table) count(id flowID, f *flow, dir int, pkts, bytes, ipBytes, wireBytes int64) {
	c := &f.count[dir]
	p, b := int64(c.pkts)+pkts, int64(c.bytes)+bytes
	i, w := int64(c.ipBytes)+ipBytes, int64(c.wireBytes)+wireBytes
	if f.fl&flWide == 0 && uint64(p|b|i|w) <= 1<<32-1 {
		c.pkts, c.bytes, c.ipBytes, c.wireBytes = uint32(p), uint32(b), uint32(i), uint32(w)
		return
	}
	wc := t.wideOf(id, f)
	wc[dir].pkts += pkts
	wc[dir].bytes += bytes
	wc[dir].ipBytes += ipBytes
	wc[dir].wireBytes += wireBytes
}

// wideOf moves f's counters to Table.wide, if they are not there yet, and
// returns them.
func (t *Table) wideOf(id flowID, f *flow) *[2]wideCount {
	if f.fl&flWide != 0 {
		return t.wide[id]
	}
	if t.wide == nil {
		t.wide = make(map[flowID]*[2]wideCount)
	}
	wc := new([2]wideCount)
	for dir, c := range f.count {
		wc[dir] = wideCount{int64(c.pkts), int64(c.bytes), int64(c.ipBytes), int64(c.wireBytes)}
	}
	f.count = [2]dirCount{}
	f.fl |= flWide
	t.wide[id] = wc
	return wc
}

// pkts returns the packets direction dir of flow id sent.
func (t *Table) pkts(id flowID, f *flow, dir int) int64 {
	if f.fl&flWide != 0 {
		return t.wide[id][dir].pkts
	}
	return int64(f.count[dir].pkts)
}

// endpointLE reports whether endpoint a (address words of addrWords, port)
// sorts before or equal to endpoint b: address bytes, then port. For two
// addresses of one family (the source and destination of one IP header)
// without zones, it is netip.AddrPort.Compare <= 0, in two word comparisons.
func endpointLE(ah, al uint64, aPort uint16, bh, bl uint64, bPort uint16) bool {
	if ah != bh {
		return ah < bh
	}
	if al != bl {
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

// route picks, of flow id and its twin, the one whose sequence spaces the
// packet fits: its seq near the sender's next expected sequence number, its
// ack near the receiver's. Unknown spaces neither fit nor miss; a tie goes to
// id, the flow first seen. Both flows of a twin pair have their TCP state.
func (t *Table) route(id flowID, srcIsLo bool, d *Decoded) flowID {
	f := t.store.at(id)
	tw := f.twin
	if t.fit(t.store.at(tw), srcIsLo, d) > t.fit(f, srcIsLo, d) {
		return tw
	}
	return id
}

// fitWindow is how far (in sequence numbers) a packet may be from a flow's
// expected sequence numbers and still fit it.
const fitWindow = 1 << 24

func (t *Table) fit(f *flow, srcIsLo bool, d *Decoded) int {
	dir := f.dirOf(srcIsLo)
	c := t.conns.at(f.tcp)
	fwd, rev := &c.d[dir], &c.d[1-dir]
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

// newFlow starts a flow with packet d. indexed says whether the index held
// key before d (when not, nothing can have put it there since: the index is
// not searched again).
func (t *Table) newFlow(key flowKey, h uint64, srcIsLo bool, d *Decoded, index int64, twinOf flowID, indexed bool) (flowID, *flow) {
	id, reused := t.store.alloc()
	f := t.store.at(id)
	if reused {
		*f = flow{}
	}
	f.key = key
	f.firstNs, f.lastNs = d.TsNs, d.TsNs
	f.firstIndex = index
	f.ipVersion = d.IPVersion
	f.origIsLo = srcIsLo
	list := uint8(listUDP)
	if d.Kind == KindTCP {
		switch {
		case d.Flags&(flagSYN|flagACK) == flagSYN:
			// The sender of a SYN is the originator.
		case d.Flags&(flagSYN|flagACK) == flagSYN|flagACK:
			// A SYN/ACK answers the originator.
			f.origIsLo = !srcIsLo
			f.fl |= flDirInferred | flFlipped
		default:
			f.fl |= flDirInferred
			if serverSide(d.SrcPort, d.DstPort) {
				f.origIsLo = !srcIsLo
				f.fl |= flFlipped
			}
		}
		list = listTCPOpen
		f.fl |= flTCP
	} else if serverSide(d.SrcPort, d.DstPort) {
		f.origIsLo = !srcIsLo
		f.fl |= flDirInferred | flFlipped
	}
	t.live++
	t.link(id, f, list)
	old := noFlow
	if indexed {
		old = t.index.get(&key, h)
	}
	switch {
	case twinOf != noFlow:
		t.conn(f)
		f.twin, t.store.at(twinOf).twin = twinOf, id
	case old != noFlow:
		// Another connection still lives on this 5-tuple (one of a twin
		// pair): pair the new one with it.
		o := t.store.at(old)
		if tw := o.twin; tw != noFlow {
			t.end(tw)
		}
		t.conn(f)
		t.conn(o)
		f.twin, o.twin = old, id
	default:
		t.index.put(id, h)
	}
	return id, f
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
// lets go of the flow store: the rest of a run (the report) does not need
// its memory.
func (t *Table) Flush() {
	if t.fold != nil {
		t.drain(true)
	}
	t.flushing = true
	for {
		oldest := t.idlest()
		if oldest == noFlow {
			break
		}
		t.end(oldest)
	}
	t.flushing = false
	t.store.reset()
	t.conns.reset()
	t.index.reset()
	if t.l7 != nil {
		t.l7.states.reset() // every state is zero: each flow has ended
	}
}

// idlest returns the live flow idle the longest, noFlow when none.
func (t *Table) idlest() flowID {
	idlest, idlestNs := noFlow, int64(0)
	for i := range t.lists {
		if h := t.lists[i].head; h != noFlow {
			if ns := t.store.at(h).lastNs; idlest == noFlow || ns < idlestNs {
				idlest, idlestNs = h, ns
			}
		}
	}
	return idlest
}

// expire ends the flows idle for longer than their timeout at capture time now.
func (t *Table) expire(now int64) {
	for i := range t.lists {
		for h := t.lists[i].head; h != noFlow && now-t.store.at(h).lastNs > t.timeout(t.store.at(h)); h = t.lists[i].head {
			// The flows a sweep ends have been idle for seconds: none of
			// their lines is cached. Start loading the next one's TCP state
			// and index slot, and the flow after it (whose line the next
			// round reads), while this one ends, so that the misses overlap.
			if n := t.store.at(h).next; n != noFlow {
				nf := t.store.at(n)
				if nf.tcp != noFlow {
					prefetch.Write(unsafe.Pointer(t.conns.at(nf.tcp)), unsafe.Sizeof(tcpConn{}))
				}
				t.index.prefetch(t.index.hash(&nf.key)) // its removal searches there
				if nn := nf.next; nn != noFlow {
					prefetch.Write(unsafe.Pointer(t.store.at(nn)), unsafe.Sizeof(flow{}))
				}
			}
			t.end(h)
		}
	}
}

func (t *Table) evictIdlest() {
	if idlest := t.idlest(); idlest != noFlow {
		t.evictedEarly++
		t.end(idlest)
	}
	// A full table ends a flow for each new one: start loading the index
	// slot of the next to go, which end will look for.
	if next := t.idlest(); next != noFlow && len(t.index.slots) >= prefetchMin {
		t.index.prefetch(t.index.hash(&t.store.at(next).key))
	}
}

// end removes flow id from the table and emits its record.
func (t *Table) end(id flowID) {
	f := t.store.at(id)
	if f.tcp != noFlow {
		// fill reads the whole TCP state, likely cold: its lines load
		// together, meanwhile.
		prefetch.Write(unsafe.Pointer(t.conns.at(f.tcp)), unsafe.Sizeof(tcpConn{}))
	}
	t.unlink(f)
	f.list = listNone
	t.live--
	// While Flush ends every flow the index is not kept up to date: it is
	// dropped whole after (a removal per flow cost 8% of the SYN flood's
	// time, most of it cache misses on the chains).
	if tw := f.twin; tw != noFlow {
		if !t.flushing && t.index.get(&f.key, t.index.hash(&f.key)) == id {
			t.index.replace(id, tw)
		}
		t.store.at(tw).twin = noFlow
		f.twin = noFlow
	} else if !t.flushing {
		t.index.remove(id)
	}
	if t.l7 != nil && f.fl&flL7Live != 0 {
		t.l7.end(id)
	}
	r := &t.rec
	if t.slot != nil {
		r = t.slot()
	}
	t.fill(r, id, f)
	if f.fl&flVantages != 0 {
		t.dropVantage(id)
	}
	if f.fl&flWide != 0 {
		delete(t.wide, id)
	}
	if !t.cfg.DeferStrings {
		r.Complete(&t.strs)
	}
	t.flows++
	t.emit(r)
	if t.slot != nil {
		// The next record's slot was last written by the receiver, on
		// another core: take its lines now rather than stall on them
		// while filling it.
		prefetch.Write(unsafe.Pointer(t.slot()), unsafe.Sizeof(Record{}))
	}
	if t.flushing {
		return // Flush lets go of the stores whole: no ids to reuse
	}
	if f.tcp != noFlow {
		t.conns.release(f.tcp)
	}
	t.store.release(id)
}

func (t *Table) fill(r *Record, id flowID, f *flow) {
	// Cleared, then set field by field: a composite literal is built on
	// the stack and copied (832 bytes, and a stall reading back its
	// just-written bytes in wider words).
	*r = Record{}
	r.Capture = t.capture
	r.IPVersion = int32(f.ipVersion)
	r.SrcIP = f.endpointAddr(f.origIsLo)
	r.DstIP = f.endpointAddr(!f.origIsLo)
	r.SrcPort = f.endpointPort(f.origIsLo)
	r.DstPort = f.endpointPort(!f.origIsLo)
	r.TsNs, r.EndNs = f.firstNs, f.lastNs
	r.DirectionInferred = f.fl&flDirInferred != 0
	if f.fl&flWide != 0 {
		n := t.wide[id]
		r.OrigPkts, r.RespPkts = n[0].pkts, n[1].pkts
		r.OrigBytes, r.RespBytes = n[0].bytes, n[1].bytes
		r.OrigIPBytes, r.RespIPBytes = n[0].ipBytes, n[1].ipBytes
		r.OrigWireBytes, r.RespWireBytes = n[0].wireBytes, n[1].wireBytes
	} else {
		n := &f.count
		r.OrigPkts, r.RespPkts = int64(n[0].pkts), int64(n[1].pkts)
		r.OrigBytes, r.RespBytes = int64(n[0].bytes), int64(n[1].bytes)
		r.OrigIPBytes, r.RespIPBytes = int64(n[0].ipBytes), int64(n[1].ipBytes)
		r.OrigWireBytes, r.RespWireBytes = int64(n[0].wireBytes), int64(n[1].wireBytes)
	}
	if f.key.vlan >= 0 {
		r.VLAN = Some(int64(f.key.vlan))
	}
	if f.key.tunnel != TunnelNone {
		r.Tunnel = f.key.tunnel.String()
		if f.key.tunnelIDSet != 0 {
			r.TunnelID = Some(int64(f.key.tunnelID))
		}
	}
	r.Origins = f.origins
	r.Vantages = 1
	if v := t.vantageOf(id, f); v != nil {
		r.Vantages = 2
		r.DupPkts = v.dupPkts
		r.OrigTransitP50Ns = v.transit[0].p50()
		r.RespTransitP50Ns = v.transit[1].p50()
	}
	p := &r.pending // zero, as r was cleared
	p.todo, p.ordinal, p.firstIndex = true, t.ordinal, f.firstIndex
	p.ipProto, p.flipped = f.key.proto, f.fl&flFlipped != 0
	if f.fl&flTCP != 0 {
		r.Proto = "tcp"
		if f.tcp != noFlow {
			t.conns.at(f.tcp).fill(r)
			return
		}
		// A flow of one packet (or of bad headers only): its TCP state
		// is made here, for the record alone.
		c := &t.scratch
		c.reset()
		if dir, ok := f.pending(&t.replay); ok {
			c.add(dir, &t.replay)
		}
		c.fill(r)
		return
	}
	r.Proto = "udp"
	r.RTTFirstReply = Opt{V: f.aux[auxFirstReply], Valid: f.fl&flFirstReplySet != 0}
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
