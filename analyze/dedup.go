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
	// DefaultMaxDupEntries caps the records remembered for folding (and
	// the packets held back, each): 64 Ki records cover the window at
	// 6.5 million packets a second. 24 bytes each, so 1.5 MiB at most.
	DefaultMaxDupEntries = 1 << 16
)

// firstFoldEntries is the size the folding state starts at; it doubles up
// to MaxDupEntries while the window holds more records.
const firstFoldEntries = 1 << 10

// foldBucket is how many index slots one fingerprint may land in.
const foldBucket = 4

// gsoSlots is how many recent data segments per direction of a flow with
// two vantage points are kept to match super-packets with their segments.
const gsoSlots = 16

// foldEntry is a record remembered for folding: no Go pointers, so the
// collector never scans the ring.
type foldEntry struct {
	key    uint64
	ts     int64
	held   uint32 // 1 + sequence number of the record in the hold queue while it waits there
	ttl    uint8
	paired bool // its copy was seen: later matches are repeats
}

// heldPacket is a record waiting for its copy from the other vantage
// point: the fields of a Decoded the table needs, without pointers.
type heldPacket struct {
	src, dst         [16]byte
	ts, wireLen      int64
	ipLen, payload   int64
	tunnelID, index  int64
	key              uint64
	seq, ack         uint32
	vlan             int32
	qseq             uint32 // its number in the hold queue
	gsoCovered       uint32 // payload bytes of it seen as GSO segments at the other vantage point
	srcPort, dstPort uint16
	window           uint16
	kind             Kind
	ipProto          uint8
	ipVersion        uint8
	flags, ttl       uint8
	tunnel           Tunnel
	badHeader, done  bool
}

func (h *heldPacket) set(d *Decoded, index int64) {
	*h = heldPacket{src: d.Src.As16(), dst: d.Dst.As16(), ts: d.TsNs, wireLen: d.WireLen, ipLen: d.IPLen,
		payload: d.Payload, tunnelID: d.TunnelID, index: index, key: d.Fold, seq: d.Seq, ack: d.Ack,
		vlan: d.VLAN, srcPort: d.SrcPort, dstPort: d.DstPort, window: d.Window, kind: d.Kind,
		ipProto: d.IPProto, ipVersion: d.IPVersion, flags: d.Flags, ttl: d.TTL, tunnel: d.Tunnel,
		badHeader: d.BadHeader}
}

func (h *heldPacket) decoded(d *Decoded) {
	src, dst := netip.AddrFrom16(h.src), netip.AddrFrom16(h.dst)
	if h.ipVersion == 4 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	*d = Decoded{Kind: h.kind, IPProto: h.ipProto, TsNs: h.ts, WireLen: h.wireLen, VLAN: h.vlan,
		IPVersion: h.ipVersion, Src: src, Dst: dst, SrcPort: h.srcPort, DstPort: h.dstPort, IPLen: h.ipLen,
		Payload: h.payload, Seq: h.seq, Ack: h.ack, Flags: h.flags, Window: h.window, BadHeader: h.badHeader,
		Tunnel: h.tunnel, TunnelID: h.tunnelID, TTL: h.ttl, Fold: h.key}
}

// folder is a table's folding state: a ring of recent records in arrival
// order, an index over it by fingerprint, and the queue of held records.
type folder struct {
	window     int64
	maxEntries int
	ring       []foldEntry // len is a power of two
	head, n    int
	slots      []uint32     // 1 + ring position; buckets of foldBucket
	hold       []heldPacket // len is a power of two
	// Held records are numbered in arrival order: holdHead is the oldest
	// still queued, holdTail the next; record s sits at s mod len(hold).
	holdHead, holdTail uint32
}

func newFolder(cfg Config) *folder {
	f := &folder{window: cfg.DupWindowNs, maxEntries: cfg.MaxDupEntries}
	f.ring = make([]foldEntry, min(firstFoldEntries, f.maxEntries))
	f.slots = make([]uint32, 2*len(f.ring))
	return f
}

// lookup returns the latest remembered record with fingerprint key within
// the window of ts, or nil.
func (f *folder) lookup(key uint64, ts int64) *foldEntry {
	var best *foldEntry
	b := f.bucket(key)
	for _, s := range f.slots[b : b+foldBucket] {
		if s == 0 {
			continue
		}
		e := &f.ring[s-1]
		if e.key == key && abs(ts-e.ts) <= f.window && (best == nil || e.ts > best.ts) {
			best = e
		}
	}
	return best
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func (f *folder) bucket(key uint64) int {
	return int(key>>32) & (len(f.slots) - 1) &^ (foldBucket - 1)
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

// index puts ring position pos into its bucket: in a free or stale slot,
// else over the oldest record (which can then no longer be matched).
func (f *folder) index(pos int, now int64, capped *int64) {
	e := &f.ring[pos]
	b := f.bucket(e.key)
	victim, victimTs := -1, int64(0)
	for i := b; i < b+foldBucket; i++ {
		s := f.slots[i]
		if s == 0 || int(s-1) == pos {
			victim = i
			break
		}
		o := &f.ring[s-1]
		if f.bucket(o.key) != b || now-o.ts > f.window {
			victim = i // stale: the ring position was reused or is out of the window
			break
		}
		if victim < 0 || o.ts < victimTs {
			victim, victimTs = i, o.ts
		}
	}
	if s := f.slots[victim]; s != 0 && int(s-1) != pos {
		if o := &f.ring[s-1]; f.bucket(o.key) == b && now-o.ts <= f.window {
			*capped++
		}
	}
	f.slots[victim] = uint32(pos + 1)
}

func (f *folder) grow() {
	old, head, n := f.ring, f.head, f.n
	f.ring = make([]foldEntry, 2*len(old))
	f.slots = make([]uint32, 2*len(f.ring))
	f.head, f.n = 0, n
	for i := range n {
		f.ring[i] = old[(head+i)&(len(old)-1)]
	}
	var none int64
	for i := range n {
		f.index(i, f.ring[i].ts, &none)
	}
}

// holdPacket queues d and returns its sequence number + 1, or 0 when the
// queue is full (the caller then counts the packet at once).
func (f *folder) holdPacket(d *Decoded, index int64) uint32 {
	if f.holdTail-f.holdHead == uint32(len(f.hold)) {
		if len(f.hold) >= f.maxEntries {
			return 0
		}
		old := f.hold
		f.hold = make([]heldPacket, min(max(2*len(old), firstFoldEntries), f.maxEntries))
		for s := f.holdHead; s != f.holdTail; s++ {
			f.hold[s&uint32(len(f.hold)-1)] = old[s&uint32(len(old)-1)]
		}
	}
	s := f.holdTail
	f.holdTail++
	h := &f.hold[s&uint32(len(f.hold)-1)]
	h.set(d, index)
	h.qseq = s
	return s + 1
}

// held returns the held record of sequence number + 1 ref, or nil when it
// has left the queue or was settled.
func (f *folder) held(ref uint32) *heldPacket {
	if ref == 0 || ref-1-f.holdHead >= f.holdTail-f.holdHead {
		return nil
	}
	h := &f.hold[(ref-1)&uint32(len(f.hold)-1)]
	if h.done {
		return nil
	}
	return h
}

// oldestHeld returns the queue's oldest record, or nil when it is empty.
func (f *folder) oldestHeld() *heldPacket {
	if f.holdHead == f.holdTail {
		return nil
	}
	return &f.hold[f.holdHead&uint32(len(f.hold)-1)]
}

// vantage is what a flow seen from two vantage points keeps about them.
type vantage struct {
	dupPkts int64
	dir     [2]vantageDir
}

type vantageDir struct {
	sendTTL, recvTTL uint8
	known            bool // sendTTL and recvTTL were learnt from a pair of copies with different TTLs
	solo             bool // a held record found no copy: this direction has one vantage point
	transit          rttAcc
	recent           [gsoSlots]gsoRange
	next             int
}

// gsoRange is a recent data segment of a flow with two vantage points, to
// match a GSO super-packet at one vantage point with its wire-sized
// segments at the other.
type gsoRange struct {
	start, end uint32 // sequence range of the payload
	ts         int64
	held       uint32 // 1 + hold queue sequence number while held
	pieces     uint32 // segments of the other vantage point inside it
	covered    uint32 // their payload bytes
	ttl        uint8
	counted    bool // it was counted (processed), so its pieces add packets beyond the first
	used       bool
}

func (v *vantage) reset() {
	for i := range v.dir {
		d := &v.dir[i]
		samples := d.transit.samples[:0]
		*d = vantageDir{}
		d.transit.samples = samples
	}
	v.dupPkts = 0
}

// vantageOf returns the vantage state of f, nil while f has one vantage point.
func (t *Table) vantageOf(f *flow) *vantage {
	if f.vantages < 2 {
		return nil
	}
	return t.vant[f]
}

// newVantage marks f as seen from two vantage points and returns its state.
func (t *Table) newVantage(f *flow) *vantage {
	if v := t.vantageOf(f); v != nil {
		return v
	}
	var v *vantage
	if n := len(t.freeVant); n > 0 {
		v, t.freeVant = t.freeVant[n-1], t.freeVant[:n-1]
	} else {
		v = new(vantage)
	}
	if t.vant == nil {
		t.vant = make(map[*flow]*vantage)
	}
	t.vant[f] = v
	f.vantages = 2
	return v
}

// dropVantage lets go of an ended flow's vantage state, for reuse.
func (t *Table) dropVantage(f *flow) {
	if v := t.vant[f]; v != nil {
		delete(t.vant, f)
		v.reset()
		t.freeVant = append(t.freeVant, v)
	}
}

// preferred reports whether a record with ttl is the copy a flow's
// numbers are taken from in direction dir: the originator's side, so its
// sending (egress) copy for dir 0 and its receiving (ingress) copy for dir 1.
func (vd *vantageDir) preferred(dir int, ttl uint8) bool {
	if dir == 0 {
		return ttl == vd.sendTTL
	}
	return ttl == vd.recvTTL
}

// foldOrHold decides what to do with a TCP or UDP record d of flow f sent
// in direction dir: true means count it now; false means it was folded into
// a copy, or is held back until its copy arrives or the window passes.
func (t *Table) foldOrHold(f *flow, dir int, d *Decoded, index int64) bool {
	fo := t.fold
	v := t.vantageOf(f)
	if e := fo.lookup(d.Fold, d.TsNs); e != nil && !e.paired {
		// The same bytes within the window. With a different TTL it is a
		// copy from another vantage point. With the same TTL it is a repeat
		// at one vantage point (a retransmission, or a duplicate the
		// network made), or a copy from a vantage point that no router
		// separates (a bridge): nothing tells, so it stays counted.
		if e.ttl != d.TTL {
			t.foldCopy(f, dir, e, d, index)
			return false
		}
		t.DupAmbiguous++
	}
	e := fo.insert(d.Fold, d.TsNs, d.TTL, t.nowNs, &t.DupCapped)
	if v == nil {
		return true
	}
	vd := &v.dir[dir]
	var r *gsoRange
	if vd.known && d.Kind == KindTCP && d.Payload > 0 {
		var count bool
		if r, count = t.matchGSO(f, v, dir, d); !count {
			return false
		}
	}
	if vd.solo || (vd.known && vd.preferred(dir, d.TTL)) {
		return true
	}
	// The other vantage point's copy, or a direction whose TTLs are not
	// known yet: wait for the copy that says which is which.
	ref := fo.holdPacket(d, index)
	if ref == 0 {
		t.DupCapped++
		return true
	}
	e.held = ref
	if r != nil {
		r.held = ref
	}
	return false
}

// foldCopy folds record d into e, a record of the same packet: d is not
// counted, and of the two the copy the flow's numbers come from is counted
// now if e was held back.
func (t *Table) foldCopy(f *flow, dir int, e *foldEntry, d *Decoded, index int64) {
	v := t.newVantage(f)
	vd := &v.dir[dir]
	e.paired = true
	// The sender's copy carries the higher TTL.
	eSender := e.ttl > d.TTL
	if !vd.known {
		vd.known = true
		vd.sendTTL, vd.recvTTL = max(e.ttl, d.TTL), min(e.ttl, d.TTL)
	}
	send, recv := e.ts, d.TsNs
	if !eSender {
		send, recv = recv, send
	}
	vd.transit.add(recv - send)
	v.dupPkts++
	t.DupFolded++
	preferE := (dir == 0) == eSender
	if h := t.fold.held(e.held); h != nil {
		h.done = true
		e.held = 0
		if preferE {
			var hd Decoded
			h.decoded(&hd)
			t.add(&hd, h.index, false)
		} else {
			t.add(d, index, false)
		}
		return
	}
	if !preferE {
		// e was counted before the flow was known to have two vantage
		// points (its first packet): give it the preferred copy's time.
		t.retime(f, dir, e.ts, d.TsNs)
	}
}

// retime moves the times f took from a record at old to now, where now is
// the time of the record's preferred copy.
func (t *Table) retime(f *flow, dir int, old, now int64) {
	delta := now - old
	if f.firstNs == old {
		f.firstNs = now
	}
	if f.lastNs == old {
		f.lastNs = now
	}
	f.firstNs, f.lastNs = min(f.firstNs, f.lastNs), max(f.firstNs, f.lastNs)
	c := f.tcp
	if c == nil {
		switch {
		case dir == 0 && f.firstOrigNs == old:
			f.firstOrigNs = now
			if f.firstReplySet {
				f.firstReplyNs -= delta
			}
		case dir == 1 && f.firstReplySet && f.firstOrigNs+f.firstReplyNs == old:
			f.firstReplyNs += delta
		}
		return
	}
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

// matchGSO matches TCP data record d of a flow with two vantage points
// against the recent data records of the other vantage point: a GSO
// super-packet at one and its wire-sized segments at the other cover the
// same sequence range. It returns d's own range and whether d is to be
// counted (false: it was folded).
func (t *Table) matchGSO(f *flow, v *vantage, dir int, d *Decoded) (*gsoRange, bool) {
	vd := &v.dir[dir]
	start, end := d.Seq, d.Seq+uint32(d.Payload)
	size := end - start
	pref := vd.preferred(dir, d.TTL)
	count := true
	var pieces, covered uint32
	for i := range vd.recent {
		r := &vd.recent[i]
		if !r.used || r.ttl == d.TTL || abs(d.TsNs-r.ts) > t.fold.window {
			continue
		}
		switch rsize := r.end - r.start; {
		case seqLEQ(r.start, start) && seqLEQ(end, r.end) && rsize > size:
			// d is a segment of the super-packet r.
			r.pieces++
			r.covered += size
			if h := t.fold.held(r.held); h != nil {
				// r waits at the other vantage point: d is counted, and r
				// is folded once its segments cover it.
				h.gsoCovered += size
				if h.gsoCovered == uint32(h.payload) {
					h.done = true
					t.gsoFolded(v)
				}
				return nil, true
			}
			if !r.counted {
				return nil, true
			}
			// r was counted as one packet: its segments count as the
			// packets, its bytes once.
			t.foldSegment(f, v, dir, r.pieces == 1, d.IPLen-d.Payload, d.WireLen-d.Payload)
			if r.covered == rsize {
				t.GSOSplit++
			}
			return nil, false
		case seqLEQ(start, r.start) && seqLEQ(r.end, end) && size > rsize:
			// r is a segment of the super-packet d.
			pieces++
			covered += rsize
			h := t.fold.held(r.held)
			switch {
			case pref && h != nil:
				// d is counted: r, held, is folded into it.
				h.done = true
				t.foldSegment(f, v, dir, pieces == 1, h.ipLen-h.payload, h.wireLen-h.payload)
			case !pref && r.counted:
				count = false
			}
			r.used = false
		}
	}
	if !count {
		v.dupPkts++
		t.DupFolded++
		if covered == size {
			t.GSOSplit++
		}
	} else if pref && pieces > 0 && covered == size {
		t.GSOSplit++
	}
	r := &vd.recent[vd.next]
	vd.next = (vd.next + 1) % gsoSlots
	*r = gsoRange{start: start, end: end, ts: d.TsNs, ttl: d.TTL, used: true, counted: count && pref,
		pieces: pieces, covered: covered}
	return r, count
}

// foldSegment folds a wire-sized segment into the super-packet counted for
// it: the first stands for the super-packet's own packet; each further one
// adds a packet and its headers (ipHdr, wireHdr bytes), not its payload.
func (t *Table) foldSegment(f *flow, v *vantage, dir int, first bool, ipHdr, wireHdr int64) {
	if first {
		v.dupPkts++
		t.DupFolded++
		return
	}
	c := &f.count[dir]
	c.pkts++
	c.ipBytes += ipHdr
	c.wireBytes += wireHdr
}

// gsoFolded counts a held super-packet that its segments covered exactly.
func (t *Table) gsoFolded(v *vantage) {
	v.dupPkts++
	t.DupFolded++
	t.GSOSplit++
}

// releaseExpired counts the held records whose copy did not come within
// the window (or all of them, at the end of the capture): each is then a
// packet one vantage point saw.
func (t *Table) releaseExpired(all bool) {
	fo := t.fold
	for h := fo.oldestHeld(); h != nil && (all || h.done || t.nowNs-h.ts > fo.window); h = fo.oldestHeld() {
		fo.holdHead++
		if h.done {
			continue
		}
		h.done = true
		if h.gsoCovered > 0 {
			// A super-packet only partly covered by segments: its bytes were
			// counted through them; the rest is a disagreement.
			t.GSOMismatch++
			continue
		}
		var hd Decoded
		h.decoded(&hd)
		if f, dir := t.add(&hd, h.index, false); f != nil {
			if v := t.vantageOf(f); v != nil && !v.dir[dir].known {
				// No copy came while its TTLs are unknown: this direction is
				// seen from one vantage point; hold nothing more of it.
				v.dir[dir].solo = true
			}
		}
	}
}
