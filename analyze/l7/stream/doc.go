// Package stream puts the payload of one TCP direction in order, with
// bounded memory, for the application-layer parsers of package l7.
//
// A [Dir] takes segments as captured (sequence number, captured bytes,
// segment length) and hands its [Sink] contiguous bytes and gaps:
//
//   - Bytes before the next expected sequence number were delivered
//     already: they are dropped (counted as retransmitted), and a segment
//     overlapping the edge delivers only its new part. The first copy of a
//     byte wins, as in Zeek and Wireshark's default.
//   - A segment beyond the next expected byte is held (copied) until the
//     hole before it fills. A segment more than 16 MiB ahead declares the
//     hole a gap at once.
//   - A hole becomes a gap when the peer acknowledges past it while data
//     behind it is held (the receiver had bytes the capture lost), when a
//     limit is hit, or at Close; at Close, data the peer acknowledged past
//     the last byte captured (the FIN aside) is a gap too. An ACK alone
//     does not declare a gap at once: in merged captures an ACK can be
//     written before the data it acknowledges.
//   - Bytes cut by the snapshot length (segment longer than what was
//     captured) are a gap.
//
// Timestamps: Data gets the capture time of the packet that made the bytes
// contiguous; for held bytes that is the packet that filled the hole,
// which is when a reassembling dissector such as tshark's completes them.
//
// Limits ([Limits]): held segments and bytes per direction, and held
// bytes over every direction of a run ([Budget]). When one is hit, what is
// held is delivered at once with its holes as gaps ([Stats].CapHits):
// memory stays bounded, and the parsers see a gap rather than nothing.
package stream
