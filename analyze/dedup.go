package analyze

import "net/netip"

// Folding vantage copies: see "Vantage copies" in the package documentation.

// Defaults of the folding state.
const (
	// DefaultDupWindowNs is how far apart in capture time two records of
	// one packet may be. Kubeshark's copies on one node are microseconds
	// apart; across nodes they also differ by the clock offset between the
	// nodes, a few milliseconds at most with NTP or chrony. 10 ms covers
	// that with room, and stays below Linux's minimum retransmission
	// timeout (200 ms) and any resolver's retry interval, so a timed-out
	// resend never falls inside it; faster repeats (fast retransmissions)
	// are told apart by TTL.
	DefaultDupWindowNs = 10_000_000
	// DefaultMaxDupEntries caps the records remembered for folding, and
	// those waiting in the delay line: 64 Ki records cover the window at
	// 6.5 million packets a second. A remembered record takes 88 bytes
	// with its index slots, a waiting one 168, a GSO range 48: 19.5 MiB at
	// most.
	DefaultMaxDupEntries = 1 << 16
)

// firstFoldEntries is the size the folding state starts at; it doubles up
// to MaxDupEntries while the window holds more records.
const firstFoldEntries = 1 << 8

// foldBucket is how many index slots one fingerprint may land in (one
// cache line), and foldSpread how many slots the index has per record: at
// most one record per bucket on average, so that a full bucket, which
// loses a record to folding, is rare.
const (
	foldBucket = 8
	foldSpread = 8
)

// foldEntry is a record remembered for folding: no Go pointers, so the
// collector never scans the ring.
type foldEntry struct {
	key    uint64
	ts     int64
	buf    uint32 // 1 + the record's number in the delay line while it waits there
	ttl    uint8
	paired bool // its copy was seen: later matches are repeats
}

// waiting is a record in the delay line: the fields of a Decoded the
// table needs, without pointers, and what folding found about it.
type waiting struct {
	src, dst         [16]byte
	ts               int64 // the time it is counted at: its preferred copy's
	wireLen, ipLen   int64
	payload          int64
	tunnelID, index  int64
	now              int64 // the latest time seen when it arrived: the table's clock when it is counted
	transit          int64 // receiver copy's time minus sender copy's, when paired
	extraIP          int64 // header bytes of GSO segments folded into it beyond the first
	extraWire        int64
	extraPkts        int32
	dups             int32  // records folded into it
	origins          uint16 // originBit of it and of the records folded into it
	order            uint32 // the arrival number of its preferred copy: the heap's order
	heapPos          int32
	seq, ack         uint32
	vlan             int32
	gsoCovered       uint32 // payload bytes of it seen as GSO segments at the other vantage point
	srcPort, dstPort uint16
	window           uint16
	kind             Kind
	ipProto          uint8
	ipVersion        uint8
	flags, ttl       uint8
	tunnel           Tunnel
	badHeader, done  bool
	paired           bool
	marked           bool // an openMark of its connection: forgotten as it is counted
	// pl is a copy of the record's payload, for the L7 hook (Config.L7):
	// the capture's buffer is reused before the record leaves the line.
	// Its capacity stays with the slot, from one record to the next.
	pl []byte
}

func (w *waiting) set(d *Decoded, index int64) {
	pl := w.pl[:0]
	*w = waiting{pl: pl, src: d.Src.As16(), dst: d.Dst.As16(), ts: d.TsNs, wireLen: d.WireLen, ipLen: d.IPLen,
		payload: d.Payload, tunnelID: d.TunnelID, index: index, seq: d.Seq, ack: d.Ack,
		vlan: d.VLAN, srcPort: d.SrcPort, dstPort: d.DstPort, window: d.Window, kind: d.Kind,
		ipProto: d.IPProto, ipVersion: d.IPVersion, flags: d.Flags, ttl: d.TTL, tunnel: d.Tunnel,
		badHeader: d.BadHeader, origins: originBit(d.Origin)}
}

func (w *waiting) decoded(d *Decoded) {
	src, dst := netip.AddrFrom16(w.src), netip.AddrFrom16(w.dst)
	if w.ipVersion == 4 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	*d = Decoded{Kind: w.kind, IPProto: w.ipProto, TsNs: w.ts, WireLen: w.wireLen, VLAN: w.vlan,
		IPVersion: w.ipVersion, Src: src, Dst: dst, SrcPort: w.srcPort, DstPort: w.dstPort, IPLen: w.ipLen,
		Payload: w.payload, Seq: w.seq, Ack: w.ack, Flags: w.flags, Window: w.window, BadHeader: w.badHeader,
		Tunnel: w.tunnel, TunnelID: w.tunnelID, TTL: w.ttl}
}

// folder is a table's folding state: a ring of recent records in arrival
// order, an index over it by fingerprint, the delay line, and the tables
// GSO matching and first-copy detection look in.
type folder struct {
	scratch    Decoded // countWaiting's record
	window     int64
	maxEntries int
	sameTTL    bool        // Config.DupSameTTL
	ring       []foldEntry // len is a power of two
	head, n    int
	slots      []uint64 // fingerprint tag << 32 | 1 + ring position; buckets of foldBucket
	// The delay line: records numbered in arrival order, line[n mod
	// len(line)] for lineHead <= n < lineTail, and a min-heap of their
	// numbers by the arrival of the copy each is counted as.
	line               []waiting
	lineHead, lineTail uint32
	heap               []uint32
	arrivals           uint32 // records seen while buffering, numbering their arrival
	now                int64  // the latest record time seen
	// buffering: records go through the delay line. It is on for the
	// first probeNs or probeRecords of a capture and stays on once a copy
	// was folded.
	buffering bool
	started   bool
	folded    bool
	probeEnd  int64
	gso       []gsoRange   // gsoBuckets * gsoWays, made on first use
	recent    *detectTable // while the delay line is off
	// opens remembers, by flow hash, the connection openings (SYN, SYN-ACK)
	// waiting in the delay line: until one is counted its flow does not
	// exist, and the direction of the connection's other records is the
	// opening's, not a guess from their ports (dirOfRecord). An entry
	// leaves when its opening is counted; at most one per waiting record.
	opens map[uint64]openMark
	// quick is recent while the delay line is off and TTLs gate the
	// detect table (not Config.DupSameTTL), else nil: Table.AddPayload then
	// takes detect's common case itself.
	quick *detectTable
}

// openMark is a connection opening waiting in the delay line: its time,
// whether the originator is its flow key's lo side, and what said so: a SYN
// without ACK (markSYN), a SYN-ACK (markSYNACK), or the rules a new flow
// applies, for the first record of a connection without an opening folded
// while no flow existed (markRules).
type openMark struct {
	ts     int64
	origLo bool
	rank   uint8
}

// What an openMark comes from, the stronger last.
const (
	markRules = iota
	markSYNACK
	markSYN
)

// markOpen remembers d, a SYN or SYN-ACK going into the delay line, or
// forgets it as it is counted (counted).
func (t *Table) markOpen(d *Decoded, counted bool) {
	f := t.fold
	var key flowKey
	srcIsLo := keyOf(d, &key)
	h := t.index.hash(&key)
	if counted {
		delete(f.opens, h)
		return
	}
	if f.opens == nil {
		f.opens = make(map[uint64]openMark)
	}
	syn := d.Flags&flagACK == 0
	rank := uint8(markSYNACK)
	if syn {
		rank = markSYN
	}
	// The first opening within the window tells, a SYN rather than a
	// SYN-ACK: a later SYN-ACK can come from the originator (a SYN-ACK
	// answering the SYN-ACK, as in arkime/tcp_handshake_synthetic.pcap),
	// where the table, counting after the SYN, makes it an 'H'.
	if m, ok := f.opens[h]; ok && abs(d.TsNs-m.ts) <= f.window && m.rank >= rank {
		return
	}
	f.opens[h] = openMark{ts: d.TsNs, origLo: srcIsLo == syn, rank: rank}
}

func newFolder(cfg Config) *folder {
	return &folder{window: cfg.DupWindowNs, maxEntries: cfg.MaxDupEntries, sameTTL: cfg.DupSameTTL}
}

// lookup returns the record a new record (fingerprint key, time ts, TTL
// ttl) is a copy of: among the unpaired records with that fingerprint and
// another TTL (any TTL with Config.DupSameTTL) within the window, the
// oldest (a path is first in, first out: the n-th repeat of a packet at one
// vantage point pairs with the n-th at the other). same reports an
// unpaired one with the same TTL, not taken.
func (f *folder) lookup(key uint64, ts int64, ttl uint8) (copyOf *foldEntry, same bool) {
	b := f.bucket(key)
	tag := key &^ 0xffffffff
	for _, s := range f.slots[b : b+foldBucket] {
		if s&^0xffffffff != tag || s == 0 {
			continue
		}
		e := &f.ring[uint32(s)-1]
		if e.key != key || e.paired || abs(ts-e.ts) > f.window {
			continue
		}
		if e.ttl == ttl && !f.sameTTL {
			same = true
		} else if copyOf == nil || e.ts < copyOf.ts {
			copyOf = e
		}
	}
	return copyOf, same
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func (f *folder) bucket(key uint64) int {
	return int(key>>8) & (len(f.slots) - 1) &^ (foldBucket - 1) // the low byte is constant
}

// insert remembers a record and returns it. When the ring is full of
// records still inside the window it grows, up to maxEntries; beyond, the
// oldest is forgotten and capped counts it.
func (f *folder) insert(key uint64, ts int64, ttl uint8, now int64, capped *int64) *foldEntry {
	if f.n == len(f.ring) {
		oldest := &f.ring[f.head]
		switch {
		case now-oldest.ts <= f.window && len(f.ring) < f.maxEntries:
			f.grow()
		case now-oldest.ts <= f.window:
			*capped++
			fallthrough
		default:
			f.head = (f.head + 1) & (len(f.ring) - 1)
			f.n--
		}
	}
	pos := (f.head + f.n) & (len(f.ring) - 1)
	f.n++
	e := &f.ring[pos]
	*e = foldEntry{key: key, ts: ts, ttl: ttl}
	f.index(pos, now, capped)
	return e
}

// index puts ring position pos into its bucket: in a free or stale slot
// (its record gone from the ring, out of the window, or paired), else over
// the oldest record, which can then no longer be matched (capped counts it).
func (f *folder) index(pos int, now int64, capped *int64) {
	e := &f.ring[pos]
	b := f.bucket(e.key)
	victim, victimTs, live := -1, int64(0), true
	for i := b; i < b+foldBucket; i++ {
		s := f.slots[i]
		if s == 0 || int(uint32(s)-1) == pos {
			victim, live = i, false
			break
		}
		o := &f.ring[uint32(s)-1]
		if o.key&^0xffffffff != s&^0xffffffff || f.bucket(o.key) != b || o.paired || now-o.ts > f.window {
			victim, live = i, false
			break
		}
		if victim < 0 || o.ts < victimTs {
			victim, victimTs = i, o.ts
		}
	}
	if live {
		*capped++
	}
	f.slots[victim] = e.key&^0xffffffff | uint64(pos+1)
}

func (f *folder) grow() {
	old, head, n := f.ring, f.head, f.n
	f.ring = make([]foldEntry, 2*len(old))
	f.slots = make([]uint64, foldSpread*len(f.ring))
	f.head, f.n = 0, n
	for i := range n {
		f.ring[i] = old[(head+i)&(len(old)-1)]
	}
	var none int64
	for i := range n {
		f.index(i, f.ring[i].ts, &none)
	}
}

// firstGSOBuckets and gsoWays shape the table of recent data segments that
// GSO matching looks in, by connection direction and sequence number: it
// starts at 1,024 buckets of 4 and doubles when a bucket is full of records
// still inside the window, up to MaxDupEntries records (a variable for the
// tests, which start it at one bucket).
var firstGSOBuckets = 1024

const (
	gsoWays = 4
	// gsoMaxPieces bounds the segments one super-packet is matched with
	// when they came first.
	gsoMaxPieces = 64
)

// gsoRange is a recent TCP data record, to match a GSO super-packet at one
// vantage point with its wire-sized segments at the other. It is filed
// under the sequence number the next record to match it starts at: its
// start, or for a super-packet partly covered the first byte not covered.
type gsoRange struct {
	dirHash    uint64 // the connection and direction
	next       uint32 // the sequence number it is filed under
	start, end uint32 // sequence range of the payload
	ts         int64
	buf        uint32 // 1 + its number in the delay line while it waits there
	pieces     uint32 // segments of the other vantage point inside it
	covered    uint32 // their payload bytes
	ttl        uint8
	used       bool
	// piecesCounted: the side counted is the pieces', not the range's,
	// decided at its first piece and kept for the others (the direction a
	// record is given can change while its range is matched: below).
	piecesCounted bool
}

// waitingAt returns the waiting record numbered ref-1, or nil when it has been
// counted or folded away.
func (f *folder) waitingAt(ref uint32) *waiting {
	if ref == 0 || ref-1-f.lineHead >= f.lineTail-f.lineHead {
		return nil
	}
	w := &f.line[(ref-1)&uint32(len(f.line)-1)]
	if w.done {
		return nil
	}
	return w
}

// less orders the heap: by the arrival of the copy each record is counted
// as, so the flows see the packets in the order the preferred copies have
// in the capture (its file order, not its time order, as everywhere else).
func (f *folder) less(a, b uint32) bool {
	wa, wb := &f.line[a&uint32(len(f.line)-1)], &f.line[b&uint32(len(f.line)-1)]
	return int32(wa.order-wb.order) < 0
}

func (f *folder) swap(i, j int) {
	f.heap[i], f.heap[j] = f.heap[j], f.heap[i]
	f.line[f.heap[i]&uint32(len(f.line)-1)].heapPos = int32(i)
	f.line[f.heap[j]&uint32(len(f.line)-1)].heapPos = int32(j)
}

func (f *folder) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !f.less(f.heap[i], f.heap[p]) {
			return
		}
		f.swap(i, p)
		i = p
	}
}

func (f *folder) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(f.heap) {
			return
		}
		m := l
		if r := l + 1; r < len(f.heap) && f.less(f.heap[r], f.heap[l]) {
			m = r
		}
		if !f.less(f.heap[m], f.heap[i]) {
			return
		}
		f.swap(i, m)
		i = m
	}
}

// removeAt takes heap element i out.
func (f *folder) removeAt(i int) {
	last := len(f.heap) - 1
	if i != last {
		f.swap(i, last)
	}
	f.heap = f.heap[:last]
	if i != last {
		f.down(i)
		f.up(i)
	}
}

// push puts d into the delay line and returns its number + 1. A full line
// first counts its oldest record (t.countWaiting), before its time.
func (t *Table) push(d *Decoded, index int64, payload []byte) uint32 {
	f := t.fold
	if f.lineTail-f.lineHead == uint32(len(f.line)) {
		if len(f.line) < f.maxEntries {
			old := f.line
			f.line = make([]waiting, min(max(2*len(old), firstFoldEntries), f.maxEntries))
			for n := f.lineHead; n != f.lineTail; n++ {
				f.line[n&uint32(len(f.line)-1)] = old[n&uint32(len(old)-1)]
			}
		} else {
			t.DupCapped++
			w := &f.line[f.lineHead&uint32(len(f.line)-1)]
			if !w.done {
				f.removeAt(int(w.heapPos))
				t.countWaiting(w)
			}
			f.advance()
		}
	}
	n := f.lineTail
	f.lineTail++
	w := &f.line[n&uint32(len(f.line)-1)]
	w.set(d, index)
	if d.Kind == KindTCP && d.Flags&flagSYN != 0 {
		t.markOpen(d, false)
	}
	if t.l7 != nil {
		w.pl = append(w.pl, payload...)
	}
	w.order = f.arrivals
	w.now = f.now
	w.heapPos = int32(len(f.heap))
	f.heap = append(f.heap, n)
	f.up(len(f.heap) - 1)
	return n + 1
}

// advance moves the line's head past the records already counted.
func (f *folder) advance() {
	for f.lineHead != f.lineTail && f.line[f.lineHead&uint32(len(f.line)-1)].done {
		f.lineHead++
	}
}

// retimeWaiting makes a waiting record count at its copy that just
// arrived: that copy's time and place.
func (f *folder) retimeWaiting(w *waiting, ts int64) {
	w.ts, w.order = ts, f.arrivals
	f.down(int(w.heapPos))
	f.up(int(w.heapPos))
}

// drain counts the waiting records whose time is more than the window
// behind the latest record seen (every one with all): no copy of them can
// still come, nor a record to be counted before them.
func (t *Table) drain(all bool) {
	f := t.fold
	for len(f.heap) > 0 {
		w := &f.line[f.heap[0]&uint32(len(f.line)-1)]
		if !all && !w.paired && f.now-w.ts <= f.window {
			return // its copy may still come
		}
		f.removeAt(0)
		t.countWaiting(w)
		f.advance()
	}
}

// countWaiting counts a record leaving the delay line, with what folding
// found about it.
func (t *Table) countWaiting(w *waiting) {
	w.done = true
	if w.gsoCovered > 0 {
		// A super-packet whose segments at the other vantage point were
		// counted: folded, and a disagreement if they did not cover it.
		if w.gsoCovered != uint32(w.payload) {
			t.GSOMismatch++
		}
		return
	}
	// The record is rebuilt in the folder's scratch Decoded, not a local:
	// the L7 hook's interface call would move a local to the heap.
	d := &t.fold.scratch
	w.decoded(d)
	if w.marked || d.Kind == KindTCP && d.Flags&flagSYN != 0 {
		t.markOpen(d, true) // its flow is about to exist
	}
	// The table's clock (idle timeouts) runs as if the record had been
	// counted when it arrived.
	t.nowNs = max(t.nowNs, w.now)
	var retrans, reordered int64
	super := w.extraPkts > 0 && d.Kind == KindTCP
	if super {
		retrans, reordered = t.troubleBefore(d)
	}
	id, f, dir := t.add(d, w.index, w.pl)
	f.origins |= w.origins
	if super && f.tcp != noFlow {
		// A super-packet resent or out of order is as many wire packets
		// resent or out of order as it has segments (a retransmitted TSO
		// buffer goes out whole: two resent segments 26 µs apart in
		// zeek/smtp.pcap).
		if x := t.conns.at(f.tcp).d[dir].x; x != nil {
			if x.retransPkts == retrans+1 {
				x.retransPkts += int64(w.extraPkts)
			}
			if x.outOfOrder == reordered+1 {
				x.outOfOrder += int64(w.extraPkts)
			}
		}
	}
	if !w.paired && w.dups == 0 && w.extraPkts == 0 {
		return
	}
	v := t.newVantage(id, f)
	v.dupPkts += int64(w.dups)
	if w.paired {
		v.transit[dir].add(w.transit)
	}
	t.count(id, f, dir, int64(w.extraPkts), 0, w.extraIP, w.extraWire)
}

// unmark forgets the openMark of w, folded away without being counted.
func (t *Table) unmark(w *waiting) {
	if w.marked {
		w.decoded(&t.fold.scratch)
		t.markOpen(&t.fold.scratch, true)
	}
}

// troubleBefore returns the retransmitted and out-of-order packets so far
// of the direction of d's flow that d goes in (0 without a flow or TCP state).
func (t *Table) troubleBefore(d *Decoded) (retrans, reordered int64) {
	var key flowKey
	srcIsLo := keyOf(d, &key)
	id := t.index.get(&key, t.index.hash(&key))
	if id == noFlow {
		return 0, 0
	}
	f := t.store.at(id)
	if f.twin != noFlow {
		f = t.store.at(t.route(id, srcIsLo, d))
	}
	if f.tcp == noFlow {
		return 0, 0
	}
	x := t.conns.at(f.tcp).d[f.dirOf(srcIsLo)].troubleOrNone()
	return x.retransPkts, x.outOfOrder
}

// probeNs and probeRecords bound how long a capture's records go through
// the delay line before a first copy is folded: without one by then (the
// window, or this many records), they stop doing so (the delay line is not
// free) until a copy turns up.
const (
	probeNs      = DefaultDupWindowNs
	probeRecords = 1024
)

// foldAdd accounts a TCP or UDP record of a table that folds copies.
func (t *Table) foldAdd(d *Decoded, index int64, payload []byte) {
	f := t.fold
	if !f.started {
		f.started, f.probeEnd = true, d.TsNs+max(probeNs, f.window)
		f.startBuffering()
	}
	// Table.nowNs has the times of the records Table.AddPayload took itself.
	f.now = max(f.now, t.nowNs, d.TsNs)
	if f.buffering && !f.folded && (f.now > f.probeEnd || f.arrivals >= probeRecords) {
		t.drain(true)
		f.stopBuffering()
	}
	if !f.buffering {
		t.detect(d, index, payload)
		return
	}
	f.arrivals++
	if d.Fold == 0 {
		t.addOrWait(d, index, payload)
		return
	}
	// The same bytes within the window: with another TTL, a copy from
	// another vantage point. With the same TTL, a repeat at one vantage
	// point (a retransmission, or a duplicate the network made), or a copy
	// from a vantage point no router separates (a bridge): nothing tells,
	// so it stays counted.
	e, same := f.lookup(d.Fold, d.TsNs, d.TTL)
	if e != nil {
		f.folded = true
		t.DupFolded++
		e.paired = true
		if w := f.waitingAt(e.buf); w != nil {
			t.foldWaiting(w, e, d)
		} else {
			t.foldCounted(e, d) // it left the line before its copy came
		}
		t.drain(false)
		return
	}
	if same {
		t.DupAmbiguous++
	}
	e = f.insert(d.Fold, d.TsNs, d.TTL, f.now, &t.DupCapped)
	var self gsoCredit
	// Data records are matched from the capture's start: a super-packet
	// can come before any copy was folded (the other node's clock behind).
	if d.Kind == KindTCP && d.Payload > 0 {
		var folded bool
		if folded, self = t.matchGSO(d); folded {
			t.drain(false)
			return
		}
	}
	e.buf = t.push(d, index, payload)
	if self.r != nil {
		self.r.buf = e.buf
	}
	if w := f.waitingAt(e.buf); w != nil {
		w.dups += self.dups
		w.origins |= self.origins
		w.extraPkts += self.pkts
		w.extraIP += self.ip
		w.extraWire += self.wire
	}
	t.drain(false)
}

// addOrWait counts a record without a fingerprint through the delay line,
// so that it keeps its place among the others.
func (t *Table) addOrWait(d *Decoded, index int64, payload []byte) {
	t.push(d, index, payload)
	t.drain(false)
}

// detectEntries is the number of slots, by fingerprint, of the table that
// watches for a first copy while the delay line is off; detectRing is how
// many of the latest records it keeps.
const (
	detectEntries = 1 << 12
	detectRing    = 1 << 13
)

// detectTable is the detect table: the latest records in a ring, written
// in turn, and the place in it of the last record per fingerprint slot. A
// record's copy is looked up in one slot, as in a table of records by slot,
// and a record is forgotten when a later one takes its slot or when the
// ring has gone round. Writing a record, the one cost a capture without
// copies pays per record, is a 16-byte write to the next place of the ring
// (a cache line for four records), not to a random slot of a table larger
// than the first level cache; the slots are brought up to date only before
// a lookup, in one pass over the records written since (catchUp).
type detectTable struct {
	// lastTTL is the TTL of the last record per address pair slot
	// (Decoded.foldPair), or 0.
	lastTTL [1 << pairBits]uint8
	next    uint64                // records written
	indexed uint64                // records the slots account for
	slot    [detectEntries]uint16 // ring place of the last record per slot
	ring    [detectRing]recentRecord
}

// detectSlot is the slot of fingerprint key.
func detectSlot(key uint64) uint64 { return (key >> 8) & (detectEntries - 1) }

// put remembers a record with fingerprint key, TTL ttl at time ts.
func (x *detectTable) put(key uint64, ttl uint8, ts int64) {
	x.ring[x.next&(detectRing-1)] = recentRecord{keyTTL: recentKey(key, ttl), ts: ts}
	x.next++
}

// catchUp points the slots at the records written since the last call that
// the ring still holds. Those it no longer holds would point at places
// since taken by records of other slots, as a slot left as it was does.
func (x *detectTable) catchUp() {
	n := x.indexed
	if x.next-n > detectRing {
		n = x.next - detectRing
	}
	for ; n < x.next; n++ {
		x.slot[detectSlot(x.ring[n&(detectRing-1)].keyTTL)] = uint16(n)
	}
	x.indexed = n
}

// lookup returns the ring place of the last record in fingerprint key's
// slot; a record of another slot (whose key then differs) when the ring
// has gone round since, or when the slot has had no record.
func (x *detectTable) lookup(key uint64) *recentRecord {
	x.catchUp()
	return &x.ring[x.slot[detectSlot(key)]&(detectRing-1)]
}

// pairBits is the size of Decoded.foldPair: the detect table's TTL gate
// has 1 << pairBits slots.
const pairBits = 12

// recentRecord is a record the detect table remembers: its fingerprint
// with the TTL in the low byte (a fingerprint's low byte is always 1), and
// its time.
type recentRecord struct {
	keyTTL uint64
	ts     int64
}

// recentKey is what a recentRecord keeps of a fingerprint.
func recentKey(key uint64, ttl uint8) uint64 { return key&^0xff | uint64(ttl) }

// detect counts a record while the delay line is off, and watches for a
// copy of an earlier one, as cheaply as one slot of a small table allows:
// a colliding record can hide a copy from it, not add one. The first copy
// turns the delay line on for the rest of the capture.
//
// A copy's TTL differs from its original's, and records between two
// addresses keep one TTL while there are no copies: the slot is read only
// when a record's TTL is not the last one seen between its addresses (with
// Config.DupSameTTL, always). Every record is written, so that its copy to
// come finds it. On a capture without copies this leaves a fingerprint, a
// read of the record's address pair slot and a write to the ring per
// record, which Table.AddPayload does itself (folder.quick): detect is
// called only when the TTL changed.
func (t *Table) detect(d *Decoded, index int64, payload []byte) {
	f := t.fold
	if d.Fold != 0 {
		r := f.recent.lookup(d.Fold)
		g := &f.recent.lastTTL[d.foldPair&(1<<pairBits-1)]
		changed := *g != d.TTL
		*g = d.TTL
		if (changed || f.sameTTL) && r.keyTTL&^0xff == d.Fold&^0xff && abs(d.TsNs-r.ts) <= f.window {
			if ttl := uint8(r.keyTTL); ttl != d.TTL || f.sameTTL {
				f.folded = true
				t.DupFolded++
				t.foldCounted(&foldEntry{key: d.Fold, ts: r.ts, ttl: ttl}, d)
				r.keyTTL = 0
				f.startBuffering()
				return
			}
			t.DupAmbiguous++
		}
		f.recent.put(d.Fold, d.TTL, d.TsNs)
	}
	t.nowNs = max(t.nowNs, d.TsNs)
	t.add(d, index, payload)
}

// stopBuffering turns the delay line off (it is empty) and lets go of its
// memory.
func (f *folder) stopBuffering() {
	f.buffering = false
	f.ring, f.slots, f.head, f.n = nil, nil, 0, 0
	f.line, f.heap, f.gso, f.opens = nil, nil, nil, nil
	f.lineHead, f.lineTail = 0, 0
	if f.recent == nil {
		f.recent = new(detectTable)
	}
	if !f.sameTTL {
		f.quick = f.recent
	}
}

// startBuffering turns the delay line on. The records the detect table
// still holds within the window are remembered, as counted: their copies
// to come are folded.
func (f *folder) startBuffering() {
	f.buffering, f.quick = true, nil
	if f.ring == nil {
		f.ring = make([]foldEntry, min(firstFoldEntries, f.maxEntries))
		f.slots = make([]uint64, foldSpread*len(f.ring))
	}
	if f.recent == nil {
		return // the capture's start
	}
	var capped int64
	x := f.recent
	x.catchUp()
	for i, n := range x.slot {
		// A ring place overwritten since holds another slot's record.
		if r := &x.ring[n&(detectRing-1)]; r.keyTTL != 0 && detectSlot(r.keyTTL) == uint64(i) && f.now-r.ts <= f.window {
			f.insert(r.keyTTL&^0xff|1, r.ts, uint8(r.keyTTL), f.now, &capped)
		}
	}
	clear(x.slot[:])
	clear(x.ring[:])
	x.next, x.indexed = 0, 0
}

// senderFirst reports, for two records of one packet, whether the one with
// TTL a at time ta (rather than b at tb) is the sender's: the TTL drops on
// the way; with equal TTLs (Config.DupSameTTL) the earlier one is taken.
func senderFirst(a, b uint8, ta, tb int64) bool { return a > b || a == b && ta <= tb }

// dirOfRecord returns the direction a packet goes in its flow: 0 from the
// originator. With no flow yet it applies the rules a new flow would.
func (t *Table) dirOfRecord(d *Decoded) (int, uint64) {
	dir, dh, _, _ := t.dirOfRecordGuess(d)
	return dir, dh
}

// dirOfRecordGuess is dirOfRecord, and reports also d's flow hash and
// whether the direction is the rules' guess: no flow, and no opening of
// the connection waiting.
func (t *Table) dirOfRecordGuess(d *Decoded) (dir int, dh, h uint64, guessed bool) {
	var key flowKey
	srcIsLo := keyOf(d, &key)
	h = t.index.hash(&key)
	dh = h
	if srcIsLo {
		dh = ^h
	}
	if id := t.index.get(&key, h); id != noFlow {
		if d.Kind == KindTCP && t.store.at(id).twin != noFlow {
			id = t.route(id, srcIsLo, d)
		}
		return t.store.at(id).dirOf(srcIsLo), dh, h, false
	}
	// The connection's opening waits in the delay line: a copy of the
	// responder's record can come before the originator's copy of the SYN
	// when the responder's node's clock is behind. The first opening tells
	// for every later one too (a responder's SYN or an originator's
	// SYN-ACK: split handshakes); without one, the first record folded.
	if f := t.fold; len(f.opens) > 0 {
		if m, ok := f.opens[h]; ok && abs(d.TsNs-m.ts) <= f.window {
			if srcIsLo == m.origLo {
				return 0, dh, h, false
			}
			return 1, dh, h, false
		}
	}
	if d.Kind == KindTCP {
		switch d.Flags & (flagSYN | flagACK) {
		case flagSYN:
			return 0, dh, h, true
		case flagSYN | flagACK:
			return 1, dh, h, true
		}
	}
	if serverSide(d.SrcPort, d.DstPort) {
		return 1, dh, h, true
	}
	return 0, dh, h, true
}

// foldWaiting folds d into w, the waiting record of the same packet that
// entry e remembers: the flow counts whichever of the two is its
// originator's copy (the sender's for its own packets, the receiver's for
// the responder's), at that copy's time.
func (t *Table) foldWaiting(w *waiting, e *foldEntry, d *Decoded) {
	dir, dh, h, guessed := t.dirOfRecordGuess(d)
	if guessed {
		// The connection's first record folded while no flow exists
		// tells the direction of its others until its flow is made (it
		// is counted first, as the rules give): a copy of the reply can
		// come before the request's copy counted, across nodes with the
		// replying node's clock behind (tcpdump/afs.pcap: UDP on ports
		// no rule knows, the roles swapped).
		f := t.fold
		if f.opens == nil {
			f.opens = make(map[uint64]openMark)
		}
		f.opens[h] = openMark{ts: d.TsNs, origLo: (dh == ^h) == (dir == 0), rank: markRules}
		w.marked = true
	}
	eSender := senderFirst(e.ttl, d.TTL, e.ts, d.TsNs)
	send, recv := e.ts, d.TsNs
	if !eSender {
		send, recv = recv, send
	}
	w.paired, w.transit = true, recv-send
	w.dups++
	w.origins |= originBit(d.Origin)
	if dInstead := (dir == 0) != eSender; dInstead {
		w.ttl = d.TTL
		t.fold.retimeWaiting(w, d.TsNs)
	}
}

// foldCounted folds d into the record entry e remembers, counted already
// (the delay line was off): its flow takes d's time if d is the preferred
// copy.
func (t *Table) foldCounted(e *foldEntry, d *Decoded) {
	id, f, dir := t.foldedFlow(d)
	if f == nil {
		return
	}
	eSender := senderFirst(e.ttl, d.TTL, e.ts, d.TsNs)
	send, recv := e.ts, d.TsNs
	if !eSender {
		send, recv = recv, send
	}
	v := t.newVantage(id, f)
	v.dupPkts++
	v.transit[dir].add(recv - send)
	if (dir == 0) != eSender {
		t.retime(f, dir, e.ts, d.TsNs)
	}
}

// vantageOf returns the vantage state of f, nil while f has one vantage point.
func (t *Table) vantageOf(id flowID, f *flow) *vantage {
	if f.fl&flVantages == 0 {
		return nil
	}
	return t.vant[id]
}

// newVantage marks f as seen from two vantage points and returns its state.
func (t *Table) newVantage(id flowID, f *flow) *vantage {
	if v := t.vantageOf(id, f); v != nil {
		return v
	}
	var v *vantage
	if n := len(t.freeVant); n > 0 {
		v, t.freeVant = t.freeVant[n-1], t.freeVant[:n-1]
	} else {
		v = new(vantage)
	}
	if t.vant == nil {
		t.vant = make(map[flowID]*vantage)
	}
	t.vant[id] = v
	f.fl |= flVantages
	return v
}

// dropVantage lets go of an ended flow's vantage state, for reuse.
func (t *Table) dropVantage(id flowID) {
	if v := t.vant[id]; v != nil {
		delete(t.vant, id)
		v.reset()
		t.freeVant = append(t.freeVant, v)
	}
}

// retime moves the times f took from a record at old to now, where now is
// the time of the record's preferred copy.
func (t *Table) retime(f *flow, dir int, old, now int64) {
	if f.fl&flTCP != 0 {
		t.conn(f) // before the times move: a waiting first packet takes them
	}
	delta := now - old
	if f.firstNs == old {
		f.firstNs = now
	}
	if f.lastNs == old {
		f.lastNs = now
	}
	f.firstNs, f.lastNs = min(f.firstNs, f.lastNs), max(f.firstNs, f.lastNs)
	if f.fl&flTCP == 0 {
		replySet := f.fl&flFirstReplySet != 0
		switch {
		case dir == 0 && f.aux[auxFirstOrig] == old:
			f.aux[auxFirstOrig] = now
			if replySet {
				f.aux[auxFirstReply] -= delta
			}
		case dir == 1 && replySet && f.aux[auxFirstOrig]+f.aux[auxFirstReply] == old:
			f.aux[auxFirstReply] += delta
		}
		return
	}
	c := t.conn(f)
	if c.firstRTT.Valid && c.mruSynNs+c.firstRTT.V == old {
		c.firstRTT.V += delta
	}
	if c.synAckAck.Valid && c.synAckNs+c.synAckAck.V == old {
		c.synAckAck.V += delta
	}
	if c.mruSynNs == old {
		c.mruSynNs = now
		if c.firstRTT.Valid {
			c.firstRTT.V -= delta
		}
	}
	if c.origSynNs == old {
		c.origSynNs = now
	}
	if c.synAckNs == old {
		c.synAckNs = now
		if c.synAckAck.Valid {
			c.synAckAck.V -= delta
		}
	}
	s := &c.d[dir]
	if s.nextSeqNs == old {
		s.nextSeqNs = now
	}
	if s.lastAckNs == old {
		s.lastAckNs = now
	}
	for i := range s.unacked {
		if s.unacked[i].sentNs == old {
			s.unacked[i].sentNs = now
		}
	}
}

// vantage is what a flow seen from two vantage points keeps about them.
type vantage struct {
	dupPkts int64
	transit [2]rttAcc
}

func (v *vantage) reset() {
	for i := range v.transit {
		v.transit[i] = rttAcc{samples: v.transit[i].samples[:0]}
	}
	v.dupPkts = 0
}

// gsoCredit is what GSO matching found for a record about to wait: its
// range, and segments folded into it.
type gsoCredit struct {
	r        *gsoRange
	origins  uint16
	dups     int32
	pkts     int32
	ip, wire int64
}

// gsoBucket returns the bucket for a direction and sequence number.
func (f *folder) gsoBucket(dh uint64, seq uint32) []gsoRange {
	if f.gso == nil {
		f.gso = make([]gsoRange, firstGSOBuckets*gsoWays)
	}
	// The sequence number spread over the word before the multiplication:
	// mum(dh, seq) kept the same low bits for runs of one connection's
	// segments (sequence numbers a segment size apart), and doubling the
	// table did not part them.
	b := int(mum(dh^uint64(seq)*0x9e3779b97f4a7c15, 0xd6e8feb86659fd93) & uint64(len(f.gso)/gsoWays-1))
	return f.gso[b*gsoWays : (b+1)*gsoWays]
}

// gsoFind returns the range filed under (dh, seq) from the other vantage
// point (another TTL than ttl, or any with Config.DupSameTTL) within the
// window of ts, longer than size (longer) or shorter, or nil; the oldest
// of several. Two can be filed under one sequence number: a super-packet
// partly covered and a resend of the segment that comes next in it (a
// synthetic capture's resend 2 µs after the original, in
// suricata-verify/syn_retransmit_with_ts.pcap); the first found by bucket
// order, which the flow index's random seed sets, left the super-packet
// without that piece in some runs.
func (f *folder) gsoFind(dh uint64, seq uint32, ttl uint8, ts int64, size uint32, longer bool) *gsoRange {
	var found *gsoRange
	for i, b := 0, f.gsoBucket(dh, seq); i < len(b); i++ {
		r := &b[i]
		if r.used && r.dirHash == dh && r.next == seq && (r.ttl != ttl || f.sameTTL) && abs(ts-r.ts) <= f.window &&
			(r.end-r.start > size) == longer && r.end-r.start != size && (found == nil || r.ts < found.ts) {
			found = r
		}
	}
	return found
}

// gsoFile files r under (r.dirHash, seq) in a free slot of its bucket, or
// over its oldest range when that is out of the window. A bucket full of
// ranges still inside it doubles the table, as long as it stays within
// MaxDupEntries ranges; beyond, the oldest is forgotten and capped counts
// it (a segment that would have matched it then counts as a packet).
func (f *folder) gsoFile(r gsoRange, seq uint32, capped *int64) *gsoRange {
	r.next, r.used = seq, true
	for {
		b := f.gsoBucket(r.dirHash, seq)
		slot := &b[0]
		for i := range b {
			if !b[i].used {
				slot = &b[i]
				break
			}
			if b[i].ts < slot.ts {
				slot = &b[i]
			}
		}
		if slot.used && f.now-slot.ts <= f.window {
			if 2*len(f.gso) <= max(f.maxEntries, firstGSOBuckets*gsoWays) && !sameGSOKey(b, r) {
				f.growGSO(capped)
				continue
			}
			*capped++
		}
		*slot = r
		return slot
	}
}

// sameGSOKey reports whether every range of bucket b is filed under r's
// key: a larger table would not part them.
func sameGSOKey(b []gsoRange, r gsoRange) bool {
	for i := range b {
		if b[i].dirHash != r.dirHash || b[i].next != r.next {
			return false
		}
	}
	return true
}

// growGSO doubles the GSO table, keeping the ranges still inside the window.
func (f *folder) growGSO(capped *int64) {
	old := f.gso
	f.gso = make([]gsoRange, 2*len(old))
	for i := range old {
		if r := &old[i]; r.used && f.now-r.ts <= f.window {
			f.gsoFile(*r, r.next, capped)
		}
	}
}

// matchGSO matches TCP data record d against the recent data records of
// the same direction of its connection at the other vantage point (another
// TTL): a GSO super-packet at one and its wire-sized segments at the other
// cover the same sequence range, the segments one after the other. The
// flow counts the originator's side: when that is the super-packet, its
// segments count as its packets and its payload once; when it is the
// segments, the super-packet is folded. It reports whether d was folded,
// and else what d is credited with.
func (t *Table) matchGSO(d *Decoded) (bool, gsoCredit) {
	f := t.fold
	dir, dh := t.dirOfRecord(d)
	start, end := d.Seq, d.Seq+uint32(d.Payload)
	size := end - start
	var cr gsoCredit
	if r := f.gsoFind(dh, start, d.TTL, d.TsNs, size, true); r != nil && seqLEQ(end, r.end) {
		// d is the next segment of the super-packet r. Which side counts
		// is decided at r's first piece: the direction of a record whose
		// flow does not exist yet is guessed (dirOfRecord), and the flow
		// made meanwhile can tell otherwise. Segments folded into a waiting
		// super-packet and a later one counted instead would lose them all
		// (the super-packet is folded once covered).
		f.folded = true
		if r.pieces == 0 {
			r.piecesCounted = senderFirst(d.TTL, r.ttl, d.TsNs, r.ts) == (dir == 0)
		}
		dCounted := r.piecesCounted
		r.pieces++
		r.covered += size
		w := f.waitingAt(r.buf)
		done := r.covered == r.end-r.start
		moved := *r
		r.used = false
		if done {
			t.GSOSplit++
		} else {
			f.gsoFile(moved, end, &t.DupCapped) // filed under the next segment's start
		}
		r = &moved
		if !dCounted {
			// Folded into r: the first segment stands for r's own packet,
			// each further one adds a packet and its headers.
			first := r.pieces == 1
			if first {
				t.DupFolded++
			}
			switch {
			case w != nil && first:
				w.dups++
				w.origins |= originBit(d.Origin)
			case w != nil:
				w.origins |= originBit(d.Origin)
				w.extraPkts++
				w.extraIP += d.IPLen - d.Payload
				w.extraWire += d.WireLen - d.Payload
			default:
				t.creditFlow(d, first)
			}
			return true, gsoCredit{}
		}
		if w != nil {
			// r waits, and is folded once its segments cover it.
			w.gsoCovered += size
			if done {
				f.removeAt(int(w.heapPos))
				w.done = true
				t.unmark(w)
				f.advance()
				cr.dups++
				cr.origins |= w.origins
				t.DupFolded++
			}
		}
		return false, cr
	}
	// d may be a super-packet whose segments came first: follow them.
	var pieces, covered uint32
	foldD, dupCredited, dCounted := false, false, false
	for seq := start; pieces < gsoMaxPieces && seq != end; {
		r := f.gsoFind(dh, seq, d.TTL, d.TsNs, size, false)
		if r == nil || r.end-r.start >= size || !seqLEQ(r.end, end) || r.start != seq {
			break
		}
		dCounted = senderFirst(d.TTL, r.ttl, d.TsNs, r.ts) == (dir == 0)
		pieces++
		covered += r.end - r.start
		seq = r.end
		r.used = false
		w := f.waitingAt(r.buf)
		switch {
		case dCounted && w != nil:
			f.removeAt(int(w.heapPos))
			w.done = true
			t.unmark(w)
			f.advance()
			cr.origins |= w.origins
			if pieces == 1 {
				cr.dups++
				t.DupFolded++
			} else {
				cr.pkts++
				cr.ip += w.ipLen - w.payload
				cr.wire += w.wireLen - w.payload
			}
		case !dCounted:
			foldD = true
			if w != nil && !dupCredited {
				w.dups++
				w.origins |= originBit(d.Origin)
				dupCredited = true
			}
		}
	}
	if pieces > 0 {
		f.folded = true
		if covered == size {
			t.GSOSplit++
		}
	}
	r := f.gsoFile(gsoRange{dirHash: dh, start: start, end: end, ts: d.TsNs, ttl: d.TTL, pieces: pieces, covered: covered,
		piecesCounted: pieces > 0 && !dCounted}, start+covered, &t.DupCapped)
	if foldD {
		t.DupFolded++
		if !dupCredited {
			t.creditFlow(d, true)
		}
		return true, gsoCredit{}
	}
	cr.r = r
	return false, cr
}

// foldedFlow returns the live flow a folded record d belongs to and d's
// direction in it (f nil when none), and marks the flow as seen by d's
// capture: the copy was folded, but its vantage point saw the flow.
func (t *Table) foldedFlow(d *Decoded) (flowID, *flow, int) {
	var key flowKey
	srcIsLo := keyOf(d, &key)
	id := t.index.get(&key, t.index.hash(&key))
	if id == noFlow {
		return noFlow, nil, 0
	}
	f := t.store.at(id)
	f.origins |= originBit(d.Origin)
	return id, f, f.dirOf(srcIsLo)
}

// creditFlow credits the flow of a folded GSO record that nothing waiting
// could take: as a folded record (first), or as a further segment's packet.
func (t *Table) creditFlow(d *Decoded, first bool) {
	id, f, dir := t.foldedFlow(d)
	if f == nil {
		return
	}
	if first {
		t.newVantage(id, f).dupPkts++
		return
	}
	t.count(id, f, dir, 1, 0, d.IPLen-d.Payload, d.WireLen-d.Payload)
}
