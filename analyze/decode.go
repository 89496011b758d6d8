package analyze

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowproof/flowproof/ingest"
)

// Kind classifies a decoded packet. Every packet gets exactly one Kind, so
// nothing is dropped silently: the per-kind counts end up in the manifest.
type Kind uint8

// Packet kinds, in the order they are reported.
const (
	KindTCP Kind = iota
	KindUDP
	KindICMP
	KindICMPv6
	KindIPv4Fragment
	KindIPv6Fragment
	KindOtherIP       // IP with another transport (GRE, ESP, IP-in-IP, SCTP, ...)
	KindARP           //
	KindOtherEther    // a non-IP EtherType (LLDP, STP, ...)
	KindUnsupportedLT // a link type the decoder does not know
	KindTruncated     // headers cut short by the snapshot length
	KindMalformed     // headers that contradict themselves
	numKinds
)

var kindNames = [numKinds]string{
	KindTCP:           "tcp",
	KindUDP:           "udp",
	KindICMP:          "icmp",
	KindICMPv6:        "icmpv6",
	KindIPv4Fragment:  "ipv4-fragment",
	KindIPv6Fragment:  "ipv6-fragment",
	KindOtherIP:       "other-ip",
	KindARP:           "arp",
	KindOtherEther:    "other-ethertype",
	KindUnsupportedLT: "unsupported-linktype",
	KindTruncated:     "truncated-headers",
	KindMalformed:     "malformed-headers",
}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// TCP flag bits as they sit in byte 13 of the header.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// Decoded holds the fields of one packet that the flow table needs. A Decoder
// fills it in place; nothing in it aliases the packet buffer.
type Decoded struct {
	Kind      Kind
	IPProto   uint8  // IP protocol of the innermost header reached
	EtherType uint16 // EtherType of a KindOtherEther packet (0 for a BSD loopback family)
	TsNs      int64
	WireLen   int64 // original frame length
	VLAN      int32 // outermost 802.1Q id, -1 when untagged
	IPVersion uint8
	Src, Dst  netip.Addr
	SrcPort   uint16
	DstPort   uint16
	IPLen     int64 // IPv4 total length, or 40 + IPv6 payload length
	Payload   int64 // transport payload length from the IP lengths

	// TCP only.
	Seq, Ack  uint32
	Flags     uint8
	Window    uint16 // raw, unscaled
	BadHeader bool   // TCP data offset impossible: counted, not analysed

	// TTL is the IPv4 TTL or IPv6 hop limit (of the outermost header for a
	// packet out of a tunnel: routers lower only that one). Fold is the packet's
	// fingerprint for folding vantage copies (dedup.go): a hash of the IP
	// header without TTL/hop limit and checksum, the transport header
	// without checksum, and the captured payload; 0 when it has none (not
	// TCP or UDP, a bad TCP header, a reassembled datagram).
	TTL  uint8
	Fold uint64
	// foldPair is a 12-bit hash of the IP source and destination (the
	// innermost header's), set with Fold: the detect table remembers the
	// last TTL seen per pair slot and compares fingerprints only when it
	// changes (dedup.go, detect).
	foldPair uint16
	noFold   bool // decoded for a table that does not fold: no fingerprint

	// Origin is the packet's ingest.Packet.Origin: 1 + the capture of a
	// merged stream it came from, 0 for a capture read alone.
	Origin uint8

	// Tunnel and TunnelID name the tunnel a packet decoded by DecodeTunnel
	// came out of (TunnelNone and -1 otherwise).
	Tunnel   Tunnel
	TunnelID int64

	frag fragment // an IP fragment's place in its datagram, for reassembly

	// What Decode found about a tunnel payload, for DecodeTunnel.
	carries   Tunnel
	carriesID int64
	innerCap  int             // cap of the payload slice: its offset is cap(frame) - innerCap
	innerLink ingest.LinkType // how the payload starts: Ethernet or raw IP

	// Where the transport payload starts, for PayloadBytes: cap(frame) -
	// payloadCap (0: none).
	payloadCap int
}

// Tunnel is an encapsulation flowproof opens.
type Tunnel uint8

// Tunnels, as the tunnel column names them.
const (
	TunnelNone Tunnel = iota
	TunnelVXLAN
	TunnelGeneve
	TunnelGRE
	TunnelIPIP
)

var tunnelNames = [...]string{TunnelNone: "", TunnelVXLAN: "vxlan", TunnelGeneve: "geneve", TunnelGRE: "gre", TunnelIPIP: "ipip"}

func (t Tunnel) String() string { return tunnelNames[t] }

// UDP ports of the UDP tunnels (destination port).
const (
	portVXLAN      = 4789
	portVXLANLinux = 8472 // the Linux kernel's and flannel's default
	portGeneve     = 6081
)

// DecodeTunnel decodes the packet carried inside outer, a packet Decode
// just decoded from p (p.Data must still be valid), into inner. It reports
// false when outer carries no tunnel flowproof opens: VXLAN, Geneve, GRE
// (version 0, keys included, Ethernet or IP payload) and IP-in-IP (4in4, 6in4,
// 4in6, 6in6). The inner packet keeps the outer frame's length as its wire
// length (the frame is what crossed the wire) and the outermost VLAN id.
func DecodeTunnel(p *ingest.Packet, outer, inner *Decoded) bool {
	if outer.carries == TunnelNone {
		return false
	}
	off := cap(p.Data) - outer.innerCap
	if off < 0 || off > len(p.Data) {
		return false
	}
	sub := ingest.Packet{Data: p.Data[off:], OrigLen: p.OrigLen - off, Timestamp: p.Timestamp, LinkType: outer.innerLink, Index: p.Index}
	decodeFrame(&sub, inner, !outer.noFold)
	inner.WireLen = outer.WireLen
	// Routers between two vantage points lower the outer TTL only: it is
	// the one that tells copies of the inner packet apart (dedup.go).
	inner.TTL = outer.TTL
	inner.Tunnel, inner.TunnelID = outer.carries, outer.carriesID
	if outer.VLAN >= 0 {
		inner.VLAN = outer.VLAN
	}
	return true
}

// tunnelPayload records, for DecodeTunnel, a tunnel payload found in b.
func (d *Decoded) tunnelPayload(kind Tunnel, id int64, b []byte, link ingest.LinkType) {
	d.carries, d.carriesID, d.innerCap, d.innerLink = kind, id, cap(b), link
}

const (
	etherTypeIPv4   = 0x0800
	etherTypeARP    = 0x0806
	etherTypeVLAN   = 0x8100
	etherTypeQinQ   = 0x88a8
	etherTypeQinQv1 = 0x9100
	etherTypeIPv6   = 0x86dd
	etherTypeMPLS   = 0x8847
	etherTypeMPLSMC = 0x8848
	etherTypePPPoE  = 0x8864 // PPPoE session stage
)

// PPP protocol numbers of IP.
const (
	pppIPv4 = 0x0021
	pppIPv6 = 0x0057
)

// Decode fills d from p. It never allocates and never fails: a packet it
// cannot use gets a Kind that says why.
//
// The decoder is hand-written rather than built on gopacket's
// DecodingLayerParser: flows need a dozen fixed fields, and reading them in
// place lets a TCP header cut by the snapshot length still count, lets IPv4
// TSO (total length 0) and IPv6 jumbo/GRO lengths be handled explicitly, and
// keeps the per-packet cost to a few tens of nanoseconds. Tests check it
// against gopacket's full decoder on the public corpus.
func Decode(p *ingest.Packet, d *Decoded) { decodeFrame(p, d, true) }

// decodeFrame is Decode; without fold it leaves Fold 0 (a table with
// Config.NoDedup never reads it).
func decodeFrame(p *ingest.Packet, d *Decoded, fold bool) {
	*d = Decoded{TsNs: p.Timestamp, WireLen: int64(p.OrigLen), VLAN: -1, TunnelID: -1, Origin: p.Origin, noFold: !fold}
	data := p.Data
	// Bytes of link header in the frame; the rest of OrigLen is L3 and up.
	var etherType uint16
	var l2 int
	switch p.LinkType {
	case ingest.LinkTypeEthernet:
		if len(data) < 14 {
			d.Kind = KindTruncated
			return
		}
		etherType = binary.BigEndian.Uint16(data[12:14])
		l2 = 14
	case ingest.LinkTypeLinuxSLL:
		if len(data) < 16 {
			d.Kind = KindTruncated
			return
		}
		etherType = binary.BigEndian.Uint16(data[14:16])
		l2 = 16
	case ingest.LinkTypeLinuxSLL2:
		if len(data) < 20 {
			d.Kind = KindTruncated
			return
		}
		etherType = binary.BigEndian.Uint16(data[0:2])
		l2 = 20
	case ingest.LinkTypeNull, ingest.LinkTypeLoop:
		if len(data) < 4 {
			d.Kind = KindTruncated
			return
		}
		// The address family is in the writer's byte order for NULL and in
		// network order for LOOP; the values are small, so either order is
		// recognisable.
		af := binary.LittleEndian.Uint32(data[0:4])
		if af > 0xffff {
			af = binary.BigEndian.Uint32(data[0:4])
		}
		switch af {
		case 2:
			etherType = etherTypeIPv4
		case 10, 24, 28, 30:
			etherType = etherTypeIPv6
		default:
			d.Kind = KindOtherEther
			return
		}
		l2 = 4
	case ingest.LinkTypeRaw, ingest.LinkTypeRaw12, ingest.LinkTypeRaw14, ingest.LinkTypeIPv4, ingest.LinkTypeIPv6:
		if len(data) < 1 {
			d.Kind = KindTruncated
			return
		}
		switch data[0] >> 4 {
		case 4:
			etherType = etherTypeIPv4
		case 6:
			etherType = etherTypeIPv6
		default:
			d.Kind = KindMalformed
			return
		}
	case ingest.LinkTypePPP, ingest.LinkTypePPPHDLC:
		if etherType, l2 = pppProtocol(data, 0); etherType == 0 {
			d.Kind = KindOtherEther
			return
		}
	case ingest.LinkTypeCHDLC:
		if len(data) < 4 {
			d.Kind = KindTruncated
			return
		}
		etherType, l2 = binary.BigEndian.Uint16(data[2:4]), 4
	case ingest.LinkTypeNFLOG:
		decodeNFLOG(data, d)
		return
	default:
		d.Kind = KindUnsupportedLT
		return
	}

	// 802.1Q / 802.1ad tags (keep the outermost id), MPLS labels and the
	// PPPoE session header, in any order, up to the network layer.
	l3Limit := int64(-1) // a length the encapsulation gives the network layer, -1 for none
	for {
		switch etherType {
		case etherTypeVLAN, etherTypeQinQ, etherTypeQinQv1:
			if len(data) < l2+4 {
				d.Kind = KindTruncated
				return
			}
			if d.VLAN < 0 {
				d.VLAN = int32(binary.BigEndian.Uint16(data[l2:l2+2]) & 0x0fff)
			}
			etherType = binary.BigEndian.Uint16(data[l2+2 : l2+4])
			l2 += 4
			continue
		case etherTypeMPLS, etherTypeMPLSMC:
			// Pop labels to the bottom of the stack; the payload carries no
			// type, so the IP version nibble decides.
			for {
				if len(data) < l2+5 {
					d.Kind = KindTruncated
					return
				}
				bottom := data[l2+2]&0x01 != 0
				l2 += 4
				if bottom {
					break
				}
			}
			switch data[l2] >> 4 {
			case 4:
				etherType = etherTypeIPv4
			case 6:
				etherType = etherTypeIPv6
			default: // a pseudowire: Ethernet or another payload, not decoded
				d.Kind = KindOtherEther
				d.EtherType = etherTypeMPLS
				return
			}
		case etherTypePPPoE:
			if len(data) < l2+6 {
				d.Kind = KindTruncated
				return
			}
			session := l2 + 6
			pppLen := int64(binary.BigEndian.Uint16(data[l2+4 : l2+6]))
			if etherType, l2 = pppProtocol(data, session); etherType == 0 {
				d.Kind = KindOtherEther
				d.EtherType = etherTypePPPoE
				return
			}
			// The PPPoE length bounds the PPP frame: bytes past it are padding.
			l3Limit = pppLen - int64(l2-session)
		}
		break
	}

	l3Wire := int64(p.OrigLen) - int64(l2) // bytes of L3 on the wire
	if l3Limit >= 0 && l3Limit < l3Wire {
		l3Wire = l3Limit
	}
	switch etherType {
	case etherTypeIPv4:
		decodeIPv4(data[l2:], l3Wire, d)
	case etherTypeIPv6:
		decodeIPv6(data[l2:], l3Wire, d)
	case etherTypeARP:
		d.Kind = KindARP
	default:
		d.Kind = KindOtherEther
		d.EtherType = etherType
	}
}

// pppProtocol reads the PPP protocol field at data[off:] (after an optional
// 0xff 0x03 address and control pair, and possibly compressed to one byte)
// and returns the EtherType of IPv4 or IPv6 and the offset of the network
// header, or 0 for another protocol or a cut header.
func pppProtocol(data []byte, off int) (uint16, int) {
	if len(data) >= off+2 && data[off] == 0xff && data[off+1] == 0x03 {
		off += 2
	}
	if len(data) < off+1 {
		return 0, off
	}
	proto := uint16(data[off])
	if proto&1 == 0 { // a two-byte protocol field
		if len(data) < off+2 {
			return 0, off
		}
		proto = binary.BigEndian.Uint16(data[off:])
		off++
	}
	off++
	switch proto {
	case pppIPv4:
		return etherTypeIPv4, off
	case pppIPv6:
		return etherTypeIPv6, off
	}
	return 0, off
}

// decodeNFLOG finds the packet in a Linux NFLOG record: a 4-byte header
// (address family, version, group) and TLVs (length and type in the
// capturing host's byte order, little-endian in practice, each padded to 4
// bytes); type 9 holds the network-layer packet.
func decodeNFLOG(data []byte, d *Decoded) {
	if len(data) < 4 {
		d.Kind = KindTruncated
		return
	}
	family := data[0]
	for off := 4; off+4 <= len(data); {
		n := int(binary.LittleEndian.Uint16(data[off:]))
		typ := binary.LittleEndian.Uint16(data[off+2:]) & 0x7fff
		if n < 4 {
			d.Kind = KindMalformed
			return
		}
		if typ == 9 {
			end := min(off+n, len(data))
			ip := data[off+4 : end]
			switch family {
			case 2:
				decodeIPv4(ip, int64(n-4), d)
			case 10:
				decodeIPv6(ip, int64(n-4), d)
			default:
				d.Kind = KindOtherEther
			}
			return
		}
		off += (n + 3) &^ 3
	}
	d.Kind = KindOtherEther // a record without a packet
}

func decodeIPv4(b []byte, l3Wire int64, d *Decoded) {
	if len(b) < 20 {
		d.Kind = KindTruncated
		return
	}
	if b[0]>>4 != 4 {
		d.Kind = KindMalformed
		return
	}
	ihl := int(b[0]&0x0f) * 4
	total := int64(binary.BigEndian.Uint16(b[2:4]))
	if total == 0 {
		// TCP segmentation offload: the sender left the length to the NIC.
		total = l3Wire
	}
	if ihl < 20 || total < int64(ihl) {
		d.Kind = KindMalformed
		return
	}
	if len(b) < ihl {
		d.Kind = KindTruncated
		return
	}
	d.IPVersion = 4
	d.TTL = b[8]
	d.IPLen = total
	d.IPProto = b[9]
	d.Src = netip.AddrFrom4([4]byte(b[12:16]))
	d.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	if frag := binary.BigEndian.Uint16(b[6:8]); frag&0x3fff != 0 { // MF or an offset
		d.Kind = KindIPv4Fragment
		carried := min(total, l3Wire)
		if carried < int64(ihl) {
			d.Kind = KindMalformed
			return
		}
		d.frag = fragment{id: uint32(binary.BigEndian.Uint16(b[4:6])), off: int32(frag&0x1fff) * 8,
			more: frag&0x2000 != 0, size: int32(carried) - int32(ihl), ipHdr: int32(ihl), dataCap: cap(b[ihl:])}
		return
	}
	// A frame shorter on the wire than the IP length claims carried only
	// what it carried: count payload to the end of the frame (as Wireshark does).
	carried := min(total, l3Wire)
	if carried < int64(ihl) {
		d.Kind = KindMalformed
		return
	}
	end := min(int64(len(b)), carried)
	decodeTransport(b[ihl:end], carried-int64(ihl), d)
	d.fingerprint(b[:end], ihl)
}

// IPv6 extension headers that the decoder walks past.
const (
	ipProtoHopByHop = 0
	ipProtoTCP      = 6
	ipProtoUDP      = 17
	ipProtoRouting  = 43
	ipProtoFragment = 44
	ipProtoAH       = 51
	ipProtoICMPv6   = 58
	ipProtoDestOpts = 60
	ipProtoICMP     = 1
	ipProtoIPIP     = 4
	ipProtoIPv6     = 41
	ipProtoGRE      = 47
)

// udpTunnel recognises a VXLAN or Geneve header at the start of a UDP
// payload (b, as captured).
func (d *Decoded) udpTunnel(b []byte) {
	switch d.DstPort {
	case portVXLAN, portVXLANLinux:
		// flags(1) with the I bit, reserved(3), VNI(3), reserved(1).
		if len(b) >= 8 && b[0]&0x08 != 0 {
			vni := int64(b[4])<<16 | int64(b[5])<<8 | int64(b[6])
			d.tunnelPayload(TunnelVXLAN, vni, b[8:], ingest.LinkTypeEthernet)
		}
	case portGeneve:
		// version(2 bits) and option length in 4-byte words(6), flags(1),
		// protocol type(2), VNI(3), reserved(1), then the options.
		if len(b) < 8 || b[0]>>6 != 0 {
			return
		}
		hdr := 8 + int(b[0]&0x3f)*4
		if len(b) < hdr {
			return
		}
		vni := int64(b[4])<<16 | int64(b[5])<<8 | int64(b[6])
		if link, ok := tunnelLink(binary.BigEndian.Uint16(b[2:4])); ok {
			d.tunnelPayload(TunnelGeneve, vni, b[hdr:], link)
		}
	}
}

// greTunnel recognises a GRE version 0 header (RFC 2784/2890): checksum, key
// and sequence number present by flag; the key, when present, is the id.
func (d *Decoded) greTunnel(b []byte) {
	if len(b) < 4 || b[1]&0x07 != 0 {
		return // version 1 is PPTP's enhanced GRE: not opened
	}
	hdr, id := 4, int64(-1)
	if b[0]&0x80 != 0 { // checksum and reserved
		hdr += 4
	}
	if b[0]&0x20 != 0 { // key
		if len(b) < hdr+4 {
			return
		}
		id = int64(binary.BigEndian.Uint32(b[hdr:]))
		hdr += 4
	}
	if b[0]&0x10 != 0 { // sequence number
		hdr += 4
	}
	if len(b) < hdr {
		return
	}
	if link, ok := tunnelLink(binary.BigEndian.Uint16(b[2:4])); ok {
		d.tunnelPayload(TunnelGRE, id, b[hdr:], link)
	}
}

// tunnelLink maps a tunnel's protocol type to how its payload starts.
func tunnelLink(protocol uint16) (ingest.LinkType, bool) {
	switch protocol {
	case 0x6558: // transparent Ethernet bridging
		return ingest.LinkTypeEthernet, true
	case etherTypeIPv4, etherTypeIPv6:
		return ingest.LinkTypeRaw, true
	}
	return 0, false
}

func decodeIPv6(b []byte, l3Wire int64, d *Decoded) {
	if len(b) < 40 {
		d.Kind = KindTruncated
		return
	}
	if b[0]>>4 != 6 {
		d.Kind = KindMalformed
		return
	}
	d.IPVersion = 6
	d.TTL = b[7]
	d.Src = netip.AddrFrom16([16]byte(b[8:24]))
	d.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	payloadLen := int64(binary.BigEndian.Uint16(b[4:6]))
	next := b[6]
	if payloadLen == 0 {
		// A jumbogram (RFC 2675) or a GRO/BIG TCP packet: the wire length
		// is the only length there is.
		payloadLen = l3Wire - 40
	}
	d.IPLen = 40 + payloadLen
	payloadLen = min(payloadLen, l3Wire-40) // see decodeIPv4: what the frame carried
	if payloadLen < 0 {
		d.Kind = KindMalformed
		return
	}
	rest := b[40:]
	if int64(len(rest)) > payloadLen {
		rest = rest[:payloadLen]
	}
	remaining := payloadLen // bytes of the IPv6 payload not yet consumed
	for {
		switch next {
		case ipProtoHopByHop, ipProtoRouting, ipProtoDestOpts, ipProtoAH, ipProtoFragment:
		default:
			d.IPProto = next
			decodeTransport(rest, remaining, d)
			l4 := cap(b) - cap(rest)
			d.fingerprint(b[:l4+len(rest)], l4)
			return
		}
		if len(rest) < 8 {
			d.IPProto = next
			d.Kind = KindTruncated
			return
		}
		var extLen int
		switch next {
		case ipProtoFragment:
			if offM := binary.BigEndian.Uint16(rest[2:4]); offM&0xfff9 != 0 { // offset or M set
				d.IPProto = rest[0]
				d.Kind = KindIPv6Fragment
				if remaining < 8 {
					d.Kind = KindMalformed
					return
				}
				d.frag = fragment{id: binary.BigEndian.Uint32(rest[4:8]), off: int32(offM>>3) * 8, more: offM&1 != 0,
					size: int32(remaining - 8), ipHdr: int32(d.IPLen - remaining + 8), dataCap: cap(rest[8:])}
				return
			}
			extLen = 8 // an atomic fragment: the payload follows whole
		case ipProtoAH:
			extLen = (int(rest[1]) + 2) * 4
		default:
			extLen = (int(rest[1]) + 1) * 8
		}
		if int64(extLen) > remaining {
			d.Kind = KindMalformed
			return
		}
		next = rest[0]
		remaining -= int64(extLen)
		if extLen > len(rest) {
			d.IPProto = next
			d.Kind = KindTruncated
			return
		}
		rest = rest[extLen:]
	}
}

// decodeTransport reads the TCP or UDP header from b (captured bytes) for a
// transport segment that is segLen bytes long according to the IP header.
func decodeTransport(b []byte, segLen int64, d *Decoded) {
	switch d.IPProto {
	case ipProtoTCP:
		if len(b) < 20 {
			d.Kind = KindTruncated
			return
		}
		hdr := int64(b[12]>>4) * 4
		d.Kind = KindTCP
		d.SrcPort = binary.BigEndian.Uint16(b[0:2])
		d.DstPort = binary.BigEndian.Uint16(b[2:4])
		d.Seq = binary.BigEndian.Uint32(b[4:8])
		d.Ack = binary.BigEndian.Uint32(b[8:12])
		d.Flags = b[13]
		d.Window = binary.BigEndian.Uint16(b[14:16])
		d.Payload = segLen - hdr
		if hdr <= int64(len(b)) {
			d.payloadCap = cap(b) - int(hdr)
		}
		if hdr < 20 || hdr > segLen {
			// The ports are sound but the header length is not: the packet
			// still belongs to its flow (as in tshark), with no payload and
			// no sequence analysis.
			d.BadHeader = true
			d.Payload = 0
		}
	case ipProtoUDP:
		if len(b) < 8 {
			d.Kind = KindTruncated
			return
		}
		if segLen < 8 {
			d.Kind = KindMalformed
			return
		}
		d.Kind = KindUDP
		d.SrcPort = binary.BigEndian.Uint16(b[0:2])
		d.DstPort = binary.BigEndian.Uint16(b[2:4])
		// The UDP length field is the datagram's own claim (tshark counts
		// it); it is trusted only where the IP length backs it.
		d.Payload = segLen - 8
		d.payloadCap = cap(b) - 8
		if udpLen := int64(binary.BigEndian.Uint16(b[4:6])); udpLen >= 8 && udpLen <= segLen {
			d.Payload = udpLen - 8
		}
		d.udpTunnel(b[8:])
	case ipProtoIPIP, ipProtoIPv6:
		d.Kind = KindOtherIP
		d.tunnelPayload(TunnelIPIP, -1, b, ingest.LinkTypeRaw)
	case ipProtoGRE:
		d.Kind = KindOtherIP
		d.greTunnel(b)
	case ipProtoICMP:
		d.Kind = KindICMP
	case ipProtoICMPv6:
		d.Kind = KindICMPv6
	default:
		d.Kind = KindOtherIP
	}
}

// Constants that spread header words before they are combined.
const (
	foldK0 = 0x9e3779b97f4a7c15
	foldK1 = 0xc2b2ae3d27d4eb4f
	foldK2 = 0x165667b19e3779f9
	foldK3 = 0x27d4eb2f165667c5
)

// fingerprint sets d.Fold for a TCP or UDP packet whose IP header starts ip
// (captured bytes, cut to the IP length) and whose transport header starts
// at l4. The bytes that differ between two vantage copies of one packet
// (TTL or hop limit, checksums) are left out; everything else is in. The
// fixed headers are read as words, in place, and the rest sampled
// (restHash).
func (d *Decoded) fingerprint(ip []byte, l4 int) {
	if d.noFold {
		return
	}
	le := binary.LittleEndian
	fixed := 40
	if d.IPVersion == 4 {
		fixed = 20
	}
	if l4 < fixed || len(ip) < l4 {
		return
	}
	// Headers are read through fixed-size arrays: one bounds check each.
	var x, y, z uint64 // the transport header without its checksum
	rest := l4 + 8     // where what follows it starts
	switch d.Kind {
	case KindTCP:
		if d.BadHeader || len(ip)-l4 < 20 {
			return
		}
		t := (*[20]byte)(ip[l4:])
		x, y, z = le.Uint64(t[0:8]), le.Uint64(t[8:16]), uint64(le.Uint16(t[18:20])) // t[16:18]: checksum
		rest = l4 + 20                                                               // options and payload
	case KindUDP:
		if len(ip)-l4 < 8 {
			return
		}
		u := (*[8]byte)(ip[l4:])
		x = uint64(le.Uint32(u[0:4])) | uint64(le.Uint16(u[4:6]))<<32 // ports, length
	default:
		return
	}
	h := mum(x^foldK0, y^foldK1)
	var pair uint64
	if fixed == 20 {
		v := (*[20]byte)(ip)
		a := le.Uint64(v[0:8])
		b := le.Uint64(v[8:16]) &^ 0xffff00ff // without TTL and header checksum
		c := uint64(le.Uint32(v[16:20]))
		h ^= mum(a^foldK2, b^foldK3) ^ mum(c|z<<32^foldK1, foldK0)
		pair = b>>32 | c<<32
	} else {
		v := (*[40]byte)(ip)
		a := le.Uint64(v[0:8]) &^ (0xff << 56) // without the hop limit
		s0, s1, d0, d1 := le.Uint64(v[8:16]), le.Uint64(v[16:24]), le.Uint64(v[24:32]), le.Uint64(v[32:40])
		h ^= mum(a^foldK2, s0^foldK3) ^ mum(s1^foldK1, d0^foldK0) ^ mum(d1^foldK3, z^foldK2)
		pair = pair6(s0, s1, d0, d1)
	}
	d.foldPair = pairSlot(pair)
	if l4 > fixed {
		// IPv4 options or IPv6 extension headers: rare.
		h ^= mum(restHash(ip[:l4], fixed), foldK1)
	}
	d.Fold = (h^restHash(ip, rest))&^0xff | 1 // 56 bits; never 0, which means no fingerprint
}

// pair6 packs an IPv6 source and destination, as little-endian words, for
// pairSlot (an IPv4 pair is source | destination<<32).
func pair6(s0, s1, d0, d1 uint64) uint64 { return s0 ^ s1*foldK1 ^ d0*foldK2 ^ d1*foldK3 }

// pairSlot is Decoded.foldPair for an address pair packed in a word.
func pairSlot(pair uint64) uint16 { return uint16(pair * foldK0 >> (64 - pairBits)) }

// payloadSample is how many bytes at each end of a payload its hash reads.
const payloadSample = 16

// restHash hashes p[at:], the bytes after the fixed transport header (TCP
// options and payload), or an IP header's options: their length and their
// first and last payloadSample bytes, read as words in place. Two copies of
// one packet are equal throughout; two different packets of one flow with
// equal headers (sequence and acknowledgement numbers, IPv4 ID, lengths,
// TCP timestamps) differ where application headers put their ids and
// counters, at the start (DNS, QUIC, RTP), or not at all outside hostile
// input. Hashing whole payloads would cost more than the rest of decoding.
//
// p must be at least payloadSample bytes long, p[:at] included (at at
// most len(p)): the words are read from the end of p, and those of a rest
// shorter than payloadSample are the last ones with the bytes before p[at:]
// masked out (head and tail are then the same words). Every byte of a rest
// under 32 bytes is in, whatever its length, and no branch depends on it: a
// decoder sees pure ACKs and data segments in no predictable order.
func restHash(p []byte, at int) uint64 {
	le := binary.LittleEndian
	n := len(p) - at
	end := len(p) - payloadSample
	tail := (*[payloadSample]byte)(p[end:])
	// min(at, end) and min(n, payloadSample), without a branch.
	d, k := at-end, n-payloadSample
	from := end + d&(d>>63)
	head := (*[payloadSample]byte)(p[from : from+payloadSample])
	m := &restMasks[payloadSample+k&(k>>63)]
	h0, h1 := le.Uint64(head[0:8])&m[0], le.Uint64(head[8:16])&m[1]
	t0, t1 := le.Uint64(tail[0:8])&m[0], le.Uint64(tail[8:16])&m[1]
	return mum(h0^foldK2, h1^foldK3) ^ mum(t0^foldK1, t1^foldK0) ^ uint64(n)*foldK3
}

// restMasks[n] keeps the last n bytes of 16 read as two little-endian
// words (all of them from n = 16 on).
var restMasks = func() (m [payloadSample + 1][2]uint64) {
	for n := range m {
		for i := payloadSample - n; i < payloadSample; i++ {
			m[n][i/8] |= 0xff << (8 * (i % 8))
		}
	}
	return m
}()

// payloadHash is restHash of b alone.
func payloadHash(b []byte) uint64 {
	if len(b) >= payloadSample {
		return restHash(b, 0)
	}
	var pad [payloadSample]byte
	copy(pad[payloadSample-len(b):], b)
	return restHash(pad[:], payloadSample-len(b))
}
