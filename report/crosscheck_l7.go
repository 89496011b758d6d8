package report

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/flowproof/flowproof/analyze/crosscheck"
)

// CrossCheckL7File is the L7 cross-check's output file.
const CrossCheckL7File = "crosscheck_l7.parquet"

// CrossCheckL7Row is one row of crosscheck_l7.parquet: one group of HTTP
// requests, (client, server, method, path, status), as Kubeshark's
// list_api_calls and http.parquet see it. client and server are
// "namespace/pod" (or "namespace/service (service)") when the workload is
// known, else the IP; path has no query string; status is null for
// requests without a response. ks_* are Kubeshark's, cap_* the capture's.
// Latencies are ns medians: Kubeshark's latency_ms, the capture's
// latency_ns (request headers complete -> response headers complete).
type CrossCheckL7Row struct {
	Client  string `parquet:"client"`
	Server  string `parquet:"server"`
	Method  string `parquet:"method,optional,dict"`
	Path    string `parquet:"path,optional"`
	Status  *int32 `parquet:"status,optional"`
	Verdict string `parquet:"verdict,dict"`
	Reason  string `parquet:"reason,optional"`

	ClientPod       string `parquet:"client_pod,optional"`
	ClientNamespace string `parquet:"client_namespace,optional,dict"`
	ServerPod       string `parquet:"server_pod,optional"`
	ServerNamespace string `parquet:"server_namespace,optional,dict"`
	ServerService   string `parquet:"server_service,optional,dict"`

	KsCalls      int64  `parquet:"ks_calls"`
	KsFirstTs    *int64 `parquet:"ks_first_ts,optional,timestamp(microsecond:utc)"`
	KsLastTs     *int64 `parquet:"ks_last_ts,optional,timestamp(microsecond:utc)"`
	KsLatencyN   int64  `parquet:"ks_latency_n"`
	KsLatencyP50 *int64 `parquet:"ks_latency_p50_ns,optional"`
	KsReqBytes   *int64 `parquet:"ks_req_bytes,optional"`  // sum of req_size, when every call has both sizes
	KsRespBytes  *int64 `parquet:"ks_resp_bytes,optional"` // sum of resp_size

	CapRequests      int64  `parquet:"cap_requests"`
	CapFirstTs       *int64 `parquet:"cap_first_ts,optional,timestamp(microsecond:utc)"`
	CapLastTs        *int64 `parquet:"cap_last_ts,optional,timestamp(microsecond:utc)"`
	CapLatencyN      int64  `parquet:"cap_latency_n"`
	CapLatencyP50    *int64 `parquet:"cap_latency_p50_ns,optional"`
	CapReqBodyBytes  int64  `parquet:"cap_req_body_bytes"`  // sum of request_body_len
	CapRespBodyBytes int64  `parquet:"cap_resp_body_bytes"` // sum of response_body_len

	DeltaCalls     int64   `parquet:"delta_calls"` // ks_calls - cap_requests
	DeltaLatencyNs *int64  `parquet:"delta_latency_ns,optional"`
	SizesAgree     *bool   `parquet:"sizes_agree,optional"` // recorded, never a verdict
	WorstRel       float64 `parquet:"worst_rel"`
}

// CrossCheckL7RowOf converts a result.
func CrossCheckL7RowOf(r *crosscheck.L7Result) CrossCheckL7Row {
	ks, cp := &r.Kubeshark, &r.Capture
	row := CrossCheckL7Row{
		Client: r.Key.Client, Server: r.Key.Server, Method: r.Key.Method, Path: r.Key.Path,
		Verdict: r.Verdict, Reason: r.Reason,
		ClientPod: r.ClientID.Pod, ClientNamespace: r.ClientID.Namespace,
		ServerPod: r.ServerID.Pod, ServerNamespace: r.ServerID.Namespace, ServerService: r.ServerID.Service,
		KsCalls: ks.Count, KsLatencyN: ks.LatencyN, KsLatencyP50: optPtr(r.KsLatency),
		CapRequests: cp.Count, CapLatencyN: cp.LatencyN, CapLatencyP50: optPtr(r.CapLatency),
		CapReqBodyBytes: cp.ReqBytes, CapRespBodyBytes: cp.RespBytes,
		DeltaCalls: ks.Count - cp.Count, SizesAgree: r.SizesAgree, WorstRel: r.WorstRel,
	}
	if r.Key.Status != 0 {
		s := r.Key.Status
		row.Status = &s
	}
	us := func(ns int64) *int64 {
		if ns == 0 {
			return nil
		}
		return i64(floorDiv(ns, 1000))
	}
	row.KsFirstTs, row.KsLastTs = us(ks.FirstNs), us(ks.LastNs)
	row.CapFirstTs, row.CapLastTs = us(cp.FirstNs), us(cp.LastNs)
	if ks.Count > 0 && ks.SizesKnown == ks.Count {
		row.KsReqBytes, row.KsRespBytes = i64(ks.ReqBytes), i64(ks.RespBytes)
	}
	if r.KsLatency.Valid && r.CapLatency.Valid {
		row.DeltaLatencyNs = i64(r.KsLatency.V - r.CapLatency.V)
	}
	return row
}

// CrossCheckL7Report is what the report's L7 cross-check part says.
type CrossCheckL7Report struct {
	Source      string           // where Kubeshark's calls came from
	Calls       int64            // HTTP calls read (after duplicates were removed)
	Incomplete  string           // why Kubeshark's calls may be incomplete ("" when they are not known to be)
	Ignored     string           // what was left out of the answers (not HTTP/1.x, unparsable, absurd numbers)
	Verdicts    map[string]int64 // groups per verdict
	KsCalls     map[string]int64 // Kubeshark's calls per verdict
	CapRequests map[string]int64 // the capture's requests per verdict
	Worst       []CrossCheckL7Row
	Tolerances  crosscheck.L7Tolerances
	Dropped     int64 // capture requests in groups beyond the limit
}

// SetCrossCheckL7 gives the report its L7 cross-check part.
func (s *Summary) SetCrossCheckL7(x *CrossCheckL7Report) { s.xcL7 = x }

// crossCheckL7Queries are the statements of the L7 cross-check's tables.
func crossCheckL7Queries() []query {
	return []query{
		{"crosscheck-l7", "L7 cross-check verdicts", `SELECT verdict, count(*) AS groups, sum(ks_calls) AS kubeshark_calls, sum(cap_requests) AS capture_requests
FROM '` + CrossCheckL7File + `'
GROUP BY verdict ORDER BY groups DESC, verdict;`},
		{"crosscheck-l7-worst", "L7 cross-check: worst disagreements", `SELECT verdict, client, server, coalesce(method, '-') AS method, coalesce(path, '-') AS path, status,
       ks_calls, cap_requests, ks_latency_p50_ns, cap_latency_p50_ns
FROM '` + CrossCheckL7File + `' WHERE verdict <> 'match'
ORDER BY worst_rel DESC, client, server, coalesce(method, '-'), coalesce(path, '-'), coalesce(status, 0) LIMIT ` + strconv.Itoa(crossCheckWorst) + `;`},
	}
}

// WorstL7Rows returns up to n rows that disagree (any verdict but match),
// in the order of the crosscheck-l7-worst statement.
func WorstL7Rows(rows []CrossCheckL7Row, n int) []CrossCheckL7Row {
	var out []CrossCheckL7Row
	for _, r := range rows {
		if r.Verdict != crosscheck.Match {
			out = append(out, r)
		}
	}
	dash := func(s string) string { return cmp.Or(s, "-") }
	st := func(p *int32) int32 {
		if p == nil {
			return 0
		}
		return *p
	}
	slices.SortStableFunc(out, func(a, b CrossCheckL7Row) int {
		return cmp.Or(cmp.Compare(b.WorstRel, a.WorstRel), cmp.Compare(a.Client, b.Client), cmp.Compare(a.Server, b.Server),
			cmp.Compare(dash(a.Method), dash(b.Method)), cmp.Compare(dash(a.Path), dash(b.Path)), cmp.Compare(st(a.Status), st(b.Status)))
	})
	return out[:min(n, len(out))]
}
