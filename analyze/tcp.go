package analyze

import (
	"net/netip"
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
	// maxHoles caps the sequence gaps tracked per direction; beyond it the
	// two closest holes are merged (the count can then only grow).
	maxHoles = 16
	// maxHistory caps the history string; Zeek letters repeat only on
	// new sequence numbers, so only hostile traffic reaches it.
	maxHistory = 48
)

type segment struct {
	end     uint32 // sequence number just past the segment
	sentNs  int64
	retrans bool // sent more than once: no RTT sample (Karn)
}

type hole struct{ start, end uint32 }

// History letters recorded at most once per direction.
const (
	histData = 1 << iota
	histAck
	histMulti
	histFinRst
)

// tcpDir is the state of one direction (the packets one endpoint sends).
type tcpDir struct {
	state endpointState

	seqSet    bool   // nextSeq is known
	nextSeq   uint32 // highest seq + segment length seen (Wireshark's nextseq)
	baseSeq   uint32 // first sequence number seen (ISN for a SYN)
	lastSeqNs int64  // time nextSeq last advanced

	ackSet    bool
	lastAck   uint32 // last acknowledgement number this side sent
	maxAck    uint32 // highest acknowledgement number this side sent
	lastAckNs int64
	winSet    bool
	win       uint16
	dupAckRun int // consecutive duplicate ACKs this side sent

	retransPkts, retransBytes int64
	outOfOrder, dupAcks       int64
	zeroWindows               int64
	gaps                      int64

	holes   []hole
	unacked []segment
	rtt     rttAcc

	histOnce                  uint8
	synSet, finSet, rstSet    bool
	lastSyn, lastFin, lastRst uint32
	sawSyn, sawSynAck         bool
	sawFin, sawRst            bool
	sentData                  bool
}

// rttAcc accumulates RTT samples: exact count, min and max; the median is
// exact up to maxSamples samples and taken from a uniform reservoir after.
type rttAcc struct {
	n        int64
	min, max int64
	samples  []int64
	rng      uint64
}

func (a *rttAcc) add(v int64) {
	a.n++
	if a.n == 1 || v < a.min {
		a.min = v
	}
	if v > a.max {
		a.max = v
	}
	if len(a.samples) < maxSamples {
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

func (a *rttAcc) stats() RTTStats {
	if a.n == 0 {
		return RTTStats{}
	}
	slices.Sort(a.samples)
	return RTTStats{Samples: a.n, MinNs: a.min, MaxNs: a.max, P50Ns: a.samples[(len(a.samples)-1)/2]}
}

// tcpConn is the TCP state of a flow. Index 0 is the originator.
type tcpConn struct {
	d [2]tcpDir

	mruSynNs  int64 // most recent SYN without ACK (any direction), 0 = none
	firstRTT  Opt   // Wireshark's iRTT
	origSynNs int64 // most recent SYN from the originator before the SYN/ACK
	synAckNs  int64 // first SYN/ACK from the responder, 0 = none
	synAckSeq uint32
	synSynAck Opt
	synAckAck Opt
	hist      [maxHistory]byte
	histLen   int
}

func (c *tcpConn) reset() {
	d0, d1 := c.d[0], c.d[1]
	*c = tcpConn{}
	// Keep the slices' memory for the next flow.
	for i, old := range [2]*tcpDir{&d0, &d1} {
		c.d[i].holes = old.holes[:0]
		c.d[i].unacked = old.unacked[:0]
		c.d[i].rtt.samples = old.rtt.samples[:0]
	}
}

// startsNewConnection reports whether the packet opens a new connection on
// the flow's 5-tuple: a SYN without ACK whose sequence number differs from
// the first one its sender used (Wireshark's "port numbers reused"), or a
// SYN after the connection was closed or reset.
func (c *tcpConn) startsNewConnection(f *flow, src netip.AddrPort, d *Decoded) bool {
	if d.Flags&(flagSYN|flagACK) != flagSYN {
		return false
	}
	dir := 0
	if src != f.orig {
		dir = 1
	}
	s := &c.d[dir]
	return s.seqSet && d.Seq != s.baseSeq
}

// closed reports whether both sides have closed or either has reset.
func (c *tcpConn) closed() bool {
	return c.d[0].sawRst || c.d[1].sawRst || (c.d[0].sawFin && c.d[1].sawFin)
}

func (c *tcpConn) addHistory(dir int, letter byte) {
	if c.histLen >= maxHistory {
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
	fwd, rev := &c.d[dir], &c.d[1-dir]
	syn, ack := d.Flags&flagSYN != 0, d.Flags&flagACK != 0
	fin, rst := d.Flags&flagFIN != 0, d.Flags&flagRST != 0
	payload := uint32(d.Payload)

	// Handshake timing. iRTT follows Wireshark exactly: the most recent SYN
	// without ACK, then the first packet with ACK and without SYN.
	if syn && !ack {
		c.mruSynNs = d.TsNs
		if dir == 0 && c.synAckNs == 0 {
			c.origSynNs = d.TsNs
		}
	}
	if ack && !syn && c.mruSynNs != 0 && !c.firstRTT.Valid {
		c.firstRTT = Some(d.TsNs - c.mruSynNs)
	}
	if syn && ack && dir == 1 && c.synAckNs == 0 && c.origSynNs != 0 {
		c.synAckNs = d.TsNs
		c.synAckSeq = d.Seq
		c.synSynAck = Some(d.TsNs - c.origSynNs)
	}
	if dir == 0 && ack && !syn && c.synAckNs != 0 && !c.synAckAck.Valid && seqGT(d.Ack, c.synAckSeq) {
		c.synAckAck = Some(d.TsNs - c.synAckNs)
	}

	c.history(dir, d, syn, ack, fin, rst)
	c.updateState(dir, syn, ack, fin, rst, payload)

	// Sequence analysis (Wireshark's rules, applied in file order).
	segLen := payload
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen = 0
	}
	if !fwd.seqSet {
		fwd.seqSet = true
		fwd.baseSeq = d.Seq
		fwd.nextSeq = d.Seq + segLen
		fwd.lastSeqNs = d.TsNs
		if payload > 0 && !rst {
			fwd.pushSegment(d.Seq+segLen, d.TsNs)
		}
	} else if segLen > 0 {
		c.sequence(dir, d, segLen, payload, syn, fin)
	}

	if ack {
		c.acknowledge(dir, d, syn, fin, rst)
	}
	if d.Window == 0 && !syn && !fin && !rst {
		fwd.zeroWindows++
		c.addScaled(dir, fwd.zeroWindows, 'W')
	}
	fwd.win, fwd.winSet = d.Window, true
	_ = rev
}

// sequence classifies a segment that occupies sequence space.
func (c *tcpConn) sequence(dir int, d *Decoded, segLen, payload uint32, syn, fin bool) {
	fwd, rev := &c.d[dir], &c.d[1-dir]
	end := d.Seq + segLen
	keepAlive := payload <= 1 && !syn && !fin && d.Seq == fwd.nextSeq-1
	zeroWindowProbe := payload == 1 && d.Seq == fwd.nextSeq && rev.winSet && rev.win == 0
	switch {
	case keepAlive || zeroWindowProbe:
		return
	case seqLT(d.Seq, fwd.nextSeq):
		spurious := !syn && !fin && payload > 0 && rev.ackSet && seqLEQ(end, rev.lastAck)
		fast := rev.dupAckRun >= 2 && d.Seq == rev.lastAck && d.TsNs-rev.lastAckNs < fastRetransWindowNs
		threshold := int64(oooDefaultNs)
		if c.firstRTT.Valid {
			threshold = c.firstRTT.V
		}
		ooo := end != fwd.nextSeq && d.TsNs-fwd.lastSeqNs < threshold
		if !spurious && !fast && ooo {
			fwd.outOfOrder++
			fwd.fillHoles(d.Seq, end)
			fwd.markRetrans(d.Seq, end)
		} else {
			fwd.retransPkts++
			fwd.retransBytes += int64(payload)
			fwd.fillHoles(d.Seq, end)
			fwd.markRetrans(d.Seq, end)
			if payload > 0 {
				c.addScaled(dir, fwd.retransPkts, 'T')
			}
		}
		if seqGT(end, fwd.nextSeq) {
			fwd.nextSeq = end
			fwd.lastSeqNs = d.TsNs
		}
		return
	case seqGT(d.Seq, fwd.nextSeq):
		fwd.addHole(fwd.nextSeq, d.Seq)
		fwd.gaps++
		c.addScaled(dir, fwd.gaps, 'G')
	}
	fwd.nextSeq = end
	fwd.lastSeqNs = d.TsNs
	if payload > 0 {
		fwd.pushSegment(end, d.TsNs)
	}
}

// acknowledge handles the ACK field of a packet sent in direction dir.
func (c *tcpConn) acknowledge(dir int, d *Decoded, syn, fin, rst bool) {
	fwd, rev := &c.d[dir], &c.d[1-dir]
	if fwd.ackSet && d.Payload == 0 && d.Window != 0 && fwd.winSet && d.Window == fwd.win &&
		d.Seq == fwd.nextSeq && d.Ack == fwd.lastAck && !syn && !fin && !rst {
		fwd.dupAcks++
		fwd.dupAckRun++
	} else if !fwd.ackSet || d.Ack != fwd.lastAck {
		fwd.dupAckRun = 0
	}
	if !fwd.ackSet || seqGT(d.Ack, fwd.maxAck) {
		fwd.maxAck = d.Ack
	}
	fwd.ackSet = true
	fwd.lastAck = d.Ack
	fwd.lastAckNs = d.TsNs

	// RTT samples for the reverse direction's data (Karn: only segments sent
	// once, and only the segment the ACK ends on exactly).
	n := 0
	for _, s := range rev.unacked {
		if !seqLEQ(s.end, d.Ack) {
			break
		}
		if s.end == d.Ack && !s.retrans {
			rev.rtt.add(d.TsNs - s.sentNs)
		}
		n++
	}
	if n > 0 {
		rev.unacked = append(rev.unacked[:0], rev.unacked[n:]...)
	}
}

func (s *tcpDir) pushSegment(end uint32, ts int64) {
	if len(s.unacked) < maxUnacked {
		s.unacked = append(s.unacked, segment{end: end, sentNs: ts})
	}
}

func (s *tcpDir) markRetrans(start, end uint32) {
	for i := range s.unacked {
		u := &s.unacked[i]
		if seqGT(u.end, start) && seqLEQ(u.end, end) || seqGT(u.end, end) && seqLT(start, u.end) {
			u.retrans = true
		}
	}
}

func (s *tcpDir) addHole(start, end uint32) {
	if len(s.holes) == maxHoles {
		// Merge the two adjacent holes with the smallest distance between
		// them; the bytes in between count as missed.
		best := 0
		for i := 1; i+1 < len(s.holes); i++ {
			if s.holes[i+1].start-s.holes[i].end < s.holes[best+1].start-s.holes[best].end {
				best = i
			}
		}
		s.holes[best].end = s.holes[best+1].end
		s.holes = slices.Delete(s.holes, best+1, best+2)
	}
	s.holes = append(s.holes, hole{start, end})
}

// fillHoles removes [start, end) from the recorded holes.
func (s *tcpDir) fillHoles(start, end uint32) {
	for i := 0; i < len(s.holes); i++ {
		h := s.holes[i]
		if !seqLT(start, h.end) || !seqLT(h.start, end) {
			continue // no overlap
		}
		switch {
		case seqLEQ(start, h.start) && seqLEQ(h.end, end):
			s.holes = slices.Delete(s.holes, i, i+1)
			i--
		case seqLEQ(start, h.start):
			s.holes[i].start = end
		case seqLEQ(h.end, end):
			s.holes[i].end = start
		default:
			s.holes[i].end = start
			s.holes = slices.Insert(s.holes, i+1, hole{end, h.end})
			i++
		}
	}
}

// missed returns the sequence space of this direction never seen: holes
// left between captured segments, plus data the peer acknowledged beyond
// the last segment seen.
func (s *tcpDir) missed(peer *tcpDir) int64 {
	var n int64
	for _, h := range s.holes {
		n += int64(h.end - h.start)
	}
	if s.seqSet && peer.ackSet && seqGT(peer.maxAck, s.nextSeq) {
		n += int64(peer.maxAck - s.nextSeq)
	}
	return n
}

func (c *tcpConn) history(dir int, d *Decoded, syn, ack, fin, rst bool) {
	s := &c.d[dir]
	bits := 0
	for _, b := range [3]bool{syn, fin, rst} {
		if b {
			bits++
		}
	}
	switch {
	case bits > 1:
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

// updateState advances Zeek's endpoint state machine for a packet sent in
// direction dir.
func (c *tcpConn) updateState(dir int, syn, ack, fin, rst bool, payload uint32) {
	s, peer := &c.d[dir], &c.d[1-dir]
	if payload > 0 {
		s.sentData = true
	}
	switch {
	case rst:
		s.sawRst = true
		s.state = stReset
		return
	case s.state == stReset:
		return
	case fin:
		s.sawFin = true
		s.state = stClosed
		return
	case s.state == stClosed:
		return
	case syn && !ack:
		s.sawSyn = true
		if s.state == stInactive {
			s.state = stSynSent
		}
	case syn && ack:
		s.sawSynAck = true
		if s.state == stInactive || s.state == stPartial {
			s.state = stSynAckSent
		}
		if peer.state == stSynSent {
			// The SYN/ACK shows the originator's SYN got through.
			peer.state = stEstablished
			s.state = stEstablished
		}
	default:
		switch s.state {
		case stInactive:
			s.state = stPartial
		case stSynSent, stSynAckSent:
			if ack && (peer.state == stSynAckSent || peer.state == stEstablished) {
				s.state = stEstablished
				peer.state = stEstablished
			}
		}
	}
}

// fill writes the TCP columns of r.
func (c *tcpConn) fill(r *Record, flipped bool) {
	o, p := &c.d[0], &c.d[1]
	r.State = c.connState()
	var h []byte
	if flipped {
		h = append(h, '^')
	}
	r.History = string(append(h, c.hist[:c.histLen]...))
	r.OrigRetransPkts, r.RespRetransPkts = o.retransPkts, p.retransPkts
	r.OrigRetransBytes, r.RespRetransBytes = o.retransBytes, p.retransBytes
	r.MissedBytes = o.missed(p) + p.missed(o)
	r.OutOfOrder = o.outOfOrder + p.outOfOrder
	r.DupAcks = o.dupAcks + p.dupAcks
	r.ZeroWindows = o.zeroWindows + p.zeroWindows
	r.RTTSynSynAck = c.synSynAck
	r.RTTSynAckAck = c.synAckAck
	r.RTTHandshake = c.firstRTT
	r.OrigRTT = o.rtt.stats()
	r.RespRTT = p.rtt.stats()
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
