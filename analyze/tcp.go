package analyze

import (
	"math"
	"math/bits"
	"slices"
)

// Sequence-number arithmetic modulo 2^32 (RFC 1982 style).
func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool  { return int32(a-b) > 0 }

// Zeek's TCP endpoint states.
type endpointState uint8

const (
	stInactive endpointState = iota
	stSynSent
	stSynAckSent
	stPartial
	stEstablished
	stClosed
	stReset
)

const (
	// oooDefaultNs is Wireshark's out-of-order threshold when no iRTT is known.
	oooDefaultNs = 3_000_000
	// fastRetransWindowNs is Wireshark's limit on the age of the last
	// duplicate ACK for a fast retransmission.
	fastRetransWindowNs = 20_000_000
	// maxUnacked caps the segments remembered per direction for RTT
	// sampling; segments beyond it give no sample.
	maxUnacked = 256
	// maxSamples caps the RTT samples kept per direction for the median;
	// beyond it a deterministic reservoir keeps a uniform sample.
	maxSamples = 4096
	// samplesJump is the number of samples from which a direction's sample
	// slice grows straight to maxSamples.
	samplesJump = 64
	// maxHoles caps the sequence gaps tracked per direction; beyond it the
	// two closest holes are merged (the count can then only grow).
	maxHoles = 16
	// maxHistory caps the history string; Zeek letters repeat only on
	// new sequence numbers, so only hostile traffic reaches it.
	maxHistory = 48
)

// segment is sent data waiting for its acknowledgement.
type segment struct {
	start  uint32 // first sequence number of the segment
	end    uint32 // sequence number just past the segment
	sentNs int64  // noSample once sent more than once (Karn: its ACK gives no RTT sample)
}

// noSample marks a segment whose acknowledgement gives no RTT sample; send
// times are clamped above it (pushSegment).
const noSample = math.MinInt64

type hole struct{ start, end uint32 }

// History letters recorded at most once per direction.
const (
	histData = 1 << iota
	histAck
	histMulti
	histFinRst
)

// tcpDir is the state of one direction (the packets one endpoint sends)
// that most packets touch. Its fields are ordered to pack (80 bytes): tens
// of thousands of flows are live at once, and what only loss, reordering
// or window trouble touches is kept apart, in x, allocated the first time
// it is needed; what only SYN, FIN and RST packets and RTT samples touch is
// in tcpConn.cold, past the lines every packet loads.
type tcpDir struct {
	baseSeq                  uint32 // Wireshark's base_seq: decides when a SYN starts a new connection
	nextSeq                  uint32 // highest seq + segment length seen (Wireshark's nextseq)
	lastAck                  uint32 // last acknowledgement number this side sent
	maxAck                   uint32 // highest acknowledgement number this side sent
	win                      uint16
	state, prevState         endpointState
	lastSegFlags             uint8 // segKeepAlive / segZeroWindowProbe of the last packet
	histOnce                 uint8
	dupAckNum                uint8 // duplicate ACKs in a row this side sent, saturating: only >= 2 matters
	baseSet, seqSet          bool  // baseSeq, nextSeq are known
	ackSet, winSet           bool  // lastAck and maxAck, win are known
	sawFin, sawRst, sentData bool

	nextSeqNs int64 // time nextSeq last advanced
	lastAckNs int64

	unacked []segment
	x       *dirTrouble
}

// tcpDirCold is the state of one direction that few packets touch: the
// last SYN, FIN and RST (history letters) and the RTT samples.
type tcpDirCold struct {
	rtt                       rttAcc
	lastSyn, lastFin, lastRst uint32
	synSet, finSet, rstSet    bool // lastSyn, lastFin, lastRst are known
}

// dirTrouble is the state of a direction that only retransmissions, gaps,
// reordering, duplicate ACKs and zero windows touch.
type dirTrouble struct {
	retransPkts, retransBytes int64
	outOfOrder, dupAcks       int64
	zeroWindows               int64
	zeekRetrans, gaps         int64 // events behind the scaled 'T' and 'G' letters
	gapSet                    bool
	gapAck                    uint32 // highest acknowledgement reported as a gap
	holes                     []hole
}

// trouble returns the direction's trouble state, allocating it on first use.
func (s *tcpDir) trouble() *dirTrouble {
	if s.x == nil {
		s.x = &dirTrouble{}
	}
	return s.x
}

var noTrouble dirTrouble

// troubleOrNone returns the direction's trouble state for reading: all zero
// when nothing allocated it.
func (s *tcpDir) troubleOrNone() *dirTrouble {
	if s.x == nil {
		return &noTrouble
	}
	return s.x
}

// holes returns the direction's recorded sequence holes.
func (s *tcpDir) holes() []hole {
	if s.x == nil {
		return nil
	}
	return s.x.holes
}

// Kinds of the last packet a direction sent, for the ACKs that answer them.
const (
	segKeepAlive = 1 << iota
	segZeroWindowProbe
)

// rttAcc accumulates RTT samples: exact count, min and max; the median is
// exact up to maxSamples samples and taken from a uniform reservoir after.
// A single sample is only min (and max): samples is filled from the second
// on. Most flows have one sample per direction, and not touching the slice
// spares a cache miss when the sample is added and another when the flow
// ends.
type rttAcc struct {
	n        int64
	min, max int64
	samples  []int64
	rng      uint64
}

func (a *rttAcc) add(v int64) {
	a.n++
	if a.n == 1 {
		a.min, a.max = v, v
		return
	}
	if a.n == 2 {
		a.samples = append(a.samples, a.min) // the first sample
	}
	a.min, a.max = min(a.min, v), max(a.max, v)
	if len(a.samples) < maxSamples {
		if len(a.samples) == cap(a.samples) && cap(a.samples) >= samplesJump {
			// A flow with this many samples is likely to reach the cap:
			// go there at once instead of leaving each doubling as garbage.
			a.samples = append(make([]int64, 0, maxSamples), a.samples...)
		}
		a.samples = append(a.samples, v)
		return
	}
	// Algorithm R with a fixed-seed xorshift: deterministic for a given flow.
	if a.rng == 0 {
		a.rng = 0x9e3779b97f4a7c15
	}
	a.rng ^= a.rng << 13
	a.rng ^= a.rng >> 7
	a.rng ^= a.rng << 17
	if j := a.rng % uint64(a.n); j < maxSamples {
		a.samples[j] = v
	}
}

// p50 returns the lower median of the samples, null without any.
func (a *rttAcc) p50() Opt {
	switch a.n {
	case 0:
		return Opt{}
	case 1:
		return Some(a.min)
	}
	return Some(a.stats().P50Ns)
}

func (a *rttAcc) stats() RTTStats {
	switch a.n {
	case 0:
		return RTTStats{}
	case 1:
		return RTTStats{Samples: 1, MinNs: a.min, MaxNs: a.max, P50Ns: a.min}
	}
	return RTTStats{Samples: a.n, MinNs: a.min, MaxNs: a.max, P50Ns: nth(a.samples, (len(a.samples)-1)/2)}
}

// nth returns the value sorting s would put at index k, reordering s
// (quickselect: the median needs no full sort). A range that keeps
// partitioning badly (chosen samples can make any pivot rule do so) is
// sorted instead, so that the cost stays O(n log n).
func nth(s []int64, k int) int64 { return nthRounds(s, k, 2*bits.Len(uint(len(s)))) }

// nthRounds is nth partitioning at most rounds times before sorting.
func nthRounds(s []int64, k, rounds int) int64 {
	lo, hi := 0, len(s)-1
	for ; hi > lo; rounds-- {
		if rounds == 0 {
			slices.Sort(s[lo : hi+1])
			break
		}
		mid := lo + (hi-lo)/2 // the pivot: median of the first, middle and last
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		p := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < p {
				i++
			}
			for s[j] > p {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i, j = i+1, j-1
			}
		}
		// s[lo..j] <= p <= s[i..hi], and every value between j and i is p.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}

// tcpConn is the TCP state of a flow. Index 0 is the originator. What
// every packet reads comes first, in as few cache lines as it fits: the
// state is cold by the time a flow's next packet comes (the other
// goroutines stream the capture through the caches meanwhile), and each
// line is a miss.
type tcpConn struct {
	d [2]tcpDir

	mruSynNs  int64 // most recent SYN without ACK (any direction), 0 = none
	synAckNs  int64 // first SYN/ACK from the responder, 0 = none; then origSynNs stays
	firstRTT  Opt   // Wireshark's iRTT
	synAckAck Opt
	synAckSeq uint32
	histLen   uint8
	hist      [maxHistory]byte

	origSynNs int64 // most recent SYN from the originator before the SYN/ACK
	cold      [2]tcpDirCold
}

func (c *tcpConn) reset() {
	// Keep the memory for the next flow. Only what is kept is saved (not
	// both directions whole: copying them through the stack stalled).
	u0, u1 := c.d[0].unacked[:0], c.d[1].unacked[:0]
	s0, s1 := c.cold[0].rtt.samples[:0], c.cold[1].rtt.samples[:0]
	x0, x1 := c.d[0].x, c.d[1].x
	*c = tcpConn{}
	c.d[0].unacked, c.d[1].unacked = u0, u1
	c.cold[0].rtt.samples, c.cold[1].rtt.samples = s0, s1
	for i, x := range [2]*dirTrouble{x0, x1} {
		if x != nil {
			*x = dirTrouble{holes: x.holes[:0]}
			c.d[i].x = x
		}
	}
}

// startsNewConnection reports whether a packet sent in direction dir opens a
// new connection on the flow's 5-tuple: a SYN without ACK whose sequence
// number differs from its sender's base sequence number (Wireshark's "port
// numbers reused"; see setBase). A SYN repeating the old ISN stays in the
// flow, as in tshark.
func (c *tcpConn) startsNewConnection(dir int, d *Decoded) bool {
	if d.Flags&(flagSYN|flagACK) != flagSYN {
		return false
	}
	s := &c.d[dir]
	return s.baseSet && d.Seq != s.baseSeq
}

// setBase records base sequence numbers as Wireshark does: the sender's
// from its first packet (the ISN of a SYN, else seq-1), the peer's from the
// first ACK that reaches it (ack-1). A SYN/ACK with a new ISN moves the base.
func (c *tcpConn) setBase(dir int, d *Decoded, syn, ack bool) {
	fwd, rev := &c.d[dir], &c.d[1-dir]
	switch {
	case !fwd.baseSet && syn:
		fwd.baseSet, fwd.baseSeq = true, d.Seq
	case !fwd.baseSet:
		fwd.baseSet, fwd.baseSeq = true, d.Seq-1
	case syn && ack && d.Seq != fwd.baseSeq:
		fwd.baseSeq = d.Seq
	}
	if !rev.baseSet && ack {
		rev.baseSet, rev.baseSeq = true, d.Ack-1
	}
}

// synthetic reports whether the handshake numbers both directions' bytes
// from 1 (ISN 0 or 1 on the SYN and on the SYN/ACK): Kubeshark's rebuilt TLS
// plaintext, not wire traffic.
func (c *tcpConn) synthetic() bool {
	// The originator's base first: it is on the line every packet touches,
	// and a wire connection's is not 0 or 1 (the L7 hook asks per flow).
	return syntheticStart(c.d[0].baseSeq) && c.origSynNs != 0 && c.synAckNs != 0 && syntheticStart(c.synAckSeq)
}

// closed reports whether both sides have closed or either has reset.
func (c *tcpConn) closed() bool {
	return c.d[0].sawRst || c.d[1].sawRst || (c.d[0].sawFin && c.d[1].sawFin)
}

func (c *tcpConn) addHistory(dir int, letter byte) {
	if int(c.histLen) >= maxHistory {
		return
	}
	if dir == 1 {
		letter += 'a' - 'A'
	}
	c.hist[c.histLen] = letter
	c.histLen++
}

// addOnce records a letter at most once per direction.
func (c *tcpConn) addOnce(dir int, bit uint8, letter byte) {
	if c.d[dir].histOnce&bit == 0 {
		c.d[dir].histOnce |= bit
		c.addHistory(dir, letter)
	}
}

// addScaled records a letter on the 1st, 10th, 100th, ... event (Zeek's
// logarithmic history).
func (c *tcpConn) addScaled(dir int, count int64, letter byte) {
	for n := int64(1); n <= count; n *= 10 {
		if n == count {
			c.addHistory(dir, letter)
			return
		}
	}
}

func (c *tcpConn) add(dir int, d *Decoded) {
	syn, ack := d.Flags&flagSYN != 0, d.Flags&flagACK != 0
	fin, rst := d.Flags&flagFIN != 0, d.Flags&flagRST != 0

	// Handshake timing. iRTT follows Wireshark exactly: the most recent SYN
	// without ACK, then the first packet with ACK and without SYN; a zero
	// difference leaves it unset, as in Wireshark.
	if syn && !ack {
		c.mruSynNs = d.TsNs
		if dir == 0 && c.synAckNs == 0 {
			c.origSynNs = d.TsNs
		}
	}
	if ack && !syn && c.mruSynNs != 0 && !c.firstRTT.Valid && d.TsNs != c.mruSynNs {
		c.firstRTT = Some(d.TsNs - c.mruSynNs)
	}
	if syn && ack && dir == 1 && c.synAckNs == 0 && c.origSynNs != 0 {
		c.synAckNs = d.TsNs
		c.synAckSeq = d.Seq
	}
	if dir == 0 && ack && !syn && c.synAckNs != 0 && !c.synAckAck.Valid && seqGT(d.Ack, c.synAckSeq) {
		c.synAckAck = Some(d.TsNs - c.synAckNs)
	}

	c.setBase(dir, d, syn, ack)
	c.history(dir, d, syn, ack, fin, rst)
	c.updateState(dir, syn, ack, fin, rst, d.Payload)
	c.analyzeSequence(dir, d, syn, ack, fin, rst)
}

// analyzeSequence applies Wireshark's tcp_analyze_sequence_number rules, in
// their order, to a packet sent in direction dir.
func (c *tcpConn) analyzeSequence(dir int, d *Decoded, syn, ack, fin, rst bool) {
	fwd, rev := &c.d[dir], &c.d[1-dir]
	segLen := uint32(d.Payload) // tcp.len: SYN and FIN not included
	sfr := syn || fin || rst
	var flags uint8

	zeroWindowProbe := segLen == 1 && fwd.seqSet && d.Seq == fwd.nextSeq && rev.winSet && rev.win == 0
	keepAlive := false
	if zeroWindowProbe {
		flags |= segZeroWindowProbe
	} else {
		if d.Window == 0 && !sfr {
			x := fwd.trouble()
			x.zeroWindows++
			c.addScaled(dir, x.zeroWindows, 'W')
		}
		if fwd.seqSet && seqGT(d.Seq, fwd.nextSeq) && !rst && !syn {
			// Previous segment not captured. A SYN re-bases instead (a new ISN).
			fwd.addHole(fwd.nextSeq, d.Seq)
		}
		keepAlive = segLen <= 1 && fwd.seqSet && d.Seq == fwd.nextSeq-1 && !sfr
		if keepAlive {
			flags |= segKeepAlive
		}
		sameAck := segLen == 0 && !sfr && fwd.winSet && d.Window == fwd.win &&
			fwd.seqSet && d.Seq == fwd.nextSeq && fwd.ackSet && d.Ack == fwd.lastAck
		switch {
		case sameAck && d.Window != 0 && rev.lastSegFlags&segKeepAlive != 0:
			// An ACK of a keep-alive, not a duplicate.
		case sameAck && d.Window == 0 && rev.lastSegFlags&segZeroWindowProbe != 0:
			// An ACK of a zero-window probe.
		case sameAck && d.Window != 0:
			fwd.dupAckNum = min(fwd.dupAckNum, math.MaxUint8-1) + 1
			fwd.trouble().dupAcks++
		}
	}
	if !fwd.ackSet || d.Ack != fwd.lastAck {
		fwd.dupAckNum = 0
	}

	// Zeek's 'T': payload whose end does not pass the highest end seen.
	if segLen > 0 && fwd.seqSet && fwd.state != stReset {
		end := d.Seq + segLen
		if syn || fin {
			end++
		}
		if seqLEQ(end, fwd.nextSeq) {
			x := fwd.trouble()
			x.zeekRetrans++
			c.addScaled(dir, x.zeekRetrans, 'T')
		}
	}

	if !zeroWindowProbe && !keepAlive && (segLen > 0 || syn || fin) {
		end := d.Seq + segLen
		notAdvanced := fwd.seqSet && seqLT(d.Seq, fwd.nextSeq)
		if segLen > 1 && fwd.seqSet && fwd.nextSeq-1 == d.Seq {
			notAdvanced = false
		}
		threshold := int64(oooDefaultNs)
		if c.firstRTT.Valid {
			threshold = c.firstRTT.V
		}
		synFin := uint32(0)
		if syn || fin {
			synFin = 1
		}
		sinceNext := d.TsNs - fwd.nextSeqNs
		switch {
		case segLen > 0 && rev.ackSet && seqLEQ(end, rev.lastAck):
			c.retransmitted(dir, d.Seq, end, segLen) // spurious
		case notAdvanced && rev.dupAckNum >= 2 && rev.lastAck == d.Seq && d.TsNs-rev.lastAckNs < fastRetransWindowNs:
			c.retransmitted(dir, d.Seq, end, segLen) // fast
		case notAdvanced && sinceNext >= 0 && sinceNext < threshold && fwd.nextSeq != end+synFin:
			fwd.trouble().outOfOrder++
			fwd.fillHoles(d.Seq, end+synFin)
			fwd.markRetrans(d.Seq, end+synFin, false)
		case notAdvanced:
			c.retransmitted(dir, d.Seq, end, segLen)
		}
	}

	next := d.Seq + segLen
	if syn || fin {
		next++
	}
	if syn {
		// A SYN (re)starts the direction's sequence space: no hole before it.
		if fwd.x != nil {
			fwd.x.holes = fwd.x.holes[:0]
		}
		fwd.seqSet = false
	}
	if !zeroWindowProbe && (!fwd.seqSet || seqGT(next, fwd.nextSeq)) {
		if segLen > 0 && !rst {
			fwd.pushSegment(d.Seq, next, d.TsNs)
		}
		fwd.seqSet, fwd.nextSeq, fwd.nextSeqNs = true, next, d.TsNs
	}
	fwd.win, fwd.winSet = d.Window, true
	fwd.lastSegFlags = flags
	if ack {
		c.acknowledge(dir, d)
	}
}

// retransmitted counts a retransmission of [seq, end) by direction dir.
func (c *tcpConn) retransmitted(dir int, seq, end, segLen uint32) {
	s := &c.d[dir]
	x := s.trouble()
	x.retransPkts++
	x.retransBytes += int64(segLen)
	s.fillHoles(seq, end)
	s.markRetrans(seq, end, true)
}

// acknowledge handles the ACK field of a packet sent in direction dir:
// RTT samples for the reverse direction's data. Karn's rule: only a segment
// sent once gives a sample, and only when the ACK ends exactly on it.
func (c *tcpConn) acknowledge(dir int, d *Decoded) {
	fwd, rev := &c.d[dir], &c.d[1-dir]
	if !fwd.ackSet || seqGT(d.Ack, fwd.maxAck) {
		fwd.maxAck = d.Ack
	}
	var gapSet bool
	var gapAck uint32
	if rev.x != nil {
		gapSet, gapAck = rev.x.gapSet, rev.x.gapAck
	}
	if rev.seqSet && (!gapSet || seqGT(d.Ack, gapAck)) && rev.acksUnseen(d.Ack, gapSet, gapAck) &&
		c.d[0].state == stEstablished && c.d[1].state == stEstablished {
		// Zeek's 'G': the peer acknowledges data the capture never saw.
		x := rev.trouble()
		x.gapSet, x.gapAck = true, d.Ack
		x.gaps++
		c.addScaled(1-dir, x.gaps, 'G')
	}
	fwd.ackSet = true
	fwd.lastAck = d.Ack
	fwd.lastAckNs = d.TsNs
	n := 0
	for _, s := range rev.unacked {
		if !seqLEQ(s.end, d.Ack) {
			break
		}
		if s.end == d.Ack && s.sentNs != noSample {
			c.cold[1-dir].rtt.add(d.TsNs - s.sentNs)
		}
		n++
	}
	if n > 0 {
		rev.unacked = append(rev.unacked[:0], rev.unacked[n:]...)
	}
}

func (s *tcpDir) pushSegment(start, end uint32, ts int64) {
	if len(s.unacked) < maxUnacked {
		s.unacked = append(s.unacked, segment{start: start, end: end, sentNs: max(ts, noSample+1)})
	}
}

// markRetrans marks the remembered segments that [start, end) overlaps as
// giving no RTT sample (Karn), and with later set also every segment above
// it: those were sent before this repeat, so their ACK waited for the repair
// (tcptrace's rule).
func (s *tcpDir) markRetrans(start, end uint32, later bool) {
	for i := range s.unacked {
		u := &s.unacked[i]
		if seqLT(start, u.end) && (seqLT(u.start, end) || later) {
			u.sentNs = noSample
		}
	}
}

func (s *tcpDir) addHole(start, end uint32) {
	x := s.trouble()
	if len(x.holes) == maxHoles {
		// Merge the two adjacent holes with the smallest distance between
		// them; the bytes in between count as missed.
		best := 0
		for i := 1; i+1 < len(x.holes); i++ {
			if x.holes[i+1].start-x.holes[i].end < x.holes[best+1].start-x.holes[best].end {
				best = i
			}
		}
		x.holes[best].end = x.holes[best+1].end
		x.holes = slices.Delete(x.holes, best+1, best+2)
	}
	x.holes = append(x.holes, hole{start, end})
}

// fillHoles removes [start, end) from the recorded holes.
func (s *tcpDir) fillHoles(start, end uint32) {
	if s.x == nil {
		return
	}
	x := s.x
	for i := 0; i < len(x.holes); i++ {
		h := x.holes[i]
		if !seqLT(start, h.end) || !seqLT(h.start, end) {
			continue // no overlap
		}
		switch {
		case seqLEQ(start, h.start) && seqLEQ(h.end, end):
			x.holes = slices.Delete(x.holes, i, i+1)
			i--
		case seqLEQ(start, h.start):
			x.holes[i].start = end
		case seqLEQ(h.end, end):
			x.holes[i].end = start
		default:
			x.holes[i].end = start
			x.holes = slices.Insert(x.holes, i+1, hole{end, h.end})
			i++
		}
	}
}

// acksUnseen reports whether an acknowledgement up to ack covers sequence
// space of this direction that was never captured (a hole, or beyond the
// last segment seen) and lies past from, the point gaps were reported to.
func (s *tcpDir) acksUnseen(ack uint32, fromSet bool, from uint32) bool {
	if seqGT(ack, s.nextSeq) {
		return true
	}
	for _, h := range s.holes() {
		if seqLT(h.start, ack) && (!fromSet || seqGT(h.end, from)) {
			return true
		}
	}
	return false
}

// missed returns the sequence space of this direction never seen: holes
// left between captured segments, plus data the peer acknowledged beyond
// the last segment seen.
func (s *tcpDir) missed(peer *tcpDir) int64 {
	var n int64
	for _, h := range s.holes() {
		n += int64(h.end - h.start)
	}
	if s.seqSet && peer.ackSet && seqGT(peer.maxAck, s.nextSeq) {
		n += int64(peer.maxAck - s.nextSeq)
	}
	return n
}

func (c *tcpConn) history(dir int, d *Decoded, syn, ack, fin, rst bool) {
	s := &c.cold[dir]
	sfr := d.Flags & (flagSYN | flagFIN | flagRST)
	switch {
	case sfr&(sfr-1) != 0: // two or more of SYN, FIN and RST
		if fin && rst {
			c.addOnce(dir, histFinRst, 'I')
		} else {
			c.addOnce(dir, histMulti, 'Q')
		}
	case syn:
		letter := byte('S')
		if ack {
			letter = 'H'
		}
		if !s.synSet || d.Seq != s.lastSyn {
			c.addHistory(dir, letter)
		}
		s.synSet, s.lastSyn = true, d.Seq
	case fin:
		end := d.Seq + uint32(d.Payload)
		if !s.finSet || end != s.lastFin {
			c.addHistory(dir, 'F')
		}
		s.finSet, s.lastFin = true, end
	case rst:
		if !s.rstSet || d.Seq != s.lastRst {
			c.addHistory(dir, 'R')
		}
		s.rstSet, s.lastRst = true, d.Seq
	case d.Payload > 0:
		c.addOnce(dir, histData, 'D')
	case ack:
		c.addOnce(dir, histAck, 'A')
	}
}

func (s *tcpDir) setState(st endpointState) {
	s.prevState, s.state = s.state, st
}

// updateState advances Zeek's endpoint state machine (UpdateStateMachine in
// Zeek's TCPSessionAdapter) for a packet sent in direction dir; index 0 is
// the originator.
func (c *tcpConn) updateState(dir int, syn, ack, fin, rst bool, payload int64) {
	s, peer := &c.d[dir], &c.d[1-dir]
	isOrig := dir == 0
	if payload > 0 {
		s.sentData = true
	}
	if fin {
		s.sawFin = true
	}
	if rst {
		s.sawRst = true
	}
	switch s.state {
	case stInactive:
		if syn {
			switch {
			case isOrig && ack:
				s.setState(stSynAckSent)
			case isOrig:
				s.setState(stSynSent)
			default:
				if peer.state == stSynSent {
					peer.setState(stEstablished)
				}
				s.setState(stEstablished)
			}
		}
		if fin {
			s.setState(stClosed)
		}
		if rst {
			s.setState(stReset)
		}
		if s.state == stInactive {
			switch {
			case !isOrig && payload == 0 && peer.state == stSynSent:
				// A bare ACK before the SYN/ACK: still inactive.
			case ack && peer.state == stEstablished:
				s.setState(stEstablished)
			default:
				s.setState(stPartial)
			}
		}
	case stSynSent, stSynAckSent:
		if fin {
			s.setState(stClosed)
		}
		if rst {
			s.setState(stReset)
		}
	case stEstablished, stPartial:
		if syn && !ack && s.state == stPartial && peer.state == stInactive {
			s.setState(stSynSent)
		}
		if fin && !rst {
			s.setState(stClosed)
			if peer.state == stReset && peer.prevState == stClosed {
				peer.setState(stClosed)
			}
		}
		if rst {
			s.setState(stReset)
		}
	case stClosed:
		if rst && peer.state != stClosed {
			s.setState(stReset)
		}
	}
}

// fill writes the TCP columns of r.
func (c *tcpConn) fill(r *Record) {
	o, p := &c.d[0], &c.d[1]
	r.State = c.connState()
	r.Synthetic = c.synthetic()
	r.pending.hist, r.pending.histLen = c.hist, c.histLen
	ox, px := o.troubleOrNone(), p.troubleOrNone()
	r.OrigRetransPkts, r.RespRetransPkts = ox.retransPkts, px.retransPkts
	r.OrigRetransBytes, r.RespRetransBytes = ox.retransBytes, px.retransBytes
	r.MissedBytes = o.missed(p) + p.missed(o)
	r.OutOfOrder = ox.outOfOrder + px.outOfOrder
	r.DupAcks = ox.dupAcks + px.dupAcks
	r.ZeroWindows = ox.zeroWindows + px.zeroWindows
	if c.synAckNs != 0 {
		r.RTTSynSynAck = Some(c.synAckNs - c.origSynNs)
	}
	r.RTTSynAckAck = c.synAckAck
	r.RTTHandshake = c.firstRTT
	r.OrigRTT = c.cold[0].rtt.stats()
	r.RespRTT = c.cold[1].rtt.stats()
}

// connState maps the endpoint states to Zeek's conn_state.
func (c *tcpConn) connState() string {
	os, rs := c.d[0].state, c.d[1].state
	oInactive := os == stInactive || os == stPartial
	rInactive := rs == stInactive || rs == stPartial
	switch {
	case rs == stReset:
		if os == stSynSent || os == stSynAckSent || (os == stReset && !c.d[0].sentData && !c.d[1].sentData) {
			return "REJ"
		}
		if oInactive {
			return "RSTRH"
		}
		return "RSTR"
	case os == stReset:
		if !rInactive {
			return "RSTO"
		}
		if c.rstos0History() {
			return "RSTOS0"
		}
		return "OTH"
	case os == stClosed && rs == stClosed:
		return "SF"
	case os == stClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == stClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == stSynSent && rs == stInactive:
		return "S0"
	case os == stEstablished && rs == stEstablished:
		return "S1"
	}
	return "OTH"
}

// rstos0History matches Zeek's /^\^?S[^HAFGIQ]*R/ on the history.
func (c *tcpConn) rstos0History() bool {
	h := c.hist[:c.histLen]
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, b := range h[1:] {
		switch b {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
