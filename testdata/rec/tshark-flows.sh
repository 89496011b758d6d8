#!/usr/bin/env bash
# tshark-flows.sh FILE > FILE.flows.tsv
#
# Per-conversation reference counts from tshark, one row per tcp.stream / udp.stream:
#   proto stream a_ip a_port b_ip b_port frames_ab frames_ba wire_bytes_ab wire_bytes_ba
#   payload_ab payload_ba first_ns last_ns irtt_ns
# A is the sender of the first frame of the stream. A frame belongs to its innermost
# transport layer only (the last tcp/udp in frame.protocols), so a VXLAN frame carrying TCP
# counts for the inner TCP stream, not for the outer UDP one; addresses are those of the
# innermost IP layer in front of that transport. wire bytes = frame.len; payload = tcp.len
# or udp.length-8; first_ns/last_ns = frame.time_epoch of the first/last frame in ns;
# irtt_ns = tcp.analysis.initial_rtt (ns) of the first frame of the stream carrying it, empty
# when none. Rows are ordered by the stream's first frame.
#
# tshark runs single-pass with its default dissection settings except TCP desegmentation,
# which is switched off (it does not change tcp.len, tcp.stream or the analysis fields).
# All arithmetic on timestamps is done on strings: mawk has only doubles.
set -euo pipefail
if [ $# -ne 1 ]; then
	echo "usage: $0 CAPTURE > CAPTURE.flows.tsv" >&2
	exit 2
fi
tshark -r "$1" -n \
	-o tcp.desegment_tcp_streams:FALSE \
	-o tcp.analyze_sequence_numbers:TRUE \
	-T fields -E separator=/t -E occurrence=a -E aggregator=, \
	-e frame.number -e frame.time_epoch -e frame.len -e frame.protocols \
	-e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
	-e tcp.stream -e tcp.srcport -e tcp.dstport -e tcp.len \
	-e udp.stream -e udp.srcport -e udp.dstport -e udp.length \
	-e tcp.analysis.initial_rtt 2>/dev/null |
LC_ALL=C awk -F '\t' -v skip_icmp="${FLOWS_SKIP_ICMP_ERRORS:-0}" '
function last(s,   n, a) { n = split(s, a, ","); return n ? a[n] : "" }
function ns(t,   neg) {
	# "1369953912.269853000" -> "1369953912269853000", kept as a string.
	neg = ""
	if (substr(t, 1, 1) == "-") { neg = "-"; t = substr(t, 2) }
	sub(/\./, "", t)
	sub(/^0+/, "", t)
	if (t == "") return "0"
	return neg t
}
# later(a, b): a > b for non-negative decimal strings of any length.
function later(a, b) { return length(a) != length(b) ? length(a) > length(b) : a > b }
BEGIN { OFS = "\t"; n = 0
	print "proto", "stream", "a_ip", "a_port", "b_ip", "b_port", "frames_ab", "frames_ba",
		"wire_bytes_ab", "wire_bytes_ba", "payload_ab", "payload_ba", "first_ns", "last_ns", "irtt_ns" }
{
	np = split($4, p, ":")
	tp = 0; proto = ""
	for (i = np; i >= 1; i--) if (p[i] == "tcp" || p[i] == "udp") { tp = i; proto = p[i]; break }
	if (!tp) next
	if (skip_icmp == 1) for (i = 1; i < tp; i++) if (p[i] == "icmp" || p[i] == "icmpv6") next
	if ($7 != "") { src = last($7); dst = last($8) } else { src = last($5); dst = last($6) }
	if (proto == "tcp") {
		st = last($9); sp = last($10); dp = last($11); pl = last($12) + 0
	} else {
		st = last($13); sp = last($14); dp = last($15); pl = last($16) - 8
		if (pl < 0) pl = 0
	}
	if (st == "") next
	k = proto SUBSEP st
	t = ns($2)
	if (!(k in seen)) {
		seen[k] = 1; order[++n] = k
		P[k] = proto; S[k] = st; AI[k] = src; AP[k] = sp; BI[k] = dst; BP[k] = dp
		FAB[k] = FBA[k] = WAB[k] = WBA[k] = LAB[k] = LBA[k] = 0
		FIRST[k] = LAST[k] = t; IRTT[k] = ""
	}
	if (src == AI[k] && sp == AP[k]) { FAB[k]++; WAB[k] += $3; LAB[k] += pl }
	else { FBA[k]++; WBA[k] += $3; LBA[k] += pl }
	if (later(t, LAST[k])) LAST[k] = t
	if (proto == "tcp" && IRTT[k] == "" && $17 != "") IRTT[k] = ns(last($17))
}
END {
	for (i = 1; i <= n; i++) {
		k = order[i]
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\n",
			P[k], S[k], AI[k], AP[k], BI[k], BP[k], FAB[k], FBA[k],
			WAB[k], WBA[k], LAB[k], LBA[k], FIRST[k], LAST[k], IRTT[k]
	}
}'
