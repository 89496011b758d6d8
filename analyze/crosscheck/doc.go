// Package crosscheck compares the flows rebuilt from a capture with
// Kubeshark's socket counters (list_l4_flows, eBPF), and names the Kubernetes
// workloads behind flow addresses, time-aware.
//
// It has its own input types (Aggregate, Assignment): the JSON of Kubeshark's
// answers is parsed elsewhere (ingest/kubeshark) and converted by the caller.
//
// # Aggregates
//
// Kubeshark reports one record per (proto, client ip, server ip, server port)
// with per-side tx/rx packets and bytes and handshake RTT percentiles (µs).
// The capture's flows are summed the same way: the originator is the client,
// the responder the server (a flow whose reverse orientation is the one
// Kubeshark knows is counted reversed). Synthetic flows (Kubeshark's TLS
// plaintext twins) are left out: only wire flows are compared.
//
// # Comparisons
//
//   - bytes: a socket counts application bytes, without retransmissions or
//     headers. Each Kubeshark byte counter (client tx, client rx, server tx,
//     server rx, of the sides Kubeshark reports) is compared with the
//     capture's payload bytes minus retransmitted bytes in that direction.
//     They agree when |a-b| <= max(BytesRel*max(a,b), BytesAbs).
//   - packets: socket send/receive calls are not packets (segmentation
//     offload, coalescing), so packets are recorded with their ratio but never
//     judged.
//   - handshake RTT: the client's p50 (SYN -> SYN/ACK) is compared with the
//     median of the capture's rtt_syn_synack_ns; the server's p50 with the
//     median of rtt_synack_ack_ns (SYN/ACK -> ACK), or of rtt_handshake_ns
//     (SYN -> ACK, the kernel's SYN_RECV -> ESTABLISHED) when that one agrees.
//     They agree when |a-b| <= max(RTTRel*max(a,b), RTTAbsNs). p90 and p99
//     are recorded, not judged: Kubeshark's come from a t-digest over a
//     sliding 2-minute window, which the capture's window rarely equals.
//
// # Verdicts (in order of precedence)
//
//   - outside_window: Kubeshark's record is dated outside the capture's time
//     range widened by WindowSlackNs (default 5 s, Kubeshark's counter sampling
//     period): the two witnesses looked at different times.
//   - kubeshark_only: Kubeshark counted traffic the capture lacks (capture
//     loss, a capture filter, or a node the capture did not cover).
//   - pcap_only: the capture holds the traffic, Kubeshark has no record
//     (host-network or short-lived sockets, a flow outside its selection).
//   - bytes_mismatch: a byte counter disagrees beyond the tolerance.
//   - rtt_mismatch: a handshake RTT median disagrees beyond the tolerance.
//   - match: everything compared agrees.
//
// Defaults: bytes within max(1%, 0 bytes), RTT within max(25%, 1 ms),
// window slack 5 s; at most 100000 pcap_only aggregates are kept for
// crosscheck.parquet (their flows still get the verdict).
//
// Memory: one entry per Kubeshark record and per kept pcap_only aggregate;
// handshake medians use the first 1024 samples of each half per Kubeshark
// aggregate (pcap_only aggregates keep none).
//
// # API calls (L7)
//
// [L7Checker] compares Kubeshark's API calls (list_api_calls, parsed by
// ingest/kubeshark/apicalls) with the capture's HTTP requests (the rows of
// http.parquet, as [L7Txn]), per group (client, server, method, path,
// status). Client and server are named the same way on both sides: the
// workload holding the address at the request's time (the caller's namer,
// list_workloads), else the pod the calls name for it when they all agree,
// else the IP; the path has no query string. Per group: counts, latency
// medians (lower middle of the first 1024 of each side; Kubeshark's
// latency_ms against the capture's latency_ns, time to first byte), and
// the sums of request and response sizes, recorded but never judged.
// Verdicts, in order of precedence: outside_window (Kubeshark's calls dated
// outside the capture's range plus WindowSlackNs, grouped apart),
// kubeshark_only, capture_only, count_mismatch (beyond CountAbs),
// latency_mismatch (beyond max(LatencyRel, LatencyAbsNs)), match. Memory:
// 32 bytes per Kubeshark call until Finish (MaxCalls of them, the rest
// counted), one group per key, capture groups beyond MaxGroups counted,
// not kept. Calls are named once they are all in (an address the calls
// name is known only then), at the first capture request.
//
// # Identity
//
// Workload assignments (list_workloads: an IP held by a pod or service from a
// time on) give each IP its holder over time: an assignment lasts until the
// next one of the same IP. A flow's endpoint is named only when the same
// single holder held the IP at the flow's first and last packet; otherwise
// the identity stays empty (null) rather than guessed. Services and nodes of
// pods come from Kubeshark's L4 records naming the same pod. Without any
// assignment for an IP, the L4 records name it only when they all name the
// same pod.
package crosscheck
