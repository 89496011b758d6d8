// Package l7 reads application-layer transactions out of the flows of an
// [analyze.Table]: HTTP/1.x requests and responses, DNS queries over UDP
// and TCP, and the names of TLS handshakes. An [Engine] is the table's
// optional [analyze.L7Factory]:
//
//	eng := l7.New(l7.Config{HTTP: onHTTP, DNS: onDNS, TLS: onTLS})
//	tbl := analyze.NewTable(analyze.Config{L7: eng}, name, ordinal, emit)
//	err := analyze.RunConcurrent(capture, tbl) // or Run; then tbl.Flush()
//
// Every row carries its flow's [analyze.L7Info]: FlowID() is the flow_id
// of the flow's flows.parquet row, Orig and Resp its endpoints.
//
// # Which flows
//
// The table offers a flow's first payload packets (up to eight) to the
// engine, which takes the flow or declines it; only taken flows have L7
// state. Detection is by content, not port, for HTTP (a request line ending
// in HTTP/x.y, a known method cut before its line ends, or a status line)
// and TLS (a handshake record holding a ClientHello or ServerHello); DNS is
// taken on ports 53, 5353 and 5355 when its first datagram parses (UDP) or
// on those ports over TCP. A flow joined mid-message gets its next payload
// packets offered until one starts a message.
//
// # Streams
//
// TCP payload is put in order per direction by package stream: by
// sequence number, retransmitted bytes dropped, out-of-order segments held
// (bounded), holes the capture never filled reported as gaps. Parsers see
// contiguous bytes and gaps, never packets. The first direction starts at
// the accepted packet's sequence number and the other at that packet's
// acknowledgment number, so a response's first segment arriving out of
// order is still put in place.
//
// # Memory
//
// Bodies are never stored, only counted. What is kept per flow is bounded:
// held out-of-order bytes (stream.Limits: 64 segments and 256 KiB per
// direction, 64 MiB for the whole run), one HTTP head per direction (64
// KiB), 1024 requests waiting for responses, 256 DNS queries waiting, 32
// KiB of TLS handshake per direction. Every limit that cuts something
// counts it in [Stats].
//
// # Cost
//
// With L7 off the table's per-packet path is unchanged (one nil check; no
// allocation). With it on, each packet of a flow costs a slab lookup (the
// flow's L7 state lives beside the table, indexed by flow id, not in its
// flow struct). A taken HTTP flow reuses the state of an ended one (it
// ends once both directions are delivered up to their FINs); TLS and DNS
// flows allocate theirs. A transaction carries its own copy of its flow's
// L7Info, so that a connection's state is reused as soon as it ends while
// its transactions still wait for the writer, and comes from
// Config.Recycled when its consumer gives transactions back there (the
// pipeline's writer returns them, as rows, with the batches it hands back
// to the table's goroutine anyway; http.Release is the sync.Pool for other
// consumers): on the bench capture no allocation per connection or per
// request is left (BenchmarkTableL7: 175 allocations per 400,000 packets
// beyond the table's own). URI, Host and User-Agent strings are shared
// through an http.Interner, which looks recent values up in a small
// direct-mapped cache before its map. A head that arrives in one segment
// is parsed in place, its end and its fields found in one pass; one with
// the same bytes as the last head of its kind parsed so (a client
// repeating its request, a server its headers within one second of Date)
// is compared with it and takes what it said, unparsed.
// RunConcurrent copies payloads from the reading goroutine to the table's
// (a small part of a run: README, Application layer). Body segments and
// ACKs allocate nothing. What the
// whole run costs with and without L7 is in the README (Application layer).
//
// # Trade-offs
//
// A flow the table ends early (idle timeout, MaxFlows) ends its
// transactions too: a response after the flow's timeout is not paired. The
// HTTP parser loses its place at a gap inside a head or chunk framing, and
// picks up again only at a segment that starts with a request or status
// line. TLS names come only from the first handshake message of each
// direction; a ClientHello split by a gap is lost.
package l7
