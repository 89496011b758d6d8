// Package communityid computes Community ID v1 flow hashes
// (https://github.com/corelight/community-id-spec), the identifier Zeek,
// Suricata, Wireshark and Arkime attach to a flow so that records from
// different tools can be joined.
//
// # Algorithm
//
// The hash input is, in network byte order:
//
//	seed (2 bytes) | saddr (4 or 16) | daddr (4 or 16) | proto (1) | 0 (1) | sport (2) | dport (2)
//
// The ports are present only for protocols that have them (see below), so
// the input is always a multiple of 4 bytes. The SHA-1 digest of the input
// is encoded in standard base64 with padding and prefixed with the version,
// "1:", for example "1:LQU9qZlK+B5F3KDmev6m5PMibrg=".
//
// # Ordering
//
// Both directions of a flow get the same ID: before hashing, the endpoints
// are swapped unless (saddr, sport) is already the smaller one. Addresses
// are compared as packed big-endian bytes; only when they are equal do the
// ports decide (smaller port first). [ID] is therefore symmetric:
// ID(s, a, b, p, x, y) == ID(s, b, a, p, y, x) for every input.
//
// # Protocols
//
//   - TCP (6), UDP (17), SCTP (132): sport and dport are the transport ports.
//   - ICMP (1) and ICMPv6 (58): pass the message type as sport and the code
//     as dport. A type that has a counterpart (echo request and reply,
//     router solicitation and advertisement, ...) is hashed as the port pair
//     (type, counterpart type) and ordered like ports; any other type is a
//     one-way message, hashed as (type, code) and never reordered. This is
//     the mapping Zeek uses and the reference implementation (pycommunityid)
//     follows.
//   - Every other IP protocol (for example RSVP, 46): no ports are hashed and
//     sport and dport are ignored, for ordering too. The input is then
//     seed | saddr | daddr | proto | 0.
//
// Encapsulation (VLAN, MPLS, IP-in-IP, VXLAN) is outside the spec: hash the
// tuple of the flow itself, inner or outer.
//
// # Addresses
//
// An address is hashed in its own family: 4 bytes for IPv4, 16 bytes for
// IPv6 (an IPv4-mapped IPv6 address stays 16 bytes, as on the wire). Zones
// are ignored. [ID] returns "" when an address is invalid or the two
// addresses are of different families.
//
// [ID] allocates only its result string; [AppendID] appends the same text
// to a caller's buffer (analyze puts flow_id and community_id in one
// string). Addresses are ordered by comparing them as two big-endian 64-bit
// integers (an IPv4 address zero-padded), which is the byte order of the
// spec (TestAppendIDAgainstReference checks it against bytes.Compare).
// Most of an ID's cost is SHA-1, which Go runs with the CPU's SHA
// instructions where there are some (SHA-NI on amd64).
package communityid
