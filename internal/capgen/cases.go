package capgen

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Case is one generated capture with its hand-derived expected flows.
type Case struct {
	Name    string // file name stem: testdata/gen/<Name>.pcap
	Doc     string // what the case exercises
	Link    Link
	Packets []Packet
	Flows   []Flow // expected flow records, in order of their first packet

	// TsharkIRTTNs is what tshark 4.0 reports as tcp.analysis.initial_rtt for
	// each TCP flow (in Flows order, Null for none), where that differs from
	// RTTHandshakeNs by definition; nil means "equal to RTTHandshakeNs".
	TsharkIRTTNs []int64
}

// Addresses used by the cases (documentation prefixes, RFC 5737 / RFC 3849).
var (
	clientV4 = netip.MustParseAddr("192.0.2.1")
	serverV4 = netip.MustParseAddr("192.0.2.2")
	clientV6 = netip.MustParseAddr("2001:db8::1")
	serverV6 = netip.MustParseAddr("2001:db8::2")
)

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

// Shorthands for script times (offsets from Epoch).
const (
	us = time.Microsecond
	ms = time.Millisecond
	s  = time.Second
)

// Frame sizes used in the comments below (IPv4, untagged Ethernet, no TCP
// options except the 4-byte MSS option on SYN and SYN/ACK):
//
//	SYN, SYN/ACK      IP 20+24 = 44   frame 58, padded to 60
//	ACK, FIN, RST     IP 20+20 = 40   frame 54, padded to 60
//	TCP data, n bytes IP 40+n         frame 54+n
//	UDP, n bytes      IP 28+n         frame 42+n (padded to 60 when n < 18)
//
// Wireshark's iRTT for every handshake case is SYN -> third ACK and equals
// RTTSynSynAckNs + RTTSynAckAckNs.

// Cases returns the generated edge cases. Every call builds fresh packets with
// identical bytes.
func Cases() []Case {
	return []Case{
		caseSF(),
		caseRetransmit(),
		caseSYNRetrans(),
		casePortReuse(),
		caseRSTR(),
		caseREJ(),
		caseS0(),
		caseSH(),
		caseMidstream(),
		caseZeroWindow(),
		caseOutOfOrder(),
		caseGap(),
		caseDupAcks(),
		caseUDPDNS(),
		caseUDPOneWay(),
		caseIPv6(),
		caseVLAN(),
		caseSnaplen(),
		caseSLL2(),
		caseRawIPv6UDP(),
	}
}

func caseSF() Case {
	cl, sv := ap(clientV4, 40001), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYNACK(1_500_123)
	c.ACK(Orig, 3_000_456)
	c.Data(Orig, 3100*us, 100)
	c.ACK(Resp, 5*ms)
	c.Data(Resp, 6*ms, 1000)
	c.Data(Resp, 6100*us, 500)
	c.ACK(Orig, 8*ms)
	c.FIN(Orig, 9*ms)
	c.FIN(Resp, 10*ms)
	c.ACK(Orig, 11*ms)
	return Case{
		Name: "tcp-sf", Doc: "clean handshake, request, two-segment response, FIN close from both sides",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State:   "SF",
			History: "ShADadFf",
			// orig: SYN, ACK, data 100, ACK, FIN, ACK
			OrigPkts: 6, OrigBytes: 100,
			OrigIPBytes:   344, // 44 + 40 + 140 + 40 + 40 + 40
			OrigWireBytes: 454, // 60 + 60 + 154 + 60 + 60 + 60
			// resp: SYN/ACK, ACK, data 1000, data 500, FIN
			RespPkts: 5, RespBytes: 1500,
			RespIPBytes:     1704, // 44 + 40 + 1040 + 540 + 40
			RespWireBytes:   1788, // 60 + 60 + 1054 + 554 + 60
			RTTSynSynAckNs:  1_500_123,
			RTTSynAckAckNs:  1_500_333, // 3_000_456 - 1_500_123
			RTTHandshakeNs:  3_000_456,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 1_900_000, 1_900_000, 1_900_000}, // request 3.1 ms, resp ACK 5 ms
			// response segments 6.0 and 6.1 ms, one ACK at 8 ms ending exactly on the
			// second: one sample, 1.9 ms (the first is acknowledged only cumulatively)
			RespRTT: RTT{1, 1_900_000, 1_900_000, 1_900_000},
		}},
	}
}

func caseRetransmit() Case {
	cl, sv := ap(clientV4, 40002), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYNACK(1 * ms)
	c.ACK(Orig, 2*ms)
	c.Data(Orig, 3*ms, 100)
	c.ACK(Resp, 4*ms)
	c.Lost(Resp, 5*ms, 1000) // captured, lost downstream: the client never acks it
	c.Retransmit(Resp, 205*ms, 1, 1000)
	c.ACK(Orig, 206*ms)
	c.FIN(Orig, 207*ms)
	c.FIN(Resp, 208*ms)
	c.ACK(Orig, 209*ms)
	return Case{
		Name: "tcp-retransmit", Doc: "a response segment retransmitted after a 200 ms timeout; Karn: it gives no RTT sample",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SF",
			// 't': Zeek sees payload that does not advance the server's last sequence number
			History:  "ShADadtFf",
			OrigPkts: 6, OrigBytes: 100, OrigIPBytes: 344, OrigWireBytes: 454, // as tcp-sf
			// resp: SYN/ACK, ACK, data 1000, the same 1000 again, FIN; payload counts both copies
			RespPkts: 5, RespBytes: 2000,
			RespIPBytes:   2204, // 44 + 40 + 1040 + 1040 + 40
			RespWireBytes: 2288, // 60 + 60 + 1054 + 1054 + 60
			// Wireshark "Retransmission": seq < next expected seq, and 200 ms since the
			// last segment is above the Out-Of-Order threshold (iRTT 2 ms)
			RespRetransPkts: 1, RespRetransBytes: 1000,
			RTTSynSynAckNs: 1_000_000, RTTSynAckAckNs: 1_000_000, RTTHandshakeNs: 2_000_000,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000}, // request 3 ms, ACK 4 ms
			RespRTT:         NoRTT,                                   // the only data segment was sent twice (Karn)
		}},
	}
}

func caseSYNRetrans() Case {
	cl, sv := ap(clientV4, 40003), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYN(1 * s) // same ISN: a retransmission
	c.SYNACK(1*s + 800*us)
	c.ACK(Orig, 1*s+1*ms)
	c.Data(Orig, 1*s+1100*us, 50)
	c.Data(Resp, 1*s+2*ms, 200) // its ACK covers the request
	c.FIN(Orig, 1*s+2500*us)    // its ACK covers the response
	c.FIN(Resp, 1*s+3*ms)
	c.ACK(Orig, 1*s+3400*us)
	return Case{
		Name: "tcp-syn-retrans", Doc: "SYN retransmitted after 1 s before the SYN/ACK; the handshake RTT counts from the most recent SYN",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SF",
			// one 'S': Zeek repeats S only when the SYN's sequence number differs
			History: "ShADdFf",
			// orig: SYN, SYN, ACK, data 50, FIN, ACK
			OrigPkts: 6, OrigBytes: 50,
			OrigIPBytes:   298, // 44 + 44 + 40 + 90 + 40 + 40
			OrigWireBytes: 404, // 60 + 60 + 60 + 104 + 60 + 60
			// resp: SYN/ACK, data 200, FIN
			RespPkts: 3, RespBytes: 200,
			RespIPBytes:   324, // 44 + 240 + 40
			RespWireBytes: 374, // 60 + 254 + 60
			// Wireshark flags the second SYN as a Retransmission (SYN set, seq below
			// the next expected seq); it has no payload, hence 0 bytes
			OrigRetransPkts: 1, OrigRetransBytes: 0,
			RTTSynSynAckNs:  800_000,   // from the SYN at 1 s, not the one at 0
			RTTSynAckAckNs:  200_000,   // 1.001 s - 1.0008 s
			RTTHandshakeNs:  1_000_000, // 1.001 s - 1 s
			RTTFirstReplyNs: Null,
			// piggybacked ACKs count: the response (1.002 s) acks the request
			// (1.0011 s), and the client's FIN+ACK (1.0025 s) acks the response
			OrigRTT: RTT{1, 900_000, 900_000, 900_000},
			RespRTT: RTT{1, 500_000, 500_000, 500_000},
		}},
	}
}

func casePortReuse() Case {
	cl, sv := ap(clientV4, 40004), ap(serverV4, 80)
	a := NewTCP(cl, sv, Options{})
	a.SYN(0)
	a.SYNACK(1 * ms)
	a.ACK(Orig, 2*ms)
	a.Data(Orig, 3*ms, 10)
	a.Data(Resp, 4*ms, 20)
	a.FIN(Orig, 5*ms)
	a.FIN(Resp, 6*ms)
	a.ACK(Orig, 7*ms)
	b := NewTCP(cl, sv, Options{ClientISN: 0x30000000, ServerISN: 0x40000000})
	b.SYN(1 * s)
	b.SYNACK(1*s + 1200*us)
	b.ACK(Orig, 1*s+2500*us)
	b.Data(Orig, 1*s+3*ms, 10)
	b.Data(Resp, 1*s+4*ms, 20)
	b.FIN(Orig, 1*s+5*ms)
	b.FIN(Resp, 1*s+6*ms)
	b.ACK(Orig, 1*s+7*ms)
	// Both connections have the same shape: orig SYN, ACK, data 10, FIN, ACK;
	// resp SYN/ACK, data 20, FIN.
	flow := func(synack, ack int64) Flow {
		return Flow{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SF", History: "ShADdFf",
			OrigPkts: 5, OrigBytes: 10,
			OrigIPBytes:   214, // 44 + 40 + 50 + 40 + 40
			OrigWireBytes: 304, // 60 + 60 + 64 + 60 + 60
			RespPkts:      3, RespBytes: 20,
			RespIPBytes:    144, // 44 + 60 + 40
			RespWireBytes:  194, // 60 + 74 + 60
			RTTSynSynAckNs: synack, RTTSynAckAckNs: ack - synack, RTTHandshakeNs: ack,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000}, // data 3 ms, acked by the response at 4 ms
			RespRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000}, // response 4 ms, acked by the FIN at 5 ms
		}
	}
	return Case{
		Name: "tcp-port-reuse", Doc: "two connections on the same 5-tuple, the second opened 1 s after the first closed, with new ISNs: two flows",
		Link: Ethernet, Packets: Merge(a.Packets(), b.Packets()),
		Flows: []Flow{
			flow(1_000_000, 2_000_000),
			flow(1_200_000, 2_500_000), // SYN/ACK 1.2 ms and ACK 2.5 ms after the second SYN
		},
	}
}

func caseRSTR() Case {
	cl, sv := ap(clientV4, 40005), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYNACK(1 * ms)
	c.ACK(Orig, 2*ms)
	c.Data(Orig, 3*ms, 100)
	c.ACK(Resp, 4*ms)
	c.RST(Resp, 10*ms) // RST+ACK acking nothing new
	return Case{
		Name: "tcp-rstr", Doc: "established connection aborted by a RST from the responder",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "RSTR", History: "ShADar",
			OrigPkts: 3, OrigBytes: 100,
			OrigIPBytes:   224, // 44 + 40 + 140
			OrigWireBytes: 274, // 60 + 60 + 154
			RespPkts:      3, RespBytes: 0,
			RespIPBytes:    124, // 44 + 40 + 40
			RespWireBytes:  180,
			RTTSynSynAckNs: 1_000_000, RTTSynAckAckNs: 1_000_000, RTTHandshakeNs: 2_000_000,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000},
			RespRTT:         NoRTT,
		}},
	}
}

func caseREJ() Case {
	cl, sv := ap(clientV4, 40006), ap(serverV4, 81)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.RST(Resp, 300*us) // RST+ACK, ack = client ISN + 1
	return Case{
		Name: "tcp-rej", Doc: "SYN answered by RST/ACK (closed port)",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "REJ", History: "Sr",
			OrigPkts: 1, OrigIPBytes: 44, OrigWireBytes: 60,
			RespPkts: 1, RespIPBytes: 40, RespWireBytes: 60,
			// no SYN/ACK: the two halves are null; rtt_handshake_ns is Wireshark's
			// iRTT, which ends at the first packet with ACK and without SYN: the
			// RST/ACK, 0.3 ms after the SYN
			RTTSynSynAckNs: Null, RTTSynAckAckNs: Null, RTTHandshakeNs: 300_000,
			RTTFirstReplyNs: Null,
			OrigRTT:         NoRTT, RespRTT: NoRTT,
		}},
	}
}

func caseS0() Case {
	cl, sv := ap(clientV4, 40007), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYN(1 * s)
	c.SYN(3 * s)
	return Case{
		Name: "tcp-s0", Doc: "SYN retransmitted twice, never answered",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "S0", History: "S", // same sequence number: one 'S'
			OrigPkts: 3, OrigIPBytes: 132, OrigWireBytes: 180,
			OrigRetransPkts: 2, // Wireshark: the 2nd and 3rd SYN are Retransmissions
			RTTSynSynAckNs:  Null, RTTSynAckAckNs: Null, RTTHandshakeNs: Null,
			RTTFirstReplyNs: Null,
			OrigRTT:         NoRTT, RespRTT: NoRTT,
		}},
	}
}

func caseSH() Case {
	cl, sv := ap(clientV4, 40008), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.FIN(Orig, 1*ms) // no ACK flag: the client has heard nothing
	return Case{
		Name: "tcp-sh", Doc: "originator sends SYN then FIN, no answer (half-open)",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SH", History: "SF",
			OrigPkts: 2, OrigIPBytes: 84, OrigWireBytes: 120, // 44 + 40; 60 + 60
			RTTSynSynAckNs: Null, RTTSynAckAckNs: Null, RTTHandshakeNs: Null,
			RTTFirstReplyNs: Null,
			OrigRTT:         NoRTT, RespRTT: NoRTT,
		}},
	}
}

func caseMidstream() Case {
	cl, sv := ap(clientV4, 40009), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.Established()
	c.Data(Resp, 0, 1000) // the capture starts with the server's data
	c.ACK(Orig, 200*us)
	c.Data(Resp, 1*ms, 500)
	c.ACK(Orig, 1300*us)
	c.Data(Orig, 2*ms, 50)
	c.ACK(Resp, 2450*us)
	return Case{
		Name: "tcp-midstream", Doc: "no SYN seen; the first packet comes from port 80, so the client is inferred to be the originator",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv, // the sender of the first packet is the responder
			DirectionInferred: true,
			// Both endpoints stay PARTIAL (no SYN): OTH. With a FIN it would be SH/SHR.
			State: "OTH",
			// '^' flip at connection start (80 is a likely server port, 40009 is not),
			// then resp data, orig ACK, orig data, resp ACK
			History:  "^dADa",
			OrigPkts: 3, OrigBytes: 50,
			OrigIPBytes:   170, // 40 + 40 + 90
			OrigWireBytes: 224, // 60 + 60 + 104
			RespPkts:      3, RespBytes: 1500,
			RespIPBytes:    1620, // 1040 + 540 + 40
			RespWireBytes:  1668, // 1054 + 554 + 60
			RTTSynSynAckNs: Null, RTTSynAckAckNs: Null, RTTHandshakeNs: Null,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 450_000, 450_000, 450_000}, // data 2 ms, ACK 2.45 ms
			// segments at 0 and 1 ms, acked at 0.2 and 1.3 ms: [200 us, 300 us]
			RespRTT: RTT{2, 200_000, 200_000, 300_000},
		}},
	}
}

func caseZeroWindow() Case {
	cl, sv := ap(clientV4, 40010), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYNACK(1 * ms)
	c.ACK(Orig, 2*ms)
	c.Data(Orig, 3*ms, 100)
	c.Data(Resp, 4*ms, 1000)
	c.Window(Orig, 0)
	c.ACK(Orig, 5*ms) // acks the response, advertises a zero window
	c.Window(Orig, DefaultWindow)
	c.ACK(Orig, 105*ms) // window update: same seq and ack, window reopened
	c.Data(Resp, 106*ms, 1000)
	c.ACK(Orig, 107500*us)
	c.FIN(Orig, 108*ms)
	c.FIN(Resp, 109*ms)
	c.ACK(Orig, 110*ms)
	return Case{
		Name: "tcp-zero-window", Doc: "the client advertises a zero window, then reopens it with a window update",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SF",
			// 'W' from the zero-window ACK (its 'A' was already recorded)
			History: "ShADdWFf",
			// orig: SYN, ACK, data 100, ACK (win 0), ACK (update), ACK, FIN, ACK
			OrigPkts: 8, OrigBytes: 100,
			OrigIPBytes:   424, // 44 + 40 + 140 + 5*40
			OrigWireBytes: 574, // 60 + 60 + 154 + 5*60
			RespPkts:      4, RespBytes: 2000,
			RespIPBytes:   2164, // 44 + 1040 + 1040 + 40
			RespWireBytes: 2228, // 60 + 1054 + 1054 + 60
			// the window update is not a Dup ACK: its window differs from the previous one
			ZeroWindows:    1,
			RTTSynSynAckNs: 1_000_000, RTTSynAckAckNs: 1_000_000, RTTHandshakeNs: 2_000_000,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000}, // request 3 ms, acked by the response at 4 ms
			// responses at 4 and 106 ms, acked at 5 and 107.5 ms: [1 ms, 1.5 ms]
			RespRTT: RTT{2, 1_000_000, 1_000_000, 1_500_000},
		}},
	}
}

func caseOutOfOrder() Case {
	cl, sv := ap(clientV4, 40011), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYNACK(1 * ms)
	c.ACK(Orig, 2*ms)
	c.DataAt(Orig, 3*ms, 1, 100)      // bytes 1-100
	c.DataAt(Orig, 3100*us, 201, 100) // bytes 201-300 overtook ...
	c.DataAt(Orig, 3200*us, 101, 100) // ... bytes 101-200
	c.ACK(Resp, 5*ms)                 // ack 301
	c.Data(Resp, 6*ms, 300)
	c.ACK(Orig, 7*ms)
	c.FIN(Orig, 8*ms)
	c.FIN(Resp, 9*ms)
	c.ACK(Orig, 10*ms)
	return Case{
		Name: "tcp-out-of-order", Doc: "two request segments swapped by the network before the capture point",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SF",
			// Ambiguous: Zeek marks any payload that does not advance last_seq as a
			// retransmission, so the late segment gives 'T' although Wireshark calls it
			// Out-Of-Order (and not a retransmission). We follow each anchor.
			History: "ShADTadFf",
			// orig: SYN, ACK, 3 x data 100, ACK, FIN, ACK
			OrigPkts: 8, OrigBytes: 300,
			OrigIPBytes:   624, // 44 + 40 + 3*140 + 3*40
			OrigWireBytes: 762, // 60 + 60 + 3*154 + 3*60
			// resp: SYN/ACK, ACK, data 300, FIN
			RespPkts: 4, RespBytes: 300,
			RespIPBytes:   464, // 44 + 40 + 340 + 40
			RespWireBytes: 534, // 60 + 60 + 354 + 60
			// seq 101 < next expected 301, 0.1 ms after the segment that set it (below
			// the 2 ms iRTT threshold), and 101+100 != 301: Out-Of-Order, which
			// supersedes Retransmission. The space 101-200 is seen, so nothing is missed.
			OutOfOrder:     1,
			RTTSynSynAckNs: 1_000_000, RTTSynAckAckNs: 1_000_000, RTTHandshakeNs: 2_000_000,
			RTTFirstReplyNs: Null,
			// the ACK at 5 ms (ack 301) ends exactly on the segment sent at 3.1 ms:
			// one sample, 1.9 ms; the other two are acknowledged only cumulatively
			// (and the late one arrived out of order, after a higher one)
			OrigRTT: RTT{1, 1_900_000, 1_900_000, 1_900_000},
			RespRTT: RTT{1, 1_000_000, 1_000_000, 1_000_000}, // response 6 ms, ACK 7 ms
		}},
	}
}

func caseGap() Case {
	cl, sv := ap(clientV4, 40012), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYNACK(1 * ms)
	c.ACK(Orig, 2*ms)
	c.Data(Orig, 3*ms, 100)
	c.Data(Resp, 4*ms, 1000) // bytes 1-1000
	c.Skip(Resp, 1000)       // bytes 1001-2000 delivered but not captured
	c.Data(Resp, 4200*us, 1000)
	c.ACK(Orig, 5*ms) // ack 3001: covers the unseen bytes
	c.FIN(Orig, 6*ms)
	c.FIN(Resp, 7*ms)
	c.ACK(Orig, 8*ms)
	return Case{
		Name: "tcp-gap", Doc: "one response segment missing from the capture but acknowledged (capture loss)",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SF",
			// 'g' when the client's ACK reveals the hole in the responder's stream
			History:  "ShADdgFf",
			OrigPkts: 6, OrigBytes: 100, OrigIPBytes: 344, OrigWireBytes: 454, // as tcp-sf
			// resp: SYN/ACK, data 1000, data 1000, FIN (the unseen segment is not counted)
			RespPkts: 4, RespBytes: 2000,
			RespIPBytes:   2164, // 44 + 1040 + 1040 + 40
			RespWireBytes: 2228, // 60 + 1054 + 1054 + 60
			MissedBytes:   1000,
			// Wireshark: "Previous segment not captured" on the third segment; that is
			// none of the counted classes
			RTTSynSynAckNs: 1_000_000, RTTSynAckAckNs: 1_000_000, RTTHandshakeNs: 2_000_000,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000},
			// segments at 4.0 and 4.2 ms, one ACK at 5 ms ending exactly on the second:
			// one sample, 0.8 ms
			RespRTT: RTT{1, 800_000, 800_000, 800_000},
		}},
	}
}

func caseDupAcks() Case {
	cl, sv := ap(clientV4, 40013), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{})
	c.SYN(0)
	c.SYNACK(1 * ms)
	c.ACK(Orig, 2*ms)
	c.Data(Orig, 3*ms, 100)
	c.Data(Resp, 4*ms, 1000)    // seg1: 1-1000
	c.Lost(Resp, 4100*us, 1000) // seg2: 1001-2000, lost after the capture point
	c.Data(Resp, 4200*us, 1000) // seg3
	c.Data(Resp, 4300*us, 1000) // seg4
	c.ACK(Orig, 5*ms)           // ack 1001
	c.ACK(Orig, 5100*us)        // ack 1001 again: dup ACK 1
	c.ACK(Orig, 5200*us)        // dup ACK 2
	c.Retransmit(Resp, 5300*us, 1001, 1000)
	c.ACK(Orig, 6300*us) // ack 4001
	c.FIN(Orig, 7*ms)
	c.FIN(Resp, 8*ms)
	c.ACK(Orig, 9*ms)
	return Case{
		Name: "tcp-dup-acks", Doc: "a lost response segment, two duplicate ACKs, fast retransmission",
		Link: Ethernet, Packets: c.Packets(),
		Flows: []Flow{{
			Proto: "tcp", Src: cl, Dst: sv,
			State: "SF", History: "ShADdtFf",
			// orig: SYN, ACK, data 100, 4 ACKs, FIN, ACK
			OrigPkts: 9, OrigBytes: 100,
			OrigIPBytes:   464, // 44 + 40 + 140 + 4*40 + 40 + 40
			OrigWireBytes: 634, // 60 + 60 + 154 + 4*60 + 60 + 60
			// resp: SYN/ACK, 4 segments, the retransmission, FIN
			RespPkts: 7, RespBytes: 5000,
			RespIPBytes:   5284, // 44 + 5*1040 + 40
			RespWireBytes: 5390, // 60 + 5*1054 + 60
			// Fast Retransmission (2 dup ACKs, seq == the peer's last ack, last ack
			// 0.1 ms ago); counted as a retransmission
			RespRetransPkts: 1, RespRetransBytes: 1000,
			// ACKs at 5.1 and 5.2 ms: no payload, same seq, ack and non-zero window
			DupAcks:        2,
			RTTSynSynAckNs: 1_000_000, RTTSynAckAckNs: 1_000_000, RTTHandshakeNs: 2_000_000,
			RTTFirstReplyNs: Null,
			OrigRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000}, // request 3 ms, acked by seg1 at 4 ms
			// seg1 4.0 -> 5.0 (ack 1001 ends on it): 1 ms. seg2 was retransmitted:
			// none (Karn). seg3 and seg4 were sent before that retransmission, so the
			// ACK at 6.3 ms waited for the repair: none (tcptrace's rule).
			RespRTT: RTT{1, 1_000_000, 1_000_000, 1_000_000},
		}},
	}
}

// dnsMsg builds a DNS message for capgen.example: a query (answer invalid) or a
// response with one answer record. gopacket writes names uncompressed, so:
// query = 12 header + 16 name + 4 = 32 bytes; a response adds a record of
// 16 name + 10 + rdata, i.e. 62 bytes for A and 74 for AAAA.
func dnsMsg(id uint16, qtype layers.DNSType, answer netip.Addr) []byte {
	name := []byte("capgen.example")
	m := &layers.DNS{
		ID: id, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{{Name: name, Type: qtype, Class: layers.DNSClassIN}},
	}
	if answer.IsValid() {
		m.QR, m.RA = true, true
		m.Answers = []layers.DNSResourceRecord{{Name: name, Type: qtype, Class: layers.DNSClassIN, TTL: 300, IP: answer.AsSlice()}}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := m.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func caseUDPDNS() Case {
	cl, sv := ap(clientV4, 53001), ap(serverV4, 53)
	u := NewUDP(cl, sv, Options{})
	u.SendPayload(Orig, 0, dnsMsg(0x1234, layers.DNSTypeA, netip.Addr{}))
	u.SendPayload(Orig, 100*us, dnsMsg(0x1235, layers.DNSTypeAAAA, netip.Addr{}))
	u.SendPayload(Resp, 1_234_567, dnsMsg(0x1234, layers.DNSTypeA, netip.MustParseAddr("192.0.2.53")))
	u.SendPayload(Resp, 1300*us, dnsMsg(0x1235, layers.DNSTypeAAAA, netip.MustParseAddr("2001:db8::53")))
	return Case{
		Name: "udp-dns", Doc: "A and AAAA queries and their answers on one UDP 5-tuple",
		Link: Ethernet, Packets: u.Packets(),
		Flows: []Flow{{
			Proto: "udp", Src: cl, Dst: sv,
			State: "SF", History: "Dd",
			OrigPkts: 2, OrigBytes: 64, // two 32-byte queries
			OrigIPBytes:   120,               // 2 * (28 + 32)
			OrigWireBytes: 148,               // 2 * 74
			RespPkts:      2, RespBytes: 136, // answers of 62 (A) and 74 (AAAA) bytes
			RespIPBytes:    192, // 90 + 102
			RespWireBytes:  220, // 104 + 116
			RTTSynSynAckNs: Null, RTTSynAckAckNs: Null, RTTHandshakeNs: Null,
			RTTFirstReplyNs: 1_234_567, // first query at 0, first answer at 1.234567 ms
			OrigRTT:         NoRTT, RespRTT: NoRTT,
		}},
	}
}

func caseUDPOneWay() Case {
	cl, sv := ap(clientV4, 40015), ap(serverV4, 514)
	u := NewUDP(cl, sv, Options{})
	u.Send(Orig, 0, 100)
	u.Send(Orig, 1*s, 100)
	u.Send(Orig, 2*s, 100)
	return Case{
		Name: "udp-oneway", Doc: "three one-way UDP datagrams (syslog-like), no reply",
		Link: Ethernet, Packets: u.Packets(),
		Flows: []Flow{{
			Proto: "udp", Src: cl, Dst: sv,
			State: "S0", History: "D",
			OrigPkts: 3, OrigBytes: 300,
			OrigIPBytes:    384, // 3 * 128
			OrigWireBytes:  426, // 3 * 142
			RTTSynSynAckNs: Null, RTTSynAckAckNs: Null, RTTHandshakeNs: Null,
			RTTFirstReplyNs: Null,
			OrigRTT:         NoRTT, RespRTT: NoRTT,
		}},
	}
}

// shortExchange scripts the small connection shared by the framing cases:
// handshake, a 100-byte request, an n-byte response, FIN close.
func shortExchange(c *TCP, n int) {
	c.SYN(0)
	c.SYNACK(1 * ms)
	c.ACK(Orig, 2*ms)
	c.Data(Orig, 3*ms, 100)
	c.Data(Resp, 4*ms, n) // acks the request
	c.FIN(Orig, 5*ms)     // acks the response
	c.FIN(Resp, 6*ms)
	c.ACK(Orig, 7*ms)
}

// shortFlow is the expected flow of shortExchange apart from the byte counts.
// orig: SYN, ACK, data 100, FIN, ACK; resp: SYN/ACK, data n, FIN.
func shortFlow(cl, sv netip.AddrPort, n int64) Flow {
	return Flow{
		Proto: "tcp", Src: cl, Dst: sv,
		State: "SF", History: "ShADdFf",
		OrigPkts: 5, OrigBytes: 100,
		RespPkts: 3, RespBytes: n,
		RTTSynSynAckNs: 1_000_000, RTTSynAckAckNs: 1_000_000, RTTHandshakeNs: 2_000_000,
		RTTFirstReplyNs: Null,
		OrigRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000}, // request 3 ms, response 4 ms
		RespRTT:         RTT{1, 1_000_000, 1_000_000, 1_000_000}, // response 4 ms, FIN+ACK 5 ms
	}
}

func caseIPv6() Case {
	cl, sv := ap(clientV6, 40016), ap(serverV6, 80)
	c := NewTCP(cl, sv, Options{})
	shortExchange(c, 1000)
	f := shortFlow(cl, sv, 1000)
	// IPv6: IP bytes = 40 + payload length; SYN 64, ACK/FIN 60, data 60+n; frames 14 more
	f.OrigIPBytes = 404    // 64 + 60 + 160 + 60 + 60
	f.OrigWireBytes = 474  // 78 + 74 + 174 + 74 + 74
	f.RespIPBytes = 1184   // 64 + 1060 + 60
	f.RespWireBytes = 1226 // 78 + 1074 + 74
	return Case{
		Name: "tcp-ipv6", Doc: "the short exchange over IPv6",
		Link: Ethernet, Packets: c.Packets(), Flows: []Flow{f},
	}
}

func caseVLAN() Case {
	cl, sv := ap(clientV4, 40017), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{VLAN: 100})
	shortExchange(c, 1000)
	f := shortFlow(cl, sv, 1000)
	// 802.1Q adds 4 bytes to the frame: SYN 62, ACK/FIN 58 padded to 60, data 58+n
	f.OrigIPBytes = 304    // 44 + 40 + 140 + 40 + 40
	f.OrigWireBytes = 400  // 62 + 60 + 158 + 60 + 60
	f.RespIPBytes = 1124   // 44 + 1040 + 40
	f.RespWireBytes = 1180 // 62 + 1058 + 60
	return Case{
		Name: "tcp-vlan", Doc: "the short exchange with an 802.1Q tag (VLAN 100)",
		Link: Ethernet, Packets: c.Packets(), Flows: []Flow{f},
	}
}

func caseSnaplen() Case {
	cl, sv := ap(clientV4, 40018), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{Snaplen: 64})
	shortExchange(c, 1400)
	f := shortFlow(cl, sv, 1400)
	// Only 64 bytes of each frame are kept: payload, IP and wire bytes still come
	// from the IP header and the frame's original length.
	f.OrigIPBytes = 304    // 44 + 40 + 140 + 40 + 40
	f.OrigWireBytes = 394  // 60 + 60 + 154 + 60 + 60
	f.RespIPBytes = 1524   // 44 + 1440 + 40
	f.RespWireBytes = 1574 // 60 + 1454 + 60
	// Ambiguous: Zeek cannot reassemble truncated payload and would report the
	// acknowledged-but-uncaptured payload as content gaps ('g', missed_bytes 1500).
	// flowproof's missed_bytes is sequence space never seen; every segment was seen.
	f.MissedBytes = 0
	return Case{
		Name: "tcp-snaplen", Doc: "the short exchange captured with snaplen 64 (payload truncated)",
		Link: Ethernet, Packets: c.Packets(), Flows: []Flow{f},
	}
}

func caseSLL2() Case {
	cl, sv := ap(clientV4, 40019), ap(serverV4, 80)
	c := NewTCP(cl, sv, Options{Link: SLL2})
	shortExchange(c, 1000)
	f := shortFlow(cl, sv, 1000)
	// SLL2: a 20-byte header, no padding
	f.OrigIPBytes = 304    // 44 + 40 + 140 + 40 + 40
	f.OrigWireBytes = 404  // 64 + 60 + 160 + 60 + 60
	f.RespIPBytes = 1124   // 44 + 1040 + 40
	f.RespWireBytes = 1184 // 64 + 1060 + 60
	return Case{
		Name: "tcp-sll2", Doc: "the short exchange as captured on Linux 'any' (LINKTYPE_LINUX_SLL2)",
		Link: SLL2, Packets: c.Packets(), Flows: []Flow{f},
	}
}

func caseRawIPv6UDP() Case {
	cl, sv := ap(clientV6, 40020), ap(serverV6, 53)
	u := NewUDP(cl, sv, Options{Link: RawIP})
	u.SendPayload(Orig, 0, dnsMsg(0x4242, layers.DNSTypeAAAA, netip.Addr{}))
	u.SendPayload(Resp, 2*ms, dnsMsg(0x4242, layers.DNSTypeAAAA, netip.MustParseAddr("2001:db8::53")))
	return Case{
		Name: "udp-raw-ipv6", Doc: "an IPv6 DNS query and answer over UDP, raw IP link type (no link header)",
		Link: RawIP, Packets: u.Packets(),
		Flows: []Flow{{
			Proto: "udp", Src: cl, Dst: sv,
			State: "SF", History: "Dd",
			OrigPkts: 1, OrigBytes: 32, OrigIPBytes: 80, OrigWireBytes: 80, // 40 + 8 + 32
			RespPkts: 1, RespBytes: 74, RespIPBytes: 122, RespWireBytes: 122, // 40 + 8 + 74
			RTTSynSynAckNs: Null, RTTSynAckAckNs: Null, RTTHandshakeNs: Null,
			RTTFirstReplyNs: 2_000_000,
			OrigRTT:         NoRTT, RespRTT: NoRTT,
		}},
	}
}
