package analyze

import (
	"encoding/binary"
	"math/bits"

	"github.com/flowproof/flowproof/ingest"
)

// fragment places an IP fragment in its datagram (set by Decode on
// KindIPv4Fragment and KindIPv6Fragment packets).
type fragment struct {
	id      uint32
	off     int32 // byte offset of this piece in the datagram's payload
	size    int32 // payload bytes this piece carries, by the IP lengths
	more    bool  // more fragments follow
	ipHdr   int32 // IP header bytes in front of the piece (IPv6: with the extension headers)
	dataCap int   // cap of the captured piece: it starts at cap(frame)-dataCap
}

// Reassembly limits (Config fields override them).
const (
	DefaultFragTimeoutNs    = 5 * 60 * 1e9 // Zeek's frag_timeout; the datagram cap bounds memory
	DefaultMaxFragDatagrams = 8192
	maxFragPieces           = 64    // received ranges per datagram
	maxDatagram             = 65535 // payload bytes: more is a hostile offset
	fragHeaderBytes         = 60    // transport header kept from the first piece
)

type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	version  uint8
	// ttl keeps the pieces seen at two vantage points apart (dedup.go): each
	// copy of a datagram is rebuilt from its own pieces, and the two are
	// folded as any two records of one packet.
	ttl      uint8
	vlan     int32
	tunnel   Tunnel
	tunnelID int64
}

type span struct{ start, end int32 }

// datagram is a datagram being reassembled. Only what a flow needs is kept:
// the ranges received, the transport header from the first piece and the
// lengths; payload bytes are never stored.
type datagram struct {
	key        fragKey
	firstNs    int64
	have       []span // received ranges, sorted and merged
	total      int32  // payload length once the last piece arrived, -1 before
	ipHdr      int32  // of the first piece
	hdr        [fragHeaderBytes]byte
	hdrHave    uint64    // bit i: hdr[i] was captured
	prev, next *datagram // arrival order, oldest first
}

// reassembler rebuilds fragmented IPv4 and IPv6 datagrams just far enough to
// give their flow one packet: the transport header and the datagram's
// length. Memory is bounded by the number of datagrams in flight.
type reassembler struct {
	timeoutNs  int64
	max        int
	pending    map[fragKey]*datagram
	head, tail *datagram

	fragStats
}

// fragStats counts what reassembly did: datagrams rebuilt, timed out (pieces
// missing), pieces overlapping earlier ones, and datagrams dropped by a cap.
type fragStats struct {
	reassembled, timedOut, overlapping, dropped int64
}

func newReassembler(cfg Config) *reassembler {
	return &reassembler{timeoutNs: cfg.FragTimeoutNs, max: cfg.MaxFragDatagrams, pending: make(map[fragKey]*datagram)}
}

// add takes the fragment d of packet p; when it completes its datagram, it
// fills out with the reassembled packet (as the frame that completed it) and
// returns true.
func (r *reassembler) add(p *ingest.Packet, d *Decoded, out *Decoded) bool {
	for r.head != nil && d.TsNs-r.head.firstNs > r.timeoutNs {
		r.timedOut++
		r.remove(r.head)
	}
	f := &d.frag
	if f.off+f.size > maxDatagram || f.size < 0 {
		r.dropped++ // an offset past any datagram: hostile or corrupt
		return false
	}
	k := fragKey{src: d.Src.As16(), dst: d.Dst.As16(), id: f.id, proto: d.IPProto, version: d.IPVersion, ttl: d.TTL,
		vlan: d.VLAN, tunnel: d.Tunnel, tunnelID: d.TunnelID}
	g := r.pending[k]
	if g == nil {
		if len(r.pending) >= r.max {
			r.dropped++
			r.remove(r.head)
		}
		g = &datagram{key: k, firstNs: d.TsNs, total: -1}
		r.pending[k] = g
		g.prev = r.tail
		if r.tail != nil {
			r.tail.next = g
		} else {
			r.head = g
		}
		r.tail = g
	}
	if !g.insert(span{f.off, f.off + f.size}) {
		r.overlapping++
	}
	if len(g.have) > maxFragPieces {
		r.dropped++
		r.remove(g)
		return false
	}
	if f.off < fragHeaderBytes {
		// The transport header may itself be split (a tiny first fragment).
		start := cap(p.Data) - f.dataCap
		if start >= 0 && start <= len(p.Data) {
			piece := p.Data[start:min(len(p.Data), start+int(min(f.size, fragHeaderBytes-f.off)))]
			for i, b := range piece { // bytes already received win
				if bit := uint64(1) << (int(f.off) + i); g.hdrHave&bit == 0 {
					g.hdr[int(f.off)+i] = b
					g.hdrHave |= bit
				}
			}
		}
	}
	if f.off == 0 {
		g.ipHdr = f.ipHdr
	}
	if !f.more {
		g.total = f.off + f.size
	}
	// Complete when one range covers the whole payload (an overlapping piece
	// may reach past the end the last piece gave: the first bytes win).
	if g.total < 0 || len(g.have) != 1 || g.have[0].start != 0 || g.have[0].end < g.total {
		return false
	}
	*out = *d
	out.frag = fragment{}
	out.IPLen = int64(g.ipHdr) + int64(g.total)
	hdrLen := bits.TrailingZeros64(^g.hdrHave) // captured bytes from the start
	decodeTransport(g.hdr[:hdrLen], int64(g.total), out)
	out.payloadCap = 0 // the payload bytes were not kept
	out.fingerprintDatagram(&g.key, g.hdr[:hdrLen], g.total)
	r.reassembled++
	r.remove(g)
	return true
}

// insert adds s to the received ranges, reporting false when it overlaps
// bytes already received.
func (g *datagram) insert(s span) bool {
	clean := true
	var merged []span
	for _, h := range g.have {
		switch {
		case h.end < s.start || s.end < h.start: // apart
			merged = append(merged, h)
		default:
			if h.end > s.start && s.end > h.start {
				clean = false
			}
			s = span{min(s.start, h.start), max(s.end, h.end)}
		}
	}
	merged = append(merged, s)
	for i := len(merged) - 1; i > 0 && merged[i].start < merged[i-1].start; i-- {
		merged[i], merged[i-1] = merged[i-1], merged[i]
	}
	g.have = merged
	return clean
}

func (r *reassembler) remove(g *datagram) {
	delete(r.pending, g.key)
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		r.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		r.tail = g.prev
	}
	g.prev, g.next = nil, nil
}

// fingerprintDatagram sets out.Fold for a rebuilt datagram (dedup.go): its
// addresses, protocol, IP ID and payload length, and the first bytes of its
// payload that reassembly keeps (the transport header and what follows it,
// up to fragHeaderBytes). The TTL is left out, as for any packet.
func (d *Decoded) fingerprintDatagram(k *fragKey, hdr []byte, total int32) {
	if d.noFold || (d.Kind != KindTCP && d.Kind != KindUDP) || d.Kind == KindTCP && d.BadHeader {
		return
	}
	le := binary.LittleEndian
	s0, s1, d0, d1 := le.Uint64(k.src[0:8]), le.Uint64(k.src[8:16]), le.Uint64(k.dst[0:8]), le.Uint64(k.dst[8:16])
	h := mum(s0^foldK0, s1^foldK1) ^ mum(d0^foldK2, d1^foldK3) ^
		mum(uint64(k.id)|uint64(k.proto)<<32|uint64(k.version)<<40^foldK1, uint64(uint32(total))^foldK0)
	var w [fragHeaderBytes + 7]byte
	copy(w[:], hdr)
	for i := 0; i < len(hdr); i += 16 {
		h ^= mum(le.Uint64(w[i:])^foldK2, le.Uint64(w[i+8:])^foldK3^uint64(i))
	}
	h ^= uint64(len(hdr)) * foldK1
	d.Fold = h&^0xff | 1
	if k.version == 4 {
		d.foldPair = pairSlot(uint64(le.Uint32(k.src[12:16])) | uint64(le.Uint32(k.dst[12:16]))<<32)
	} else {
		d.foldPair = pairSlot(pair6(s0, s1, d0, d1))
	}
}
