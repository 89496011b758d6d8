package communityid

import (
	"cmp"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers with special handling.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
	ProtoSCTP   uint8 = 132
)

const (
	prefix = "1:"
	// maxInput is seed + two IPv6 addresses + proto + pad + two ports.
	maxInput = 2 + 16 + 16 + 1 + 1 + 2 + 2
)

// ID returns the Community ID v1 of a flow: "1:" followed by the base64
// SHA-1 of the ordered tuple (see the package documentation for the input
// layout, the ordering rule and how each protocol's ports are used).
// seed is 0 unless every party agreed on another value.
//
// ID returns "" if src or dst is invalid or if they are of different
// families. It allocates only the returned string.
func ID(seed uint16, src, dst netip.Addr, proto uint8, sport, dport uint16) string {
	var out [Len]byte
	return string(AppendID(out[:0], seed, src, dst, proto, sport, dport))
}

// Len is the length of an ID.
const Len = len(prefix) + 28 // base64 of 20 bytes is 28 characters

// AppendID appends ID's text to b and returns the extended slice; b is
// returned unchanged when ID would be "". It lets a caller put an ID and
// other text in one string.
func AppendID(b []byte, seed uint16, src, dst netip.Addr, proto uint8, sport, dport uint16) []byte {
	if src.Is4() && dst.Is4() && (proto == ProtoTCP || proto == ProtoUDP || proto == ProtoSCTP) {
		return appendID4(b, seed, src, dst, proto, sport, dport)
	}
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return b
	}

	// Both addresses as 16 bytes, an IPv4 address in the first 4: packed
	// big-endian bytes compare as two integers each.
	var sa, da [16]byte
	n := 16
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		copy(sa[:], a[:])
		copy(da[:], b[:])
		n = 4
	} else {
		sa, da = src.As16(), dst.As16()
	}

	hasPorts, oneWay := true, false
	switch proto {
	case ProtoTCP, ProtoUDP, ProtoSCTP:
	case ProtoICMP:
		sport, dport, oneWay = icmpPorts(sport, dport, icmp4Counterpart)
	case ProtoICMPv6:
		sport, dport, oneWay = icmpPorts(sport, dport, icmp6Counterpart)
	default:
		hasPorts = false
	}

	if !oneWay {
		c := compare16(&sa, &da)
		if c > 0 || (c == 0 && hasPorts && sport > dport) {
			sa, da = da, sa
			sport, dport = dport, sport
		}
	}

	var in [maxInput]byte
	binary.BigEndian.PutUint16(in[0:], seed)
	i := 2
	i += copy(in[i:], sa[:n])
	i += copy(in[i:], da[:n])
	in[i] = proto
	in[i+1] = 0 // padding
	i += 2
	if hasPorts {
		binary.BigEndian.PutUint16(in[i:], sport)
		binary.BigEndian.PutUint16(in[i+2:], dport)
		i += 4
	}

	return appendSum(b, in[:i])
}

// appendID4 is AppendID for two IPv4 addresses and a protocol with ports,
// most flows: the addresses compared and laid out as 32-bit integers.
func appendID4(b []byte, seed uint16, src, dst netip.Addr, proto uint8, sport, dport uint16) []byte {
	s4, d4 := src.As4(), dst.As4()
	be := binary.BigEndian
	sa, da := be.Uint32(s4[:]), be.Uint32(d4[:])
	if sa > da || (sa == da && sport > dport) {
		sa, da, sport, dport = da, sa, dport, sport
	}
	var in [2 + 4 + 4 + 1 + 1 + 2 + 2]byte
	be.PutUint16(in[0:], seed)
	be.PutUint32(in[2:], sa)
	be.PutUint32(in[6:], da)
	in[10], in[11] = proto, 0 // padding
	be.PutUint16(in[12:], sport)
	be.PutUint16(in[14:], dport)
	return appendSum(b, in[:])
}

// appendSum appends the ID of the hash input in.
func appendSum(b, in []byte) []byte {
	sum := sha1.Sum(in)
	// Encoded in place: no text array copied after (a memmove per flow).
	return base64.StdEncoding.AppendEncode(append(b, prefix...), sum[:])
}

// compare16 compares two 16-byte big-endian values.
func compare16(a, b *[16]byte) int {
	ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if ah != bh {
		return cmp.Compare(ah, bh)
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// icmpPorts maps an ICMP (type, code) to the port pair that is hashed: a
// type with a counterpart becomes (type, counterpart) and may be reordered;
// any other type stays (type, code) and is one-way.
func icmpPorts(typ, code uint16, counterpart func(uint16) (uint16, bool)) (sport, dport uint16, oneWay bool) {
	if c, ok := counterpart(typ); ok {
		return typ, c, false
	}
	return typ, code, true
}

// icmp4Counterpart pairs the ICMPv4 request and reply types.
func icmp4Counterpart(t uint16) (uint16, bool) {
	switch t {
	case 8: // echo request
		return 0, true
	case 0: // echo reply
		return 8, true
	case 13: // timestamp
		return 14, true
	case 14: // timestamp reply
		return 13, true
	case 15: // information request
		return 16, true
	case 16: // information reply
		return 15, true
	case 10: // router solicitation
		return 9, true
	case 9: // router advertisement
		return 10, true
	case 17: // address mask request
		return 18, true
	case 18: // address mask reply
		return 17, true
	}
	return 0, false
}

// icmp6Counterpart pairs the ICMPv6 request and reply types.
func icmp6Counterpart(t uint16) (uint16, bool) {
	switch t {
	case 128, 130, 133, 135, 139, 144: // echo, MLD, RS, NS, WRU, HAAD requests
		return t + 1, true
	case 129, 131, 134, 136, 140, 145: // their replies
		return t - 1, true
	}
	return 0, false
}
