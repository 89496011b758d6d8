package capgen

import "net/netip"

// Null marks an absent value (a null column in flows.parquet) in Flow and RTT.
const Null int64 = -1

// Flow is the hand-derived expected flow record for one connection of a Case,
// in the terms of the flows.parquet schema (design.md). Orig is the originator.
type Flow struct {
	Proto             string         // "tcp" or "udp"
	Src, Dst          netip.AddrPort // originator, responder
	DirectionInferred bool           // orig/resp chosen by the port heuristic (no SYN seen)

	State   string // Zeek conn_state
	History string // Zeek history letters

	OrigPkts, RespPkts           int64
	OrigBytes, RespBytes         int64 // TCP/UDP payload from IP lengths, retransmissions included
	OrigIPBytes, RespIPBytes     int64 // sum of IP total lengths (IPv6: 40 + payload length)
	OrigWireBytes, RespWireBytes int64 // sum of original frame lengths

	OrigRetransPkts, RespRetransPkts   int64 // Wireshark: Retransmission, Fast or Spurious Retransmission
	OrigRetransBytes, RespRetransBytes int64 // their payload bytes
	MissedBytes                        int64 // sequence space never seen (acknowledged but not captured)
	OutOfOrder, DupAcks, ZeroWindows   int64 // Wireshark's definitions, both directions

	RTTSynSynAckNs  int64 // most recent SYN -> first SYN/ACK; Null without both
	RTTSynAckAckNs  int64 // that SYN/ACK -> originator's first ACK of it; Null without it
	RTTHandshakeNs  int64 // the sum of the two (Wireshark's iRTT); Null when either is Null
	RTTFirstReplyNs int64 // UDP: first orig packet -> first resp packet; Null for TCP or no reply

	OrigRTT, RespRTT RTT // data RTT of segments sent by orig (acked by resp), and the reverse
}

// RTT summarises data round-trip samples of one direction. A sample is the time
// from a payload-carrying segment to the first ACK from the peer whose number
// equals the segment's end exactly (Wireshark's ack_rtt, tcptrace's rule);
// segments sent more than once give none (Karn), nor do segments sent before a
// retransmission of an earlier one (their ACK waited for the repair), nor
// segments acknowledged only cumulatively. P50 is the lower median: sorted
// samples[(n-1)/2]. With no samples, Samples is 0 and the rest Null.
type RTT struct {
	Samples             int64
	MinNs, P50Ns, MaxNs int64
}

// NoRTT is the RTT of a direction with no samples.
var NoRTT = RTT{Samples: 0, MinNs: Null, P50Ns: Null, MaxNs: Null}
