package report

import (
	"fmt"
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
