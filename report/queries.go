package report

import (
	"fmt"
	"strconv"
	"strings"
)

// query is the DuckDB statement that regenerates one table of the report
// from flows.parquet, run in the output directory.
type query struct {
	id    string // the table's id: <!-- table: id --> in report.md
	title string
	sql   string
}

// The statements below are the definitions the Summary implements: each
// table's rows are exactly what its statement returns (the report's tests run
// them with DuckDB and compare). Column names tell the test how the report
// formats them: *_ns durations in ms, *_time epoch ns as RFC 3339, integers
// with thousands separators, NULL as "-".

const wire = `FROM 'flows.parquet' WHERE NOT synthetic`

var failedStates = `('REJ', 'S0', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH')`

func reportQueries(s *Summary) []query {
	n := strconv.Itoa(s.opts.TopN)
	tl := strconv.FormatInt(s.timeline.width, 10)
	var edges []string
	for i, lo := range rttEdges {
		l, h := "CAST(NULL AS BIGINT)", "NULL"
		if i > 0 {
			l = strconv.FormatInt(lo, 10)
		}
		if i+1 < len(rttEdges) {
			h = strconv.FormatInt(rttEdges[i+1], 10)
		}
		edges = append(edges, "("+l+", "+h+")")
	}
	heavyMin := strconv.Itoa(retransHeavyMinPkts)
	heavyRatio := strconv.Itoa(retransHeavyRatio)
	hs := `FROM 'flows.parquet' WHERE NOT synthetic AND proto = 'tcp' AND rtt_handshake_ns IS NOT NULL`
	tcp := `FROM 'flows.parquet' WHERE NOT synthetic AND proto = 'tcp'`
	qs := []query{
		{"summary", "Summary", `SELECT count(*) AS flows, sum(orig_pkts + resp_pkts) AS packets,
       sum(orig_bytes + resp_bytes) AS payload_bytes,
       sum(orig_wire_bytes + resp_wire_bytes) AS wire_bytes,
       min(ts_ns) AS first_time, max(end_ns) AS last_time
` + wire + `;`},
		{"protocols", "Protocols", `SELECT proto, count(*) AS flows, sum(orig_pkts + resp_pkts) AS packets,
       sum(orig_bytes + resp_bytes) AS payload_bytes
` + wire + `
GROUP BY proto ORDER BY flows DESC, proto;`},
		{"states", "Connection states", `SELECT proto, state, count(*) AS flows
` + wire + `
GROUP BY proto, state ORDER BY flows DESC, proto, state;`},
		{"ports", "Top server ports", `SELECT proto, dst_port AS port, count(*) AS flows, sum(orig_bytes + resp_bytes) AS payload_bytes
` + wire + `
GROUP BY proto, dst_port ORDER BY flows DESC, payload_bytes DESC, proto, port LIMIT ` + n + `;`},
		{"traffic", "Traffic over time", `SELECT ts_ns // ` + tl + ` * ` + tl + ` AS start_time, count(*) AS flows,
       sum(orig_bytes + resp_bytes) AS payload_bytes,
       count(*) FILTER (WHERE proto = 'tcp' AND (state = 'S0'
           OR (state = 'S1' AND rtt_handshake_ns IS NULL))) AS half_open
` + wire + `
GROUP BY start_time ORDER BY start_time;`},
		{"talkers-bytes", "Top conversations by payload bytes", `SELECT proto, src_ip AS client, dst_ip AS server, dst_port AS port,
       count(*) AS flows, sum(orig_bytes + resp_bytes) AS payload_bytes
` + wire + `
GROUP BY proto, src_ip, dst_ip, dst_port
ORDER BY payload_bytes DESC, flows DESC, proto, client, server, port LIMIT ` + n + `;`},
		{"talkers-flows", "Top conversations by flows", `SELECT proto, src_ip AS client, dst_ip AS server, dst_port AS port,
       count(*) AS flows, sum(orig_bytes + resp_bytes) AS payload_bytes
` + wire + `
GROUP BY proto, src_ip, dst_ip, dst_port
ORDER BY flows DESC, payload_bytes DESC, proto, client, server, port LIMIT ` + n + `;`},
		{"workloads", "Top workload pairs by payload bytes", `SELECT coalesce(src_namespace, '-') AS client_namespace, coalesce(src_pod, '-') AS client_pod,
       coalesce(dst_namespace, '-') AS server_namespace, coalesce(dst_service, dst_pod, '-') AS server,
       count(*) AS flows, sum(orig_bytes + resp_bytes) AS payload_bytes
` + wire + ` AND coalesce(src_namespace, src_pod, src_service, dst_namespace, dst_pod, dst_service) IS NOT NULL
GROUP BY ALL
ORDER BY payload_bytes DESC, flows DESC, client_namespace, client_pod, server_namespace, server LIMIT ` + n + `;`},
		{"rtt", "Handshake RTT", `SELECT count(*) AS handshakes, min(rtt_handshake_ns) AS min_ns,
       quantile_disc(rtt_handshake_ns, 0.5) AS p50_ns, quantile_disc(rtt_handshake_ns, 0.9) AS p90_ns,
       quantile_disc(rtt_handshake_ns, 0.99) AS p99_ns, max(rtt_handshake_ns) AS max_ns
` + hs + `;`},
		{"rtt-buckets", "Handshake RTT distribution", `WITH buckets(from_ns, below_ns) AS (VALUES
       ` + strings.Join(edges, ",\n       ") + `)
SELECT from_ns, below_ns, count(h.rtt_handshake_ns) AS handshakes
FROM buckets LEFT JOIN (SELECT rtt_handshake_ns ` + hs + `) h
  ON (from_ns IS NULL OR h.rtt_handshake_ns >= from_ns) AND (below_ns IS NULL OR h.rtt_handshake_ns < below_ns)
GROUP BY from_ns, below_ns ORDER BY from_ns NULLS FIRST;`},
		{"rtt-servers", "Handshake RTT per server", `SELECT dst_ip AS server, dst_port AS port, count(*) AS handshakes,
       quantile_disc(rtt_handshake_ns, 0.5) AS p50_ns, quantile_disc(rtt_handshake_ns, 0.9) AS p90_ns,
       quantile_disc(rtt_handshake_ns, 0.99) AS p99_ns, max(rtt_handshake_ns) AS max_ns
` + hs + `
GROUP BY dst_ip, dst_port ORDER BY handshakes DESC, server, port LIMIT ` + n + `;`},
		{"rtt-slowest", "Slowest handshakes", `SELECT flow_id, src_ip AS client, dst_ip AS server, dst_port AS port,
       rtt_handshake_ns AS handshake_ns, rtt_syn_synack_ns AS syn_synack_ns, rtt_synack_ack_ns AS synack_ack_ns, state
` + hs + `
ORDER BY rtt_handshake_ns DESC, flow_id LIMIT ` + n + `;`},
		{"tcp-health", "TCP health", `WITH t AS (SELECT * ` + tcp + `)
SELECT measure, total, flows FROM (
  SELECT 1 AS k, 'retransmitted packets' AS measure, sum(orig_retrans_pkts + resp_retrans_pkts) AS total,
         count(*) FILTER (WHERE orig_retrans_pkts + resp_retrans_pkts > 0) AS flows FROM t
  UNION ALL SELECT 2, 'retransmitted bytes', sum(orig_retrans_bytes + resp_retrans_bytes),
         count(*) FILTER (WHERE orig_retrans_bytes + resp_retrans_bytes > 0) FROM t
  UNION ALL SELECT 3, 'out-of-order segments', sum(out_of_order), count(*) FILTER (WHERE out_of_order > 0) FROM t
  UNION ALL SELECT 4, 'duplicate ACKs', sum(dup_acks), count(*) FILTER (WHERE dup_acks > 0) FROM t
  UNION ALL SELECT 5, 'zero windows', sum(zero_windows), count(*) FILTER (WHERE zero_windows > 0) FROM t
  UNION ALL SELECT 6, 'missed bytes', sum(missed_bytes), count(*) FILTER (WHERE missed_bytes > 0) FROM t
) ORDER BY k;`},
		{"retrans-heavy", "Retransmission-heavy flows", `SELECT flow_id, src_ip AS client, dst_ip AS server, dst_port AS port,
       orig_pkts + resp_pkts AS packets, orig_retrans_pkts + resp_retrans_pkts AS retransmitted,
       orig_retrans_bytes + resp_retrans_bytes AS retransmitted_bytes
` + tcp + `
  AND orig_retrans_pkts + resp_retrans_pkts >= ` + heavyMin + `
  AND (orig_retrans_pkts + resp_retrans_pkts) * ` + heavyRatio + ` >= orig_pkts + resp_pkts
ORDER BY retransmitted DESC, flow_id LIMIT ` + n + `;`},
		{"zero-windows", "Flows with zero windows", `SELECT flow_id, src_ip AS client, dst_ip AS server, dst_port AS port, zero_windows
` + tcp + ` AND zero_windows > 0
ORDER BY zero_windows DESC, flow_id LIMIT ` + n + `;`},
		{"missed-bytes", "Flows with capture gaps", `SELECT flow_id, src_ip AS client, dst_ip AS server, dst_port AS port, missed_bytes
` + tcp + ` AND missed_bytes > 0
ORDER BY missed_bytes DESC, flow_id LIMIT ` + n + `;`},
		{"failed-servers", "Failed connections by server", `SELECT dst_ip AS server, dst_port AS port,
       count(*) FILTER (WHERE state = 'REJ') AS rejected,
       count(*) FILTER (WHERE state = 'S0') AS unanswered,
       count(*) FILTER (WHERE state IN ('RSTO', 'RSTR', 'RSTOS0', 'RSTRH')) AS reset,
       count(*) AS tcp_flows
` + tcp + `
GROUP BY dst_ip, dst_port HAVING rejected + unanswered + reset > 0
ORDER BY rejected + unanswered + reset DESC, server, port LIMIT ` + n + `;`},
		{"failed-first", "First failed connections", `SELECT flow_id, ts_ns AS first_time, src_ip AS client, dst_ip AS server, dst_port AS port, state
` + tcp + ` AND state IN ` + failedStates + `
ORDER BY ts_ns, flow_id LIMIT ` + n + `;`},
		{"crosscheck", "Cross-check verdicts", `SELECT crosscheck AS verdict, count(*) AS flows
` + wire + ` AND crosscheck IS NOT NULL
GROUP BY crosscheck ORDER BY flows DESC, verdict;`},
	}
	if s.xcL7 != nil {
		qs = append(qs, crossCheckL7Queries()...)
	}
	if s.l7 != nil {
		qs = append(qs, l7Queries(s.l7)...)
	}
	return qs
}

// queryByID returns the statement of table id; it panics on an unknown id
// (a programming error caught by the golden tests).
func queryByID(qs []query, id string) query {
	for _, q := range qs {
		if q.id == id {
			return q
		}
	}
	panic(fmt.Sprintf("report: no query for table %q", id))
}
