// Package capgen scripts TCP and UDP conversations packet by packet and writes
// them as pcap or pcapng files with exact, deterministic bytes, together with the
// flow records flowproof must produce for them, derived by hand.
//
// # Scripting
//
// A conversation is built from a client (the originator, [Orig]) and a server
// ([Resp]); every time is an offset from [Epoch]:
//
//	c := capgen.NewTCP(client, server, capgen.Options{})
//	c.SYN(0)
//	c.SYNACK(1 * time.Millisecond)
//	c.ACK(capgen.Orig, 2*time.Millisecond)
//	c.Data(capgen.Orig, 3*time.Millisecond, 100)
//	c.FIN(capgen.Orig, 4*time.Millisecond)
//	pkts := c.Packets()
//
// Sequence numbers are relative (0 is the sender's ISN). The builder tracks what
// each side has received, so acknowledgements follow by themselves: a hole left
// by [TCP.Lost] (captured, never delivered) makes the receiver's ACKs repeat,
// [TCP.Skip] (delivered, not captured) makes them cover bytes the capture never
// saw, and [TCP.DataAt] / [TCP.Retransmit] place payload at an explicit sequence
// number. [TCP.Send] takes a [Seg] for anything else (explicit flags, seq, ack).
// [Options] selects Ethernet (optionally 802.1Q-tagged), Linux SLL2 or raw IP
// framing, a snaplen, the ISNs and the initial window. SYN and SYN/ACK carry an
// MSS option (24-byte TCP header). Ethernet frames are padded to 60 bytes, as
// gopacket does and as on a wire, so a pure ACK is 60 frame bytes but 40 IP bytes.
// [Merge] interleaves several conversations by time; [WritePcap] (nanosecond
// pcap) and [WritePcapng] write them. Script mistakes (time going backwards,
// mixed address families) panic: scripts are fixed tables.
//
// # Cases
//
// [Cases] returns the edge cases; `go run ./internal/capgen/cmd/capgen` (from the
// module root) writes each to testdata/gen/<name>.pcap, plus tcp-sf.pcapng. All
// IPv4 cases use 192.0.2.1 (client) and 192.0.2.2; IPv6 2001:db8::1 and ::2.
//
//	name              state history     what it exercises
//	tcp-sf            SF    ShADadFf    clean close; iRTT 3.000456 ms split 1.500123 + 1.500333 ms
//	tcp-retransmit    SF    ShADadtFf   RTO retransmission of a response; Karn: no sample for it
//	tcp-syn-retrans   SF    ShADdFf     SYN sent twice; handshake RTT from the most recent SYN (1 ms)
//	tcp-port-reuse    SF,SF ShADdFf x2  same 5-tuple reopened with new ISNs: two flows
//	tcp-rstr          RSTR  ShADar      responder aborts an established connection
//	tcp-rej           REJ   Sr          SYN answered by RST/ACK; iRTT 0.3 ms to the RST/ACK, no halves
//	tcp-s0            S0    S           SYN and two retransmissions, no answer
//	tcp-sh            SH    SF          SYN then FIN, no answer
//	tcp-midstream     OTH   ^dADa       no SYN; server port 80 sends first; direction inferred
//	tcp-zero-window   SF    ShADdWFf    zero window, then a window update (not a dup ACK)
//	tcp-out-of-order  SF    ShADTadFf   two segments swapped: Wireshark Out-Of-Order, Zeek 'T'
//	tcp-gap           SF    ShADdgFf    a segment acked but never captured: missed_bytes 1000
//	tcp-dup-acks      SF    ShADdtFf    loss downstream, two dup ACKs, fast retransmission
//	udp-dns           SF    Dd          A and AAAA queries and answers; first reply 1.234567 ms
//	udp-oneway        S0    D           three datagrams, no reply
//	tcp-ipv6          SF    ShADdFf     IPv6 (IP bytes = 40 + payload length)
//	tcp-vlan          SF    ShADdFf     802.1Q tag, VLAN 100
//	tcp-snaplen       SF    ShADdFf     snaplen 64: payload and bytes from IP lengths
//	tcp-sll2          SF    ShADdFf     LINKTYPE_LINUX_SLL2
//	udp-raw-ipv6      SF    Dd          LINKTYPE_RAW, IPv6 DNS over UDP
//
// # How the expectations were derived
//
// Every [Flow] in the table was written by hand from the script and the
// definitions in docs/flow-semantics.md and design.md, with a comment for each
// value that is not obvious:
//
//   - state and history follow Zeek (main.zeek conn_state; TCPSessionAdapter's
//     update_history: S/h/A/a/D/d/F/f/R/r once per direction, repeated only for a
//     new sequence number; 'T'/'t' when payload does not advance the sender's
//     highest sequence number; 'G'/'g' when an ACK covers bytes never seen, in an
//     established connection; 'W'/'w' for a zero window; '^' when the port
//     heuristic flips the roles).
//   - retransmissions, out-of-order, dup ACKs and zero windows follow Wireshark's
//     TCP analysis (WSUG); a retransmission is any frame Wireshark flags as
//     Retransmission, Fast Retransmission or Spurious Retransmission, SYNs included.
//   - rtt_syn_synack_ns runs from the most recent SYN to the first SYN/ACK,
//     rtt_synack_ack_ns from that SYN/ACK to the originator's first ACK of it, and
//     rtt_handshake_ns is Wireshark's iRTT (their sum for a normal handshake).
//   - a data RTT sample is taken for a payload-carrying segment that was sent
//     once (Karn) when a packet from the peer, data or FIN included, acknowledges
//     exactly its end; cumulatively acknowledged segments, and segments sent
//     before a retransmission of an earlier one, give none. p50 is the lower
//     median, sorted[(n-1)/2].
//   - payload bytes come from IP lengths (so snaplen truncation does not shrink
//     them) and include retransmissions; wire bytes are original frame lengths.
//
// Two referees check the table. TestFlowCountsMatchPackets recounts packets,
// payload, IP and wire bytes and the handshake / first-reply RTTs mechanically
// from the decoded packets (it caught one slip). TestTsharkReferee, when tshark
// is on PATH, runs tshark and compares frames, frame bytes, payload, IP bytes,
// tcp.analysis.initial_rtt and the retransmission, out-of-order, dup-ACK and
// zero-window flags per conversation; it agrees with every case. State, history,
// missed bytes and the data RTT samples have no tool referee here (Zeek is not
// installed); they rest on the reading of the Zeek source noted above.
//
// # Ambiguities, decided here and flagged in the cases
//
//   - tcp-rej: Wireshark stops iRTT at the first ACK-without-SYN in either
//     direction, which is the RST/ACK (0.3 ms); rtt_handshake_ns is defined as
//     Wireshark's iRTT, so it is 0.3 ms while both halves are null.
//   - tcp-out-of-order: Zeek's history gets 'T' for the late segment while
//     Wireshark classifies it Out-Of-Order, not a retransmission (retrans 0).
//   - tcp-syn-retrans, tcp-s0: retransmitted SYNs count as retransmitted packets
//     (Wireshark) with 0 bytes, yet add no 'S' or 'T' to the history (Zeek).
//   - tcp-snaplen: Zeek would report truncated payload as content gaps; here
//     missed_bytes counts only sequence space never seen, so it is 0.
//   - data RTT: only an ACK ending exactly on a segment gives a sample, and
//     segments sent before a retransmission of an earlier one give none
//     (tcptrace's rules); piggybacked ACKs (on data or FIN) give samples.
//
// # Vantage copies
//
// [Double] takes a capture (for the tests, the recordings in testdata/rec)
// and records every TCP and UDP packet a second time, as Kubeshark's eBPF
// capture does when both ends are targeted pods: the capture's host is
// [Vantage].Local, its records are its own egress and ingress copies, and
// each packet gets a copy at the other end, with the TTL lower at the
// receiver (equal with Bridged; the IPv4 checksum fixed), stamped the path delay later for
// the packets the host sent and earlier for those it received, shifted by
// the other node's clock offset (ahead or behind). Bursts of data segments
// a host sent can be merged into GSO super-packets at its egress; chosen
// packets can be retransmitted byte for byte, and chosen copies lost. The
// result is raw IP (LINKTYPE_RAW, as Kubeshark exports), merged by time,
// together with the single-vantage capture it must analyse as: the
// originator's transit is Delay+Offset, the responder's Delay-Offset. The
// tests build these in memory (analyze/vantage_test.go); nothing is written
// to testdata.
//
// # Determinism
//
// MACs, ISNs, IP IDs, payload bytes and timestamps are fixed; the pcapng section
// and interface options are fixed strings (pcapgo's defaults would embed the
// host's OS and architecture). Generating twice gives identical files
// (TestDeterministic), and TestGoldenFiles keeps testdata/gen in step.
//
// The writers are implemented here instead of using gopacket's pcapgo, which
// imports golang.org/x/net/bpf, a module flowproof does not depend on.
package capgen
