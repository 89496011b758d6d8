package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/flowproof/flowproof/analyze/crosscheck"
)

// finding is one automatically flagged observation.
type finding struct {
	evidence       bool  // about the inputs: listed before the flow findings
	order          int   // fixed order among findings with the same share
	affected, base int64 // the share that ranks it: affected of base
	text           string
}

// findings ranks what the report flags: problems with the evidence first,
// then flow findings by the share of their base they affect (largest first),
// ties in a fixed order.
func (r *renderer) findings() {
	s, m := r.s, r.m
	r.p("## Findings")
	var fs []finding

	var partial, failed int64
	for _, in := range m.Inputs {
		switch in.Status {
		case StatusPartial:
			partial++
		case StatusFailed:
			failed++
		}
	}
	if partial+failed > 0 {
		var parts []string
		if partial > 0 {
			parts = append(parts, plural(partial, "input was", "inputs were")+" read only up to an error (flows stop there)")
		}
		if failed > 0 {
			parts = append(parts, plural(failed, "input was", "inputs were")+" not read at all (not a capture, or unreadable)")
		}
		fs = append(fs, finding{evidence: true, affected: partial + failed, base: int64(len(m.Inputs)),
			text: "**Evidence incomplete**: " + strings.Join(parts, "; ") + ". → [Inputs not read completely](#inputs-not-read-completely)"})
	}

	t := &s.tcp
	examples := func(k *topK) string {
		if len(k.items) == 0 {
			return ""
		}
		ids := make([]string, len(k.items))
		for i, f := range k.items {
			ids[i] = mdCode(f.FlowID)
		}
		return " Flows: " + strings.Join(ids, ", ") + "."
	}
	exampleList := func(k *topK, atLeast int64, by func(*flowRef) int64) string {
		c := topK{k: findingExamples}
		for _, f := range k.items {
			if by(&f) >= atLeast && len(c.items) < findingExamples {
				c.items = append(c.items, f)
			}
		}
		return examples(&c)
	}
	failText := []struct{ title, what string }{
		failRejected:   {"Connections rejected", "were refused: the SYN was answered by a RST (state REJ)"},
		failUnanswered: {"Connection attempts unanswered", "got no reply to their SYN (state S0)"},
		failReset:      {"Connections reset", "were aborted by a RST once under way (states RSTO, RSTR, RSTOS0, RSTRH)"},
	}
	for c, ft := range failText {
		n := s.failCount[c]
		if n == 0 {
			continue
		}
		what := ft.what
		if n == 1 {
			what = strings.Replace(what, "were ", "was ", 1)
		}
		text := fmt.Sprintf("**%s**: %s of %s (%s) %s.", ft.title, fmtInt(n), plural(t.flows, "TCP connection", "TCP connections"), fmtShare(n, t.flows), what)
		if srv, top := r.topServer(func(a *serverAgg) int64 { return a.fail[c] }); top > 0 && n > 1 {
			text += fmt.Sprintf(" Most to %s port %d (%s).", srv.addr, srv.port, fmtInt(top))
		}
		if len(s.failedBy[c].items) > 0 {
			text += " First at " + fmtTime(s.failedBy[c].items[0].TsNs) + "."
		}
		text += examples(&s.failedBy[c]) + " → [Failed connections](#failed-connections)"
		fs = append(fs, finding{order: c, affected: n, base: t.flows, text: text})
	}
	if s.slow > 0 {
		f := &s.slowest.items[0]
		text := fmt.Sprintf("**Slow handshakes**: %s of %s (%s) took %s or more; the slowest took %s ms, to %s port %d.",
			fmtInt(s.slow), plural(s.rtt.n, "handshake", "handshakes"), fmtShare(s.slow, s.rtt.n), fmtDuration(s.opts.SlowHandshakeNs), fmtMs(f.Handshake), f.Dst, f.DstPort)
		text += exampleList(&s.slowest, s.opts.SlowHandshakeNs, func(f *flowRef) int64 { return f.Handshake }) + " → [Slowest handshakes](#slowest-handshakes)"
		fs = append(fs, finding{order: 3, affected: s.slow, base: s.rtt.n, text: text})
	}
	if t.heavyFlows > 0 {
		f := &s.heavy.items[0]
		text := fmt.Sprintf("**Retransmission-heavy flows**: %s of %s (%s) retransmitted at least 1 in %d of their packets (and at least %d), %s packets in all; the worst, %s, retransmitted %s of %s.",
			fmtInt(t.heavyFlows), plural(t.flows, "TCP flow", "TCP flows"), fmtShare(t.heavyFlows, t.flows), retransHeavyRatio, retransHeavyMinPkts,
			fmtInt(t.heavyPkts), mdCode(f.FlowID), fmtInt(f.Retrans), fmtInt(f.Pkts))
		text += exampleList(&s.heavy, 0, func(*flowRef) int64 { return 0 }) + " → [Retransmissions](#retransmissions)"
		fs = append(fs, finding{order: 4, affected: t.heavyFlows, base: t.flows, text: text})
	}
	if t.fZeroWindows > 0 {
		text := fmt.Sprintf("**Zero windows**: %s of %s (%s) advertised a zero receive window, %s in all: a receiver could not keep up with its sender.",
			fmtInt(t.fZeroWindows), plural(t.flows, "TCP flow", "TCP flows"), fmtShare(t.fZeroWindows, t.flows), plural(t.zeroWindows, "time", "times"))
		text += exampleList(&s.zeroWin, 0, func(*flowRef) int64 { return 0 }) + " → [Zero windows](#zero-windows)"
		fs = append(fs, finding{order: 5, affected: t.fZeroWindows, base: t.flows, text: text})
	}
	if t.fMissed > 0 {
		text := fmt.Sprintf("**Capture gaps**: %s of %s (%s) %s sequence space the capture never saw, %s bytes in all: packets were dropped before or by the capture, or it saw one path only. Byte, retransmission and RTT numbers of these flows are lower bounds.",
			fmtInt(t.fMissed), plural(t.flows, "TCP flow", "TCP flows"), fmtShare(t.fMissed, t.flows), ifElse(t.fMissed == 1, "has", "have"), fmtInt(t.missedBytes))
		text += exampleList(&s.missed, 0, func(*flowRef) int64 { return 0 }) + " → [Capture gaps](#capture-gaps)"
		fs = append(fs, finding{order: 6, affected: t.fMissed, base: t.flows, text: text})
	}
	if s.disagree > 0 {
		var compared int64
		for _, n := range s.crosscheck {
			compared += n
		}
		text := fmt.Sprintf("**Cross-check disagreements**: %s of %s compared with Kubeshark's counters (%s) %s.",
			fmtInt(s.disagree), plural(compared, "flow", "flows"), fmtShare(s.disagree, compared), ifElse(s.disagree == 1, "disagrees", "disagree"))
		text += examples(&s.disagreeList) + " → [Cross-check](#cross-check)"
		fs = append(fs, finding{order: 7, affected: s.disagree, base: compared, text: text})
	}

	if x := s.xcL7; x != nil {
		var groups, disagree int64
		var parts []string
		for _, v := range crosscheck.L7Verdicts {
			n := x.Verdicts[v]
			groups += n
			if v != crosscheck.Match && n > 0 {
				disagree += n
				parts = append(parts, fmt.Sprintf("%s %s", fmtInt(n), mdCode(v)))
			}
		}
		if disagree > 0 {
			text := fmt.Sprintf("**API call disagreements**: %s of %s of HTTP requests compared with Kubeshark's API calls (%s) %s: %s. → [API calls (L7)](#api-calls-l7)",
				fmtInt(disagree), plural(groups, "group", "groups"), fmtShare(disagree, groups), ifElse(disagree == 1, "disagrees", "disagree"), strings.Join(parts, ", "))
			fs = append(fs, finding{order: 8, affected: disagree, base: groups, text: text})
		}
	}
	fs = append(fs, s.floodFindings()...)
	fs = append(fs, s.scanFindings()...)
	if l := s.l7; l != nil {
		fs = append(fs, l.findings()...)
	}

	slices.SortStableFunc(fs, func(a, b finding) int {
		if a.evidence != b.evidence {
			return ifElse(a.evidence, -1, 1)
		}
		// a.affected/a.base > b.affected/b.base, exactly.
		return cmp.Or(cmp.Compare(b.affected*a.base, a.affected*b.base), cmp.Compare(a.order, b.order))
	})
	if len(fs) == 0 {
		r.p("Nothing flagged: no input problem, no rejected, unanswered or reset TCP connection, no handshake of %s or more, no retransmission-heavy flow, no zero window, no capture gap%s.",
			fmtDuration(s.opts.SlowHandshakeNs), ifElse(len(s.crosscheck) > 0, ", no cross-check disagreement", ""))
		return
	}
	r.p("Flagged automatically by the rules in [Method](#m-findings), most widespread first (input problems always first).")
	for i, f := range fs {
		r.line(fmt.Sprintf("%d. %s", i+1, f.text))
	}
	r.b.WriteString("\n")
}

// topServer returns the tracked server with the largest value (ties: the
// lowest address, then port).
func (r *renderer) topServer(value func(*serverAgg) int64) (serverRow, int64) {
	var best serverRow
	var bv int64
	for _, x := range r.serverRows() {
		v := value(x.a)
		if v > bv || v == bv && v > 0 && serverKeyCmp(x, best) < 0 {
			best, bv = x, v
		}
	}
	return best, bv
}
