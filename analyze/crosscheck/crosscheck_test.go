package crosscheck

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest/kubeshark/l4"
)

var (
	ipA   = netip.MustParseAddr("10.0.0.1")
	ipB   = netip.MustParseAddr("10.0.0.2")
	ipC   = netip.MustParseAddr("10.0.0.3")
	ipD   = netip.MustParseAddr("10.0.0.4")
	ipExt = netip.MustParseAddr("203.0.113.9")
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
)

func side(tx, rx int64, rttUs int64) l4.Side {
	return l4.Side{Present: true, TxPkts: 3, RxPkts: 3, TxBytes: tx, RxBytes: rx, HandshakeUs: [3]int64{rttUs, rttUs, rttUs}}
}

func flow(src, dst netip.Addr, sport, dport uint16, ob, rb int64, at int64) *analyze.Record {
	return &analyze.Record{Proto: "tcp", SrcIP: src, DstIP: dst, SrcPort: sport, DstPort: dport, OrigBytes: ob, RespBytes: rb,
		OrigPkts: 4, RespPkts: 3, TsNs: at, EndNs: at + 1e7,
		RTTSynSynAck: analyze.Some(400_000), RTTSynAckAck: analyze.Some(100_000), RTTHandshake: analyze.Some(5_000_000)}
}

// TestVerdicts: every verdict as built.
func TestVerdicts(t *testing.T) {
	aggs := []l4.Flow{
		{Proto: "tcp", Client: l4.Endpoint{IP: ipA, Pod: "a", Namespace: "ns", Service: "sa", Node: "n1"}, Server: l4.Endpoint{IP: ipB, Pod: "b", Namespace: "ns", Service: "sb", Node: "n2", Port: 80},
			ClientStats: side(300, 1200, 400), ServerStats: side(1200, 300, 5000), TimeNs: t0 + 1e8}, // match (server view SYN->ACK)
		{Proto: "tcp", Client: l4.Endpoint{IP: ipA}, Server: l4.Endpoint{IP: ipC, Port: 6379},
			ClientStats: side(100, 2600, 400), TimeNs: t0 + 1e8}, // bytes: the capture lost 1400
		{Proto: "tcp", Client: l4.Endpoint{IP: ipA}, Server: l4.Endpoint{IP: ipD, Port: 443},
			ClientStats: side(100, 100, 50_000), TimeNs: t0 + 1e8}, // RTT 50 ms vs 0.4 ms
		{Proto: "tcp", Client: l4.Endpoint{IP: ipB}, Server: l4.Endpoint{IP: ipC, Port: 9000},
			ClientStats: side(10, 10, 0), TimeNs: t0 + 2e8}, // no capture flow: kubeshark_only
		{Proto: "udp", Client: l4.Endpoint{IP: ipB}, Server: l4.Endpoint{IP: ipD, Port: 53},
			ClientStats: side(40, 56, 0), TimeNs: t0 + int64(time.Hour)}, // an hour later: outside_window
	}
	c := New(aggs, nil, DefaultTolerances())
	recs := []*analyze.Record{
		flow(ipA, ipB, 40000, 80, 300, 1200, t0),
		flow(ipA, ipC, 40001, 6379, 100, 1200, t0),
		flow(ipA, ipD, 40002, 443, 100, 100, t0),
		flow(ipA, ipExt, 40003, 443, 10, 10, t0), // pcap_only
	}
	recs[1].MissedBytes = 1400
	twin := flow(ipA, ipB, 40000, 80, 999, 999, t0)
	twin.Synthetic = true
	for _, r := range append(recs, twin) {
		c.Add(r)
	}
	res := c.Finish(t0, t0+5e8, true)
	want := []string{Match, BytesMismatch, RTTMismatch, KubesharkOnly, OutsideWindow, PcapOnly}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for i, r := range res {
		if r.Verdict != want[i] {
			t.Errorf("%s: verdict %s (%s), want %s", r.Key, r.Verdict, r.Reason, want[i])
		}
	}
	if res[0].ServerRTTHalf != "syn_ack" {
		t.Errorf("server half %q", res[0].ServerRTTHalf)
	}
	if d := res[1].DeltaS2CBytes; !d.Valid || d.V != 1400 {
		t.Errorf("delta %+v", d)
	}
	for i, r := range recs {
		if v := c.Verdict(r); v != []string{Match, BytesMismatch, RTTMismatch, PcapOnly}[i] {
			t.Errorf("flow %d verdict %q", i, v)
		}
	}
	if v := c.Verdict(twin); v != "" {
		t.Errorf("twin verdict %q", v)
	}
	// Tolerances change the verdicts.
	tol := DefaultTolerances()
	tol.BytesAbs, tol.RTTAbsNs = 2000, int64(time.Second)
	c2 := New(aggs[:3], nil, tol)
	for _, r := range recs[:3] {
		c2.Add(r)
	}
	for _, r := range c2.Finish(t0, t0+5e8, true) {
		if r.Verdict != Match {
			t.Errorf("loose tolerances: %s %s", r.Key, r.Verdict)
		}
	}
}

// TestReversed: a flow whose originator is Kubeshark's server is counted
// reversed.
func TestReversed(t *testing.T) {
	c := New([]l4.Flow{{Proto: "tcp", Client: l4.Endpoint{IP: ipA}, Server: l4.Endpoint{IP: ipB, Port: 80}, ClientStats: side(300, 1200, 0)}}, nil, DefaultTolerances())
	r := flow(ipB, ipA, 80, 40000, 1200, 300, t0)
	r.DirectionInferred = true
	c.Add(r)
	if res := c.Finish(t0, t0+1e9, true); res[0].Verdict != Match {
		t.Errorf("%+v", res[0])
	}
}

// TestIdentityReuse: a pod IP reused over time is named by the flow's time,
// and left empty when the flow spans the change.
func TestIdentityReuse(t *testing.T) {
	assigns := []l4.Workload{
		{IP: ipA, TimeNs: t0 - int64(time.Hour), Kind: "pod", Name: "old-pod", Namespace: "ns1"},
		{IP: ipA, TimeNs: t0 + 1e8, Kind: "pod", Name: "new-pod", Namespace: "ns2"},
		{IP: ipB, TimeNs: t0 - int64(time.Hour), Kind: "service", Name: "svc", Namespace: "ns1"},
	}
	aggs := []l4.Flow{{Proto: "tcp", Client: l4.Endpoint{IP: ipA, Pod: "new-pod", Namespace: "ns2", Service: "web", Node: "n9"}, Server: l4.Endpoint{IP: ipB, Port: 80}}}
	c := New(aggs, assigns, DefaultTolerances())
	cases := []struct {
		from, to int64
		want     Identity
	}{
		{t0, t0 + 1e7, Identity{Pod: "old-pod", Namespace: "ns1"}},
		{t0 + 2e8, t0 + 3e8, Identity{Pod: "new-pod", Namespace: "ns2", Service: "web", Node: "n9"}},
		{t0 + 5e7, t0 + 2e8, Identity{}},                               // spans the change
		{t0 - 2*int64(time.Hour), t0 - 2*int64(time.Hour), Identity{}}, // before any assignment
	}
	for _, tc := range cases {
		if got := c.Identify(ipA, tc.from, tc.to); got != tc.want {
			t.Errorf("[%d, %d]: %+v, want %+v", tc.from-t0, tc.to-t0, got, tc.want)
		}
	}
	if got := c.Identify(ipB, t0, t0); got != (Identity{Namespace: "ns1", Service: "svc"}) {
		t.Errorf("service: %+v", got)
	}
	// Without assignments, L4 records name an IP only when they agree.
	c = New([]l4.Flow{
		{Proto: "tcp", Client: l4.Endpoint{IP: ipC, Pod: "p1", Namespace: "n"}, Server: l4.Endpoint{IP: ipD, Pod: "s", Namespace: "n", Node: "w", Port: 1}},
		{Proto: "tcp", Client: l4.Endpoint{IP: ipC, Pod: "p2", Namespace: "n"}, Server: l4.Endpoint{IP: ipD, Pod: "s", Namespace: "n", Node: "w", Port: 2}},
	}, nil, DefaultTolerances())
	if got := c.Identify(ipC, t0, t0); got != (Identity{}) {
		t.Errorf("ambiguous: %+v", got)
	}
	if got := c.Identify(ipD, t0, t0); got != (Identity{Pod: "s", Namespace: "n", Node: "w"}) {
		t.Errorf("single: %+v", got)
	}
}

// TestClusterIPReason: a Kubeshark record addressed to a Service's ClusterIP
// the capture does not hold says the traffic may be there DNATed.
func TestClusterIPReason(t *testing.T) {
	svcIP := netip.MustParseAddr("10.96.0.10")
	c := New([]l4.Flow{{Proto: "udp", Client: l4.Endpoint{IP: ipA}, Server: l4.Endpoint{IP: svcIP, Port: 53}, ClientStats: side(40, 56, 0), TimeNs: t0}},
		[]l4.Workload{{IP: svcIP, TimeNs: t0 - 1e9, Kind: "service", Name: "kube-dns", Namespace: "kube-system"}}, DefaultTolerances())
	c.Add(&analyze.Record{Proto: "udp", SrcIP: ipA, DstIP: ipD, SrcPort: 5000, DstPort: 53, TsNs: t0, EndNs: t0, OrigBytes: 40, RespBytes: 56})
	res := c.Finish(t0, t0+1e9, true)
	if res[0].Verdict != KubesharkOnly || !strings.Contains(res[0].Reason, "kube-system/kube-dns's ClusterIP") || res[1].Verdict != PcapOnly {
		t.Errorf("%+v", res)
	}
}

// TestEpochZeroCapture: a capture that starts at the epoch (time 0) still
// has a time range; a Kubeshark record dated far from it is outside_window.
func TestEpochZeroCapture(t *testing.T) {
	ipA, ipB := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	c := New([]l4.Flow{{Proto: "tcp", Client: l4.Endpoint{IP: ipA}, Server: l4.Endpoint{IP: ipB, Port: 80}, TimeNs: 3600e9, ClientStats: side(100, 100, 0)}}, nil, DefaultTolerances())
	ref := c.Add(flow(ipA, ipB, 40000, 80, 100, 100, 0))
	res := c.Finish(0, 1e9, true)
	if res[0].Verdict != OutsideWindow || c.VerdictOf(ref) != OutsideWindow {
		t.Errorf("verdict %s (ref %d: %s), want outside_window", res[0].Verdict, ref, c.VerdictOf(ref))
	}
	c = New([]l4.Flow{{Proto: "tcp", Client: l4.Endpoint{IP: ipA}, Server: l4.Endpoint{IP: ipB, Port: 80}, TimeNs: 3600e9, ClientStats: side(100, 100, 0)}}, nil, DefaultTolerances())
	if res := c.Finish(0, 0, false); res[0].Verdict == OutsideWindow {
		t.Error("no time range known, yet outside_window")
	}
}

// TestInvalidCounters: a record whose counters are not exact integers, or
// whose sums over several records overflow, is invalid_counters, never
// match, even when the numbers would happen to agree.
func TestInvalidCounters(t *testing.T) {
	ipA, ipB := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	rec := func(s l4.Side, invalid string) l4.Flow {
		return l4.Flow{Proto: "tcp", Client: l4.Endpoint{IP: ipA}, Server: l4.Endpoint{IP: ipB, Port: 80}, ClientStats: s, Invalid: invalid}
	}
	tests := []struct {
		name string
		recs []l4.Flow
	}{
		{"negative counter", []l4.Flow{rec(side(100, 100, 0), "client_stats.tx_bytes: negative (-5)")}},
		{"sums overflow", []l4.Flow{rec(side(math.MaxInt64, 50, 0), ""), rec(side(math.MaxInt64, 50, 0), "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.recs, nil, DefaultTolerances())
			ref := c.Add(flow(ipA, ipB, 40000, 80, 100, 100, 0))
			res := c.Finish(0, 1e9, true)
			if res[0].Verdict != InvalidCounters || c.VerdictOf(ref) != InvalidCounters || res[0].Reason == "" {
				t.Errorf("verdict %s (%s)", res[0].Verdict, res[0].Reason)
			}
		})
	}
}
