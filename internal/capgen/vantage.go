package capgen

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Vantage says how Double records a capture's packets a second time, as
// Kubeshark's eBPF capture does when both ends of a connection are targeted
// pods: once at the sender's egress and once at the receiver's ingress.
type Vantage struct {
	// Local is the host the capture was taken on: its packets' records in
	// the capture are its egress copies, and the packets it received are
	// its ingress copies.
	Local []netip.Addr
	// Delay is the one-way path delay between the two hosts.
	Delay time.Duration
	// Offset is the remote node's clock minus the local node's (0 on one
	// node); it may be negative. The remote copy of a packet the local host
	// sent is stamped t+Delay+Offset, of one it received t-Delay+Offset.
	Offset time.Duration
	// Hops is how much the TTL (hop limit) drops between the two copies
	// (default 1). Bridged keeps it: no router between the two points.
	Hops    uint8
	Bridged bool
	// GSO merges up to this many consecutive data segments a host sent in
	// one burst into one super-packet at that host's egress copy (0 or 1:
	// none). A burst: same connection, contiguous sequence numbers, TCP
	// headers equal but for sequence number, checksum and PSH, and sent
	// within gsoSpan of its first segment.
	GSO int
	// LoseCopy lists packet indices whose remote copy is missing (lost
	// between the two vantage points, or dropped by the capture).
	LoseCopy []int
	// Retransmit lists packet indices of TCP data that the sender sends
	// again, byte for byte (IP ID included), RetransmitAfter later: a
	// repeat at one vantage point that must stay a retransmission.
	Retransmit      []int
	RetransmitAfter time.Duration
}

// Double returns the capture pkts (frames of link) as two raw IP captures
// (LINKTYPE_RAW, as Kubeshark exports): single, the packets as recorded,
// with the retransmissions of v added; and doubled, the same with every TCP
// and UDP packet also recorded at the remote vantage point (TTL lower at
// the receiver, GSO merges at the sender), merged by time (records of one
// time in the order of the packets they stand for). Other packets
// appear once. The delays put in are the transit times a fold must find.
func Double(link Link, pkts []Packet, v Vantage) (single, doubled []Packet, err error) {
	hops := v.Hops
	switch {
	case v.Bridged:
		hops = 0
	case hops == 0:
		hops = 1
	}
	lose := map[int]bool{}
	for _, i := range v.LoseCopy {
		lose[i] = true
	}
	var ips []vpkt
	for i, p := range pkts {
		ip, err := ipOf(link, p.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("packet %d: %w", i, err)
		}
		ips = append(ips, vpkt{at: p.Time, ip: ip, index: i})
	}
	for _, i := range v.Retransmit {
		if i < 0 || i >= len(ips) || ips[i].proto() != 6 {
			return nil, nil, fmt.Errorf("packet %d: not a TCP packet to retransmit", i)
		}
		ips = append(ips, vpkt{at: ips[i].at.Add(v.RetransmitAfter), ip: ips[i].ip, index: len(pkts) + i})
	}
	slices.SortStableFunc(ips, func(a, b vpkt) int { return a.at.Compare(b.at) })
	var remote []vpkt // the remote vantage point's records
	var egress []vpkt // each host's egress records, to merge into super-packets
	var locals []vpkt // the local vantage point's records but its egress ones
	for k, p := range ips {
		p.order = k
		single = append(single, p.packet())
		if p.proto() != 6 && p.proto() != 17 {
			locals = append(locals, p)
			continue
		}
		sent := slices.Contains(v.Local, p.src())
		local, other := p, p
		other.ip = slices.Clone(p.ip)
		if sent {
			setTTL(other.ip, ttlOf(p.ip)-hops)
			other.at = p.at.Add(v.Delay + v.Offset)
			egress = append(egress, local)
		} else {
			local.ip = slices.Clone(p.ip)
			setTTL(local.ip, ttlOf(p.ip)-hops)
			other.at = p.at.Add(-v.Delay + v.Offset)
			egress = append(egress, other)
			locals = append(locals, local)
		}
		if !lose[p.index] {
			if sent {
				remote = append(remote, other)
			} else {
				egress[len(egress)-1].remote = true
			}
		} else if !sent {
			egress = egress[:len(egress)-1]
		}
	}
	// Egress records: merged into super-packets, then placed.
	for _, e := range mergeGSO(egress, v.GSO) {
		if e.remote {
			remote = append(remote, e)
		} else {
			locals = append(locals, e)
		}
	}
	// By time, and records of one time in the order of the packets they
	// stand for: the local vantage point keeps the capture's order where
	// its clock gives several packets one time.
	all := append(locals, remote...)
	slices.SortStableFunc(all, func(a, b vpkt) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	for _, r := range all {
		doubled = append(doubled, r.packet())
	}
	return single, doubled, nil
}

// vpkt is one IP packet record while Double builds a capture.
type vpkt struct {
	at     time.Time
	ip     []byte
	index  int
	order  int  // its packet's place in the capture, by time
	remote bool // an egress record of the remote host
}

func (p vpkt) packet() Packet { return Packet{Time: p.at, Data: p.ip, Length: len(p.ip)} }

func (p vpkt) v4() bool { return p.ip[0]>>4 == 4 }

func (p vpkt) ihl() int {
	if p.v4() {
		return int(p.ip[0]&0x0f) * 4
	}
	return 40
}

func (p vpkt) proto() byte {
	if p.v4() {
		return p.ip[9]
	}
	return p.ip[6]
}

func (p vpkt) src() netip.Addr {
	if p.v4() {
		return netip.AddrFrom4([4]byte(p.ip[12:16]))
	}
	return netip.AddrFrom16([16]byte(p.ip[8:24]))
}

// ipOf returns a copy of the IP packet in a frame, cut to its IP length
// (Ethernet pads short frames).
func ipOf(link Link, frame []byte) ([]byte, error) {
	off := 0
	switch link {
	case Ethernet:
		off = 14
	case SLL2:
		off = 20
	}
	if len(frame) < off+20 {
		return nil, fmt.Errorf("frame of %d bytes: no IP header", len(frame))
	}
	ip := frame[off:]
	n := len(ip)
	switch ip[0] >> 4 {
	case 4:
		n = int(binary.BigEndian.Uint16(ip[2:4]))
	case 6:
		if len(ip) < 40 {
			return nil, fmt.Errorf("IPv6 header cut")
		}
		n = 40 + int(binary.BigEndian.Uint16(ip[4:6]))
	default:
		// Not IP (ARP, for example): kept whole.
	}
	return slices.Clone(ip[:min(n, len(ip))]), nil
}

func ttlOf(ip []byte) uint8 {
	if ip[0]>>4 == 4 {
		return ip[8]
	}
	return ip[7]
}

// setTTL sets the TTL (hop limit) and, for IPv4, the header checksum.
func setTTL(ip []byte, ttl uint8) {
	if ip[0]>>4 != 4 {
		ip[7] = ttl
		return
	}
	ip[8] = ttl
	ipv4Checksum(ip)
}

func ipv4Checksum(ip []byte) {
	ihl := int(ip[0]&0x0f) * 4
	ip[10], ip[11] = 0, 0
	var sum uint32
	for i := 0; i+1 < ihl; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
}

// gsoSpan bounds the time between the first and the last segment of one
// super-packet in the capture: Linux sizes a GSO packet to about 1 ms of
// data at the connection's pacing rate (tcp_tso_autosize, since 3.12), and
// hands its segments to the wire back to back. Segments further apart were
// sent apart: a keep-alive probe and the data after it, or an interactive
// protocol's records, one per request (merged, the super-packet would be
// stamped before data not yet sent, beyond the fold's window).
const gsoSpan = time.Millisecond

// mergeGSO merges bursts of up to n data segments in egress (time order)
// into super-packets stamped with the burst's first segment's time: what
// the egress hook sees before segmentation offload splits them.
func mergeGSO(egress []vpkt, n int) []vpkt {
	if n < 2 {
		return egress
	}
	var out []vpkt
	open := map[string]int{} // connection and direction -> index in out of the open burst
	count := map[int]int{}
	for _, p := range egress {
		key, seq, ok := burstKey(p)
		if i, found := open[key]; ok && found && count[i] < n && p.remote == out[i].remote && p.at.Sub(out[i].at) <= gsoSpan {
			b := &out[i]
			bseq, blen := tcpSeqLen(*b)
			if bseq+uint32(blen) == seq && len(b.ip)+int(p.tcpPayloadLen()) <= 65535 {
				b.ip = appendSegment(b.ip, p)
				count[i]++
				continue
			}
		}
		delete(open, key)
		out = append(out, vpkt{at: p.at, ip: slices.Clone(p.ip), index: p.index, order: p.order, remote: p.remote})
		if ok {
			open[key] = len(out) - 1
			count[len(out)-1] = 1
		}
	}
	return out
}

// burstKey names the burst a TCP data segment can join: its addresses,
// ports and TCP header but for sequence number, checksum and PSH.
func burstKey(p vpkt) (string, uint32, bool) {
	if p.proto() != 6 || p.tcpPayloadLen() == 0 {
		return "", 0, false
	}
	h := p.ihl()
	tcp := p.ip[h:]
	if tcp[13]&^0x18 != 0 { // anything but ACK and PSH
		return "", 0, false
	}
	hdr := slices.Clone(tcp[:int(tcp[12]>>4)*4])
	seq := binary.BigEndian.Uint32(hdr[4:8])
	clear(hdr[4:8])
	clear(hdr[16:18])
	hdr[13] &^= 0x08
	src, dst := 12, 20
	if !p.v4() {
		src, dst = 8, 40
	}
	return string(p.ip[src:dst]) + string(hdr), seq, true
}

func (p vpkt) tcpPayloadLen() int {
	h := p.ihl()
	return len(p.ip) - h - int(p.ip[h+12]>>4)*4
}

func tcpSeqLen(p vpkt) (uint32, int) {
	return binary.BigEndian.Uint32(p.ip[p.ihl()+4:]), p.tcpPayloadLen()
}

// appendSegment appends segment p's payload to super-packet b, carrying
// PSH over and fixing the IP length (the checksums of a super-packet are
// left to offload, as on a real egress hook).
func appendSegment(b []byte, p vpkt) []byte {
	h := p.ihl()
	payload := p.ip[h+int(p.ip[h+12]>>4)*4:]
	b = append(b, payload...)
	bh := int(b[0]&0x0f) * 4
	if b[0]>>4 == 4 {
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		ipv4Checksum(b)
	} else {
		bh = 40
		binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
	}
	b[bh+13] |= p.ip[h+13] & 0x08
	return b
}
