// Package analyze rebuilds TCP and UDP flows from captured packets and
// measures them: the numbers of flows.parquet schema v1.
//
// Data flows one way: [Decode] turns an ingest.Packet into a [Decoded]
// (fixed fields, no pointers into the packet buffer), a [Table] groups
// decoded packets into flows and runs the per-flow TCP analysis, and every
// finished flow leaves the table as a [Record] through the emit function.
// [Run] wires a packet source to a table; [RunConcurrent] does the same with
// reading and decoding on a goroutine of their own. With
// [Config].DeferStrings the table leaves a record's FlowID, CommunityID and
// History to its receiver ([Record.Complete]), so that building them can run
// beside the table too.
//
// # Decoding
//
// Link types: Ethernet (1), Linux SLL (113) and SLL2 (276), raw IP (12, 14,
// 101, 228, 229), BSD null/loopback (0, 108), PPP (9, 50), Cisco HDLC (104)
// and Linux NFLOG (239); 802.1Q, 802.1ad and QinQ tags (the outermost id is
// the flow's vlan), MPLS label stacks and PPPoE sessions (whose length field
// bounds the packet); IPv4 and IPv6 with hop-by-hop,
// routing, destination-options, AH and atomic-fragment extension headers;
// TCP and UDP. Every other packet is counted by [Kind] (ARP, ICMP,
// fragments, other IP protocols, other EtherTypes, unsupported link types,
// truncated or malformed headers), never dropped silently.
//
// # Fragments
//
// IPv4 and IPv6 fragments are reassembled far enough to give their flow one
// packet: the transport header (itself possibly split, bytes received first
// win) and the datagram's length; payload bytes are never stored. A
// reassembled datagram counts as one packet of its flow, at the time and with
// the wire length of the frame that completed it (as tshark counts it); every
// fragment frame also counts as a fragment. Limits: 8192 datagrams in flight
// (beyond, the oldest is dropped), 64 separate ranges per datagram, 65,535
// bytes per datagram (a larger offset is refused), and 5 minutes from the
// first piece (Zeek's frag_timeout). Pieces are grouped by addresses,
// protocol, IP ID and TTL: the pieces of one datagram recorded at two vantage
// points (Vantage copies, below) make two datagrams, folded as two records of
// one packet, instead of overlapping pieces of one (a datagram whose pieces
// took paths of different lengths is not rebuilt). The manifest counts reassembled,
// timed-out, overlapping and dropped datagrams. Config.NoReassembly turns it off.
//
// # Tunnels
//
// [DecodeTunnel] opens VXLAN (UDP 4789 and 8472, I flag set), Geneve (UDP
// 6081, options skipped), GRE version 0 (checksum, key and sequence fields;
// Ethernet or IP payload) and IP-in-IP (4in4, 6in4, 4in6, 6in6), up to three
// inside one another (maxLayers). The outer packet still counts in its own flow (the UDP
// carrier of VXLAN and Geneve is a flow; GRE and IP-in-IP carriers are not
// TCP or UDP and are only counted), and the inner packet counts in an inner
// flow keyed apart by tunnel and tunnel id (VNI or GRE key), so the same
// 5-tuple in two VNIs is two flows. An inner packet's wire length is the
// whole frame's, and it keeps the frame's outermost VLAN id. Kind counts
// then count each decoded layer. Config.NoDecap turns this off. GRE version
// 1 (PPTP) and GRE carrying PPP or ERSPAN are counted as not opened.
//
// The decoder is hand-written, in the style of a DecodingLayerParser over
// preallocated state but without its generality: it reads a dozen fixed
// fields in place, never allocates, accepts TCP headers cut by the snapshot
// length, and handles IPv4 TSO (total length 0) and IPv6 GRO/jumbo packets
// (payload length 0) by taking the length from the frame.
//
// # Flows
//
// A flow is keyed by its two endpoints (address and port, in canonical
// order), the transport and the outermost VLAN id. The originator (orig) is
// the sender of the first SYN without ACK. A flow whose first packet is a
// SYN/ACK has the receiver as originator. With no SYN, the sender of the
// first packet is the originator, unless only the other side's port is a
// likely server port (below 1024 or a common service port) or both are and
// the sender's is lower: then the roles are flipped ("^" in history).
// direction_inferred is true for every TCP flow whose first packet was not a
// SYN from its originator, and for UDP flows whose roles were flipped.
//
// A flow ends when it has been idle longer than its timeout (TCP 5 min,
// UDP 1 min, and 5 s for a TCP flow that saw FIN from both sides or a RST,
// Zeek's tcp_close_delay), at the end of the capture, or early when the
// table holds MaxFlows live flows (the idlest one goes, and the table counts
// it in EvictedEarly). A SYN without ACK whose sequence number differs from
// its sender's base sequence number starts a new flow on the same 5-tuple
// (Wireshark's rule for a new tcp.stream: the base is the ISN of the
// sender's first SYN, else its first seq-1, or the peer's first ack-1).
//
// One exception keeps two connections live on one 5-tuple: Kubeshark writes
// the decrypted plaintext of a TLS connection as a synthetic twin with a fake
// handshake and ISN 0, interleaved with the real packets. When a new SYN's
// sequence number and the open flow's ISN disagree on being a synthetic start
// (0 or 1), the new connection becomes the flow's twin instead of ending it,
// and each later packet goes to the twin whose sequence numbers it fits
// (seq within 2^24 of the sender's next expected, ack within 2^24 of the
// receiver's). The wire flow's counters and RTTs never see the twin's
// packets. synthetic is true for a flow whose SYN and SYN/ACK both carry a
// synthetic ISN.
//
// # Vantage copies
//
// A capture can hold one packet twice: Kubeshark records a packet between
// two targeted pods at the sender's egress and again at the receiver's
// ingress, in one merged file; a capture on both sides of a router sees it
// before and after. The table folds such copies (Config.NoDedup keeps every
// record). Captures kept per node (flowproof pull --per-node) are the same
// records split by where they were taken: package pipeline reads an evidence
// directory's per-node captures as one stream merged by time into one table,
// which then sees and folds what the merged export holds.
//
// Two records are copies of one packet when they are at most
// Config.DupWindowNs apart (default 10 ms: copies on one node are
// microseconds apart, across nodes they also differ by the nodes' clock
// offset, a few milliseconds at most; a timed-out resend comes after at
// least Linux's minimum RTO, 200 ms), their TTLs (hop limits) differ, and
// their fingerprints are equal: the IP header but for TTL and checksum, the
// TCP or UDP header but for checksum, and the length, first 16 and last 16
// bytes of what follows (TCP options and payload), in a 56-bit hash of words
// read in place (hashing whole payloads would cost more than the rest of
// decoding; packets of one flow that agree on all this differ, if at all,
// where application headers put ids and counters, at the start). The TTL
// tells the vantage points apart: it drops on the way, so the higher one is
// the sender's copy (out of a tunnel, the outermost TTL counts: routers lower
// only that one). Records with the same TTL are not folded: a repeat at one
// vantage point (a retransmission; a duplicate the network made) and a copy
// taken where no router separates the two points (a bridge, or one host's
// two interfaces) look alike; the DupAmbiguous counter says how many there
// were among the records compared one by one (the delay line's, below: the
// first window of every capture, and all of a capture once it held a copy;
// after that the detect table compares only records whose TTL changed, so a
// bridged capture shows its equal-TTL copies in the first window's count).
// Config.DupSameTTL folds them too, the earlier taken as the
// sender's, for captures known to hold such copies (Kubeshark on a CNI that
// bridges the pods of one node). Copies pair first in, first out (the n-th record of a packet
// at one vantage point pairs with the n-th at the other), so a
// retransmission at one vantage point stays a retransmission.
//
// The numbers are those of the originator's side: of two copies the flow
// counts the originator's (the sender's copy of its packets, the receiver's
// copy of the responder's), with that copy's time and in that copy's place
// in the capture. For this every TCP and UDP record waits in a delay line
// until its copy comes or the window has passed, and leaves it in the
// capture order of the copies counted. Packets, bytes, retransmissions, the
// handshake and data RTTs are then what the originator's host saw, on its
// clock alone. While a record's flow does not exist yet (its first record
// still waits), its originator is the one the connection's first opening
// waiting names (a SYN's sender, else a SYN-ACK's receiver), else the one
// the rules of a new flow (Flows, above) give for its first record folded:
// across nodes, a reply's copy can come before the request's copy counted.
// A packet one vantage point alone saw (lost between the two,
// or missed by one capture) counts once, as it came. The delay line runs for
// the first 1,024 records or the first window of a capture, and to its end
// once a copy was folded; a capture without copies by then goes on without
// it, watching for a first copy through a table of recent records: 4,096
// slots by fingerprint over a ring of the latest 8,192 (a record landing in
// the slot of an earlier one hides that one's copy, and so does the ring
// going round). Every record is written there, but a slot is read only when
// a record's TTL is not the last TTL seen between its two addresses (4,096
// address-pair slots, a byte each): a copy's TTL differs from its
// original's, while traffic between two addresses keeps one TTL. A capture
// without copies so pays a fingerprint, a read of a byte and a 16-byte
// write to the ring's next place per record, not a read or a write of a
// random slot (the slots catch up with the ring when one is read); the
// README gives the measured cost. A first copy found
// that way turns the delay line back on; packets of the
// flows in flight that were counted before may keep the other vantage
// point's time and place (the packet whose copy was found takes the
// preferred copy's time).
//
// GSO: the sender's copy can be a GSO super-packet, one IP packet standing
// for several wire segments that the receiver's copies are. A TCP data
// record and records of the same connection direction at the other TTL
// within the window whose sequence ranges tile it, one after the other (up
// to 64 when the segments come first), are one transmission (GSOSplit counts
// them): when the side counted is the super-packet, its segments count as
// its packets (each adds its headers to ip_bytes and wire_bytes) and its
// payload once; when it is the segments, the super-packet is folded. A
// waiting super-packet that its segments cover only in part is not counted
// (GSOMismatch). Data records are matched so from the capture's start,
// through the delay line's first window: a super-packet can come before any
// copy was folded (the other node's clock behind), and a match turns the
// delay line on for good, as a folded copy does. Which side counts is
// decided at a super-packet's first piece. The TCP analysis sees a counted
// super-packet as one segment: ACKs inside it give no RTT sample, and one
// resent (out of order) counts as that many retransmitted (out-of-order)
// packets as it has segments. UDP GSO (a super-datagram that the kernel
// cuts into datagrams of one size, UDP_SEGMENT: QUIC senders use it) is not
// recognised: a datagram carries no sequence number, and which bytes of a
// super-datagram a wire datagram holds is known only from the wire
// datagrams' size, after the super-datagram passed; such a flow counts its
// bytes from both vantage points (in-cluster traffic is rarely QUIC).
//
// Bounds: a flow seen from two vantage points keeps what they add (120 bytes
// and its transit samples) apart from the flow. At most MaxDupEntries
// (default 65,536) records are remembered for folding and as many wait in
// the delay line; the index keeps up to 8 per bucket of one cache line; the
// GSO table starts at 4,096 recent data records in buckets of 4 and doubles
// when a bucket is full of records inside the window, up to MaxDupEntries
// (a fixed table lost matches to collisions, by the flow index's random
// seed: differently from run to run). Beyond them the oldest record is
// forgotten, or counted at once, and DupCapped counts it (its copy may then
// count as a packet of its own). None of this state holds Go pointers.
// A datagram rebuilt from IP fragments has a fingerprint of its addresses,
// protocol, IP ID, length and first 60 payload bytes (what reassembly keeps)
// and is folded with the other vantage point's datagram like any record, at
// the time of the piece that completed it. Fragments themselves are counted
// per kind, each record of them. TCP headers of impossible length have no
// fingerprint and are never folded.
//
// Columns: dup_pkts counts the flow's records folded into another record
// (not counted as packets); vantages is 2 when it has any, else 1.
// orig_transit_p50_ns (resp_transit_p50_ns) is the lower median, over the
// originator's (responder's) packets whose two copies were both seen, of the
// receiver's copy's time minus the sender's (up to 4096 samples, then a
// reservoir, as for RTTs), null without such a pair. It is the one-way
// transit between the two vantage points plus the clock offset between their
// nodes, so it can be negative; the offset enters the two directions with
// opposite signs, and their sum is the network round trip between the two
// points without either host's stack or application time. The Table's
// counters DupFolded, GSOSplit, DupAmbiguous, DupCapped and GSOMismatch
// become each input's vantage counts in the manifest (duplicates_folded,
// gso_split, ambiguous, capped, gso_mismatch).
//
// Captures merged into one stream (pipeline's per-node captures of one
// evidence directory) number their packets' ingest.Packet.Origin, carried
// in Decoded.Origin; a flow's Record.Origins has bit i set when a packet of
// capture i+1, or a copy of one folded into another record, belonged to it
// (the first MaxOrigins captures), so the row can say which nodes saw it.
//
// # Column definitions
//
//   - ts_ns, end_ns: earliest and latest packet timestamp of the flow (epoch
//     ns); duration_ns = end_ns - ts_ns. flow_id is "<capture ordinal>-<frame
//     number of the flow's first packet>": unique in an output, stable under
//     any parallelism, and the frame number Wireshark shows.
//   - orig_pkts, resp_pkts: packets each side sent.
//   - orig_bytes, resp_bytes: transport payload. TCP: IP length minus IP and
//     TCP headers; UDP: the UDP length field minus 8 when the IP length backs
//     it, else the IP length minus headers. Lengths come from IP headers, so
//     snaplen truncation does not shrink them; a frame shorter on the wire
//     than its IP length counts only what it carried (as Wireshark does).
//     Retransmissions are included.
//   - orig_ip_bytes, resp_ip_bytes: sum of IPv4 total length, or 40 + IPv6
//     payload length (Zeek's definition).
//   - orig_wire_bytes, resp_wire_bytes: sum of original frame lengths (what
//     tshark -z conv counts).
//   - state and history: Zeek's conn_state and history, from Zeek's endpoint
//     state machine. History letters are Zeek's: S SYN, H SYN/ACK, A pure ACK,
//     D payload, F FIN, R RST, Q multi-flag, I FIN+RST, ^ roles flipped
//     (upper case originator, lower case responder; S H F R repeat only on a
//     new sequence number, A D Q I once), and the logarithmic T (payload not
//     passing the highest sequence seen), W (zero window) and G (the peer
//     acknowledged data never captured) at the 1st, 10th, 100th... event.
//     C is never written: checksums are not verified (offloading makes them
//     wrong in most host captures).
//   - orig_retrans_pkts/bytes, resp_retrans_pkts/bytes: segments Wireshark
//     marks tcp.analysis.retransmission (plain, fast or spurious) and their
//     payload. Out-of-order segments (seq below the next expected, arriving
//     within the iRTT or 3 ms of the highest one) are counted in
//     out_of_order instead; keep-alives and zero-window probes in neither.
//   - dup_acks, zero_windows: Wireshark's tcp.analysis.duplicate_ack (same
//     ack, same non-zero window, no payload, no SYN/FIN/RST; not an ACK of a
//     keep-alive) and tcp.analysis.zero_window (window 0 without SYN/FIN/RST),
//     both directions.
//   - missed_bytes: sequence space never seen in the capture: holes left
//     between captured segments (a segment beginning beyond the next expected
//     sequence number opens one, later segments fill it) plus data the peer
//     acknowledged beyond the last segment seen. Unlike Zeek it also counts
//     holes nobody acknowledged.
//   - rtt_syn_synack_ns: the originator's most recent SYN before the first
//     SYN/ACK -> that SYN/ACK. rtt_synack_ack_ns: that SYN/ACK -> the
//     originator's first ACK acknowledging it. rtt_handshake_ns: Wireshark's
//     tcp.analysis.initial_rtt exactly: the most recent SYN without ACK (either
//     side) -> the first packet with ACK and without SYN; it equals the sum
//     of the two halves for a normal handshake, and is also set (with null
//     halves) when, for example, a RST/ACK answers the SYN. A difference of 0
//     leaves it unset, as in Wireshark.
//   - rtt_first_reply_ns (UDP): the originator's first packet -> the
//     responder's first packet, when the originator spoke first.
//   - orig_rtt_* (resp_rtt_*): data RTT of payload segments the originator
//     (responder) sent: a sample is the time from a segment to the first ACK
//     from the peer whose number equals the segment's end exactly (Wireshark's
//     tcp.analysis.ack_rtt, tcptrace's rule); segments sent more than once
//     give no sample (Karn), nor do segments sent before a retransmission of
//     an earlier one (their ACK waited for the repair: tcptrace's rule) or
//     segments acknowledged only cumulatively. samples, min and max are exact; p50 is the lower median
//     (sorted[(n-1)/2]) of all samples up to 4096 per direction, and of a
//     deterministic uniform reservoir of 4096 beyond. All four are null with
//     no sample.
//   - src_pod ... dst_node and crosscheck: Kubernetes identity and the
//     verdict of the flow's Kubeshark aggregate, null without Kubeshark data;
//     defined in package analyze/crosscheck.
//
// # Bounds
//
// Memory follows live flows, not capture size: per direction at most 256
// unacknowledged segments (more give no RTT sample), 4096 RTT samples, 16
// sequence holes (more are merged, counting the bytes between as missed) and
// 48 history letters; the table holds at most MaxFlows flows.
//
// # Flow store
//
// Live flows sit in slabs addressed by 32-bit ids (store.go): 4096 flows a
// slab, the first slabs smaller (8, 8, 16 ... 2048) for captures of a few
// flows. A slab never moves, and ids of finished flows are reused. What
// every packet touches is the flow's hot part, 144 bytes: the key (48),
// first and last times and the first packet's index, 32-bit counters per
// direction, 16 bytes of UDP timing or of a waiting TCP packet, the expiry
// list links, the id of its TCP state, state bits, and 2 bytes kept for a
// mask of the capture nodes that saw the flow (5 bytes are free). It holds
// no Go pointers, and neither do the index (open addressing, 8-byte slots of
// an id and a hash tag, at most 3/4 full: a lookup touches only flows whose
// tag matches) nor the expiry lists (linked by id): the collector never
// scans them, however many flows are live.
//
// The rest is allocated for the flows that need it. A TCP flow's state
// (tcpConn, 416 bytes, in slabs of its own, plus its segments and samples;
// what only retransmissions, gaps, reordering, duplicate ACKs and zero
// windows touch is allocated when first needed) comes at the flow's second
// packet: until then the flow keeps its first packet's sequence and
// acknowledgement numbers, window, flags, payload length and direction in
// its 16 spare bytes (its time is the flow's first time), and replays that
// packet into the new state, or into a scratch state when the flow ends
// with one packet, so every number is what analysing it at once would
// give. A half-open flow of a SYN flood or a scan therefore costs its 144
// bytes and an index slot. Counters move to a map beside the table when a
// flow passes 2^32 packets or bytes in one of them; vantage state and L7
// state live in maps keyed by flow id. Idle expiry pops list heads, so its
// work follows the flows that end, not those that live; Flush drops the
// index whole instead of unlinking each flow, and frees no ids.
//
// With a million flows live (a SYN flood), each new flow's index lookup and
// each ended flow's removal is a cache miss: once the index has 2^20 slots
// (8 MiB, past the CPU's caches), RunConcurrent starts loading the index slot
// of the packet four ahead of the one the table works on, and a full table,
// which ends its idlest flow for each new one, that of the next flow to end
// (prefetch instructions: internal/prefetch, none on other architectures).
// A smaller index is left alone: the bench capture's never reaches that
// size. A finished flow's record (832 bytes) is built where its receiver
// keeps it (Table.SetRecordSlot: pipeline's batches for the writer's
// goroutine) instead of in the table's and then copied; the lines of the
// next slot, last written by the receiver on another core, are taken for
// writing just after each record is emitted.
//
// # Application layer
//
// Config.L7 takes an optional [L7Factory] (package analyze/l7 has one for
// HTTP/1.x, DNS and TLS): the table offers it the first payload packets of
// each flow and then feeds the flows it takes, payload included, until they
// end. With L7 off the table pays one nil check per packet.
package analyze
