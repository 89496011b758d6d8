package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/flowproof/flowproof/analyze/crosscheck"
)

// crossCheckWorst is how many disagreements the report lists.
const crossCheckWorst = 10

// crossCheckAggregates writes the per-aggregate part of the Cross-check
// section: verdict counts, the worst disagreements with both values, what
// each verdict usually means, and the tolerances.
func (r *renderer) crossCheckAggregates() {
	x := r.s.xc
	if x == nil {
		return
	}
	var total int64
	for _, n := range x.Verdicts {
		total += n
	}
	r.p("Kubeshark's L4 flow records (%s, %s) were compared with the capture's flows summed the same way, per (proto, client ip, server ip, server port): %s compared.",
		mdText(x.Source), plural(int64(x.Records), "record", "records"), plural(total, "aggregate", "aggregates"))
	if x.Truncated {
		r.p("Kubeshark's list was truncated: aggregates it left out show up as %s.", mdCode(crosscheck.PcapOnly))
	}
	var rows [][]string
	for _, v := range crosscheck.Verdicts {
		if n := x.Verdicts[v]; n > 0 {
			rows = append(rows, []string{mdCode(v), fmtInt(n), mdText(crosscheck.Meaning[v])})
		}
	}
	r.table("crosscheck-aggregates", true, []string{"verdict", "aggregates", "what it usually means"}, rows)
	if len(x.Worst) > 0 {
		var wr [][]string
		for _, w := range x.Worst {
			wr = append(wr, []string{mdCode(w.Verdict), mdText(w.Proto + " " + w.ClientIP + " → " + w.ServerIP + ":" + strconv.Itoa(int(w.ServerPort))),
				optInt(w.KsC2SBytes) + " / " + optInt(w.KsS2CBytes), fmtInt(w.CapC2SBytes) + " / " + fmtInt(w.CapS2CBytes),
				optRTT(w.KsClientRTTP50Ns) + " / " + optRTT(w.KsServerRTTP50Ns), optRTT(w.CapClientRTTP50Ns) + " / " + optRTT(w.CapServerRTTP50Ns),
				mdText(w.Reason)})
		}
		r.table("crosscheck-worst", len(x.Worst) < crossCheckWorst, []string{"verdict", "aggregate", "Kubeshark bytes c→s / s→c", "capture bytes c→s / s→c", "Kubeshark RTT p50 client / server", "capture RTT median client / server", "reason"}, wr)
		r.p("The worst %d disagreements, by relative difference. Capture bytes are payload minus retransmitted bytes (a socket counts application bytes once); RTTs are handshake medians, the client's SYN → SYN/ACK and the server's SYN/ACK → ACK.", len(x.Worst))
	}
	t := x.Tolerances
	r.p("Tolerances: bytes agree within max(%g%%, %s bytes) (`--xc-bytes-tolerance`, `--xc-bytes-slack`); handshake RTT medians within max(%g%%, %s) (`--xc-rtt-tolerance`, `--xc-rtt-slack`); a record dated more than %s outside the capture's time range is %s (`--xc-window-slack`). Packets are recorded in crosscheck.parquet with their ratio but never judged: socket send and receive calls are not packets (segmentation offload and coalescing merge and split them).",
		t.BytesRel*100, fmtInt(t.BytesAbs), t.RTTRel*100, fmtDuration(t.RTTAbsNs), fmtDuration(t.WindowSlackNs), mdCode(crosscheck.OutsideWindow))
	if x.Dropped > 0 {
		r.p("%s of aggregates beyond the limit of %d %s aggregates are left out of crosscheck.parquet; their flows still carry the verdict.", plural(x.Dropped, "flow", "flows"), t.MaxPcapOnly, mdCode(crosscheck.PcapOnly))
	}
}

func optInt(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmtInt(*p)
}

func optRTT(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%s ms", fmtMs(*p))
}

// crossCheckL7 writes the L7 part of the Cross-check section: Kubeshark's
// API calls against http.parquet, per group.
func (r *renderer) crossCheckL7() {
	x := r.s.xcL7
	if x == nil {
		return
	}
	r.p("### API calls (L7)")
	r.p("Kubeshark's API calls (%s, %s) were compared with http.parquet's requests, grouped per (client, server, method, path, status): client and server are the workload (namespace/pod) when known, else the IP; the path has no query string. crosscheck_l7.parquet holds each group. %s.",
		mdText(x.Source), plural(x.Calls, "HTTP call", "HTTP calls"), queryLink("crosscheck-l7"))
	if x.Incomplete != "" {
		r.p("Kubeshark's calls may be incomplete: %s. Groups it left out show up as %s or %s.", mdText(x.Incomplete), mdCode(crosscheck.CaptureOnly), mdCode(crosscheck.CountMismatch))
	}
	if x.Ignored != "" {
		r.p("Left out of the comparison: %s.", mdText(x.Ignored))
	}
	type vc struct {
		v    string
		n    int64
		ks   int64
		capt int64
	}
	var vs []vc
	for _, v := range crosscheck.L7Verdicts {
		if n := x.Verdicts[v]; n > 0 {
			vs = append(vs, vc{v, n, x.KsCalls[v], x.CapRequests[v]})
		}
	}
	slices.SortStableFunc(vs, func(a, b vc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.v, b.v)) })
	var rows [][]string
	for _, v := range vs {
		rows = append(rows, []string{mdCode(v.v), fmtInt(v.n), fmtInt(v.ks), fmtInt(v.capt), mdText(crosscheck.L7Meaning[v.v])})
	}
	r.table("crosscheck-l7", true, []string{"verdict", "groups", "Kubeshark calls", "capture requests", "what it usually means"}, rows)
	if len(x.Worst) > 0 {
		var wr [][]string
		for _, w := range x.Worst {
			status := "-"
			if w.Status != nil {
				status = strconv.Itoa(int(*w.Status))
			}
			wr = append(wr, []string{mdCode(w.Verdict), mdText(w.Client), mdText(w.Server), mdText(cmp.Or(w.Method, "-")), mdText(cmp.Or(w.Path, "-")), status,
				fmtInt(w.KsCalls), fmtInt(w.CapRequests), ptrMs(w.KsLatencyP50), ptrMs(w.CapLatencyP50), mdText(w.Reason)})
		}
		r.table("crosscheck-l7-worst", true, []string{"verdict", "client", "server", "method", "path", "status", "Kubeshark calls", "capture requests", "Kubeshark latency median (ms)", "capture latency median (ms)", "reason"}, wr)
		r.p("The %s, by relative difference. Kubeshark's latency is its latency_ms; the capture's is latency_ns, from the packet that completes the request headers to the one that completes the response headers (time to first byte). %s.",
			plural(int64(len(x.Worst)), "worst disagreement", "worst disagreements"), queryLink("crosscheck-l7-worst"))
	}
	t := x.Tolerances
	counts := "counts must be equal"
	if t.CountAbs > 0 {
		counts = "counts agree within " + plural(t.CountAbs, "call", "calls")
	}
	r.p("Tolerances: %s (`--xc-l7-count-slack`); latency medians (of the first 1,024 of each side) agree within max(%g%%, %s) (`--xc-l7-latency-tolerance`, `--xc-l7-latency-slack`); Kubeshark's calls dated more than %s outside the capture's time range are %s (`--xc-window-slack`). Request and response sizes are recorded (sizes_agree) but never judged: whether Kubeshark counts headers is not documented.",
		counts, t.LatencyRel*100, fmtDuration(t.LatencyAbsNs), fmtDuration(t.WindowSlackNs), mdCode(crosscheck.OutsideWindow))
	if x.Dropped > 0 {
		r.p("%s in groups beyond the limit of %s groups are left out of crosscheck_l7.parquet.", plural(x.Dropped, "capture request", "capture requests"), fmtInt(int64(t.MaxGroups)))
	}
}

func ptrMs(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmtMs(*p)
}
