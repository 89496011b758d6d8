package report

import (
	"fmt"
	"strings"
)

// method writes the definition of every column and rule the report uses, in
// one place; table headers link here.
func (r *renderer) method() {
	s := r.s
	o := s.opts
	r.p("## Method")
	r.p("Every table column links to its definition here. The columns of flows.parquet are defined in full in the README and in `go doc github.com/flowproof/flowproof/analyze`; the rules come from Zeek (states, history) and Wireshark 4.0 (RTT, retransmissions, windows).")
	defs := []struct{ id, term, text string }{
		{"m-flow", "flow", "one row of flows.parquet: a TCP connection or a UDP exchange between two endpoints (address and port), keyed apart by VLAN. A flow ends after its idle timeout (TCP %s, UDP %s, %s after both FINs or a RST), at the end of its capture, or when a new SYN reuses its ports. \"flows\" in a table counts them."},
		{"m-flow-id", "flow id", "`flow_id`: `<input #>-<frame>`: the input's number in [Evidence](#evidence) and the frame number, as Wireshark shows it, of the flow's first packet in that capture."},
		{"m-synthetic", "synthetic", "`synthetic`: a plaintext copy of a TLS connection that Kubeshark rebuilt with a fake handshake; not wire traffic, so left out of every table (counted only in the Summary's note)."},
		{"m-client", "client", "`src_ip`: the originator, the sender of the first SYN (TCP) or first packet (UDP); when no SYN was seen the roles follow the well-known port (`direction_inferred`)."},
		{"m-server", "server, port", "`dst_ip` and `dst_port`: the responder. A server in a per-server table is one (`dst_ip`, `dst_port`) of TCP flows."},
		{"m-conversation", "conversation", "all flows with the same proto, client, server and server port, whatever the client port."},
		{"m-identity", "Kubernetes identity", "namespace, pod and service of each side, when Kubeshark named them (`src_namespace`, `src_pod`, `dst_namespace`, and `dst_service`, else `dst_pod`); `-` when unknown."},
		{"m-packets", "packets", "`orig_pkts + resp_pkts`: packets of the flow, both directions."},
		{"m-bytes", "payload bytes", "`orig_bytes + resp_bytes`: TCP or UDP payload, both directions, taken from IP lengths (so a short snapshot length does not shrink it), retransmissions included."},
		{"m-wire-bytes", "wire bytes", "`orig_wire_bytes + resp_wire_bytes`: original frame lengths, headers included (what `tshark -z conv` counts)."},
		{"m-time", "first packet, last packet", "`ts_ns` and `end_ns`: the flow's earliest and latest packet, epoch ns, shown in RFC 3339 UTC; for the whole summary the earliest `ts_ns` and latest `end_ns`."},
		{"m-interval", "interval", "traffic over time counts a flow, and all its payload bytes, in the interval its first packet falls in: `ts_ns // width * width`, widths from a fixed ladder (1 ms, 10 ms, 100 ms, 1 s, 10 s, 1 min, 10 min, 1 h, 6 h, 1 d, 7 d, then ×10), the smallest that needs at most %d intervals."},
		{"m-state", "state", "`state`: Zeek's `conn_state` (table in [Connection states](#connection-states)). For UDP, SF means both sides sent, S0 only the originator, SHR only the responder."},
		{"m-failed", "rejected, unanswered, reset", "TCP connections whose state is REJ (SYN answered by RST), S0 (SYN without reply) or one of RSTO, RSTR, RSTOS0, RSTRH (reset after the first packets)."},
		{"m-handshake", "handshake RTT", "`rtt_handshake_ns`: Wireshark's initial RTT: the most recent SYN to the first ACK without SYN, so retransmitted SYNs do not inflate it; `rtt_syn_synack_ns` (SYN → SYN/ACK, the server side of the capture point) and `rtt_synack_ack_ns` (SYN/ACK → ACK, the client side) are its halves, `-` when they do not apply. Only TCP flows with a handshake count."},
		{"m-percentile", "p50, p90, p99", "DuckDB's `quantile_disc`: of n values sorted ascending, the one at position ceil(n·q) (1-based; the first when that is 0), so always a value that was measured. p50 is the lower median. Exact unless marked ≈ (see [bounds](#m-bounds))."},
		{"m-retrans", "retransmitted", "`orig_retrans_pkts + resp_retrans_pkts` (and `_bytes`): segments Wireshark marks as retransmissions (plain, fast or spurious), with their payload."},
		{"m-retrans-heavy", "retransmission-heavy", "a TCP flow that retransmitted at least %d packets and at least 1 in %d of its packets."},
		{"m-ooo", "out-of-order segments", "`out_of_order`: segments below the next expected sequence number that arrived within the iRTT (or 3 ms) of the highest one; counted instead of retransmissions."},
		{"m-dupack", "duplicate ACKs", "`dup_acks`: Wireshark's duplicate ACKs (same ACK and non-zero window, no payload, no SYN/FIN/RST), both directions."},
		{"m-zero-window", "zero windows", "`zero_windows`: segments advertising a receive window of 0 (without SYN, FIN or RST), both directions: the receiver's buffer was full."},
		{"m-missed", "missed bytes", "`missed_bytes`: TCP sequence space never seen in the capture: holes between captured segments plus data the peer acknowledged beyond the last segment seen. Non-zero means capture loss (or an asymmetric path), not network loss."},
		{"m-vantage", "vantage points", "a packet recorded twice (at the sender's egress and the receiver's ingress, as Kubeshark does) counts once: the copy (same bytes, another TTL, within the dup window) is folded and counted in `dup_pkts`; `vantages` is 2 for a flow with copies; `orig_transit_p50_ns` and `resp_transit_p50_ns` are the lower medians of receiver copy minus sender copy per direction (each includes the clock offset between the nodes; their sum does not)."},
		{"m-tls", "TLS names", "with L7 on (not `--no-l7`): `tls_sni` the ClientHello's server name, `tls_alpn` the protocols the client offered, `tls_version` the version the ServerHello negotiated."},
		{"m-flood", "SYN flood", "a TCP server that got at least %d half-open connections (the originator never completed the handshake: state S0, or S1 without its ACK) from at least %d distinct sources; the sources are a HyperLogLog estimate (2,048 registers, standard error 2.3%%), the peak is the most half-open connections started in one second (in wider intervals for captures over %d seconds)."},
		{"m-scan", "scan", "a source whose failed attempts (probes) reached at least %d distinct ports (port scan) or %d distinct hosts (address scan) in the capture. A probe is a TCP flow that starts with the originator's SYN, carries no payload from it and whose originator never acknowledged a SYN/ACK (`history` without both `h` and `A`), or a UDP flow that got no packet back. The %s sources with the most probes are tracked (Space-Saving: a source enters at its second probe, the first remembered in a filter of 32,768 slots, and replaces the one with the fewest probes, whose count it inherits, reported as the overcount; any source with more than 1 in %s of all probes is always tracked); distinct hosts and ports are exact up to 32 and HyperLogLog estimates above (512 registers each, standard error 4.6%%), counted from when the source was tracked."},
		{"m-crosscheck", "verdict", "`crosscheck`: the result of comparing the flow with Kubeshark's own L4 flow counters; `match` agrees, every other verdict is a disagreement (crosscheck.parquet has the numbers)."},
		{"m-findings", "findings", "flagged when at least one flow shows it: inputs not read completely; rejected, unanswered or reset TCP connections; handshakes of %s or more; retransmission-heavy flows; zero windows; missed bytes; cross-check disagreements; SYN floods (see [SYN flood](#m-flood)); scans (see [scan](#m-scan)); with L7 on, 5xx bursts, slow requests, DNS failures and API call disagreements (groups of HTTP requests whose L7 cross-check verdict is not `match`). Ranked by the share of their base (TCP flows, handshakes, compared flows or groups) they affect; input problems first. Each quotes up to %d flow ids, in the order of its table."},
		{"m-bounds", "bounds", "the report is built while the flows are written, in bounded memory, so its length does not depend on the number of flows: top-N tables show N = %d rows; the first %s TCP servers and the first %s conversations (and workload pairs) seen are tracked, and a table that the untracked rest could change is marked **Incomplete** (its query gives the full answer); handshake RTTs are kept exactly up to %s values for all flows and %s across servers, past which the busiest distributions become log histograms (16 buckets per power of two) and their percentiles are marked ≈, within 1/32 of the exact value. This run: %s."},
	}
	args := map[string][]any{
		"m-flow":          {settingOr(r.m, "tcp_timeout", "5m0s"), settingOr(r.m, "udp_timeout", "1m0s"), settingOr(r.m, "tcp_closed_timeout", "5s")},
		"m-interval":      {maxIntervals},
		"m-flood":         {r.s.opts.FloodMinHalfOpen, floodMinSources, rateMaxBuckets},
		"m-scan":          {o.ScanMinPorts, o.ScanMinHosts, fmtInt(int64(o.MaxScanSources)), fmtInt(int64(o.MaxScanSources))},
		"m-retrans-heavy": {retransHeavyMinPkts, retransHeavyRatio},
		"m-findings":      {fmtDuration(o.SlowHandshakeNs), findingExamples},
		"m-bounds":        {o.TopN, fmtInt(int64(o.MaxServers)), fmtInt(int64(o.MaxTalkers)), fmtInt(int64(o.MaxExactRTT)), fmtInt(int64(o.MaxExactRTT)), r.boundsHit()},
	}
	if l := s.l7; l != nil {
		defs = append(defs, []struct{ id, term, text string }{
			{"m-http-latency", "HTTP latency, duration", "`latency_ns`: from the packet completing the request headers to the packet completing the response headers (tshark's `http.time`); `duration_ns`: from the request's first byte to the response's last. Requests at or over %s (`--slow-request`) are **slow**."},
			{"m-http-status", "status class", "`status_code // 100` for codes 100 to 599 (1xx to 5xx); other codes are \"other\", a request without response (`status_code` null) \"no response\"; counted in the interval of the request's `ts_ns`, with the traffic chart's widths."},
			{"m-http-path", "path template", "the URI's path (before `?`) with every segment made of digits, a UUID, or 16 or more hex digits replaced by `{id}`. Error rates group requests (not responses without their request) by client (`namespace/pod`, else `src_ip`), server (`namespace/service` or `namespace/pod`, else `dst_ip`), method and path template; error %% is (4xx + 5xx) × 100 // requests. At most %s groups are tracked."},
			{"m-http-burst", "5xx burst", "an interval of the status timeline with at least %d 5xx answers making at least 1 in %d of its requests."},
			{"m-dns", "DNS failures", "queries answered NXDOMAIN, SERVFAIL or REFUSED, or unanswered (`rcode` null: no response matched by transaction id and endpoints); `rtt_ns` is the query packet to its response. At most %s names are tracked."},
		}...)
		args["m-http-latency"] = []any{fmtDuration(l.slowNs)}
		args["m-http-path"] = []any{fmtInt(maxL7Groups)}
		args["m-http-burst"] = []any{burstMin5xx, burstShare}
		args["m-dns"] = []any{fmtInt(maxL7Groups)}
	}
	for _, d := range defs {
		text := d.text
		if a, ok := args[d.id]; ok {
			text = fmt.Sprintf(text, a...)
		}
		r.line(fmt.Sprintf(`- <a id="%s" name="%s"></a>**%s**: %s`, d.id, d.id, d.term, text))
	}
	r.b.WriteString("\n")
}

func settingOr(m *Manifest, k, def string) string {
	if v, ok := m.Settings[k]; ok {
		return v
	}
	return def
}

// boundsHit says which bounds this run reached.
func (r *renderer) boundsHit() string {
	s := r.s
	var hit []string
	if s.srvUntracked.flows > 0 {
		hit = append(hit, fmt.Sprintf("more than %s TCP servers (%s flows untracked)", fmtInt(int64(s.opts.MaxServers)), fmtInt(s.srvUntracked.flows)))
	}
	if s.talkersUntracked.flows > 0 {
		hit = append(hit, fmt.Sprintf("more than %s conversations (%s flows untracked)", fmtInt(int64(s.opts.MaxTalkers)), fmtInt(s.talkersUntracked.flows)))
	}
	if s.workUntracked.flows > 0 {
		hit = append(hit, fmt.Sprintf("more than %s workload pairs", fmtInt(int64(s.opts.MaxTalkers))))
	}
	if !s.rtt.exact() {
		hit = append(hit, "more handshakes than are kept exactly")
	}
	approx := 0
	for _, a := range s.servers {
		if !a.handshakes.exact() {
			approx++
		}
	}
	if approx > 0 {
		hit = append(hit, fmt.Sprintf("%s servers' handshakes kept as histograms", fmtInt(int64(approx))))
	}
	if len(hit) == 0 {
		return "no bound was reached, every number is exact"
	}
	return "reached " + strings.Join(hit, "; ")
}
