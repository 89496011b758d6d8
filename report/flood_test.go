package report

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
)

// TestFloodFinding: a server getting 20,000 half-open connections from as
// many sources over 10 s, with a few completed ones, is reported at the top
// with its counts, the distinct sources within the HyperLogLog's error, and
// the peak second; a server whose one client retries is not.
func TestFloodFinding(t *testing.T) {
	s := NewSummary(SummaryOptions{})
	const n = 20_000
	srv := netip.MustParseAddr("10.50.0.1")
	t0 := int64(1_700_000_000_000_000_000)
	for i := range n {
		ts := t0 + int64(i)*10_000_000_000/n
		if i >= n/2 && i < n/2+n/4 { // a burst: 5,000 in the second from 5 s
			ts = t0 + 5_000_000_000 + int64(i-n/2)*1_000_000_000/(n/4)
		}
		r := analyze.Record{FlowID: "1-" + itoaTest(i), Proto: "tcp", IPVersion: 4, SrcIP: netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}),
			DstIP: srv, SrcPort: uint16(1024 + i%60000), DstPort: 80, TsNs: ts, EndNs: ts, State: "S0", History: "S", OrigPkts: 1}
		s.Add(&r)
	}
	for i := range 5 {
		r := analyze.Record{FlowID: "1-c" + itoaTest(i), Proto: "tcp", IPVersion: 4, SrcIP: netip.MustParseAddr("10.51.0.1"), DstIP: srv,
			SrcPort: uint16(40000 + i), DstPort: 80, TsNs: t0, EndNs: t0 + 1e6, State: "SF", History: "ShADadFf", RTTHandshake: analyze.Some(100_000)}
		s.Add(&r)
	}
	// One client retrying against another server: many half-open, one source.
	for i := range 2000 {
		r := analyze.Record{FlowID: "1-r" + itoaTest(i), Proto: "tcp", IPVersion: 4, SrcIP: netip.MustParseAddr("10.60.0.1"), DstIP: netip.MustParseAddr("10.60.0.2"),
			SrcPort: uint16(2000 + i), DstPort: 443, TsNs: t0 + int64(i)*1e6, State: "S0", History: "S"}
		s.Add(&r)
	}
	fs := s.floodFindings()
	if len(fs) != 1 {
		t.Fatalf("%d flood findings: %+v", len(fs), fs)
	}
	text := fs[0].text
	for _, want := range []string{"**SYN flood**: 20,000 half-open connections to `10.50.0.1:80`", "5 connections to it completed the handshake"} {
		if !strings.Contains(text, want) {
			t.Errorf("finding %q lacks %q", text, want)
		}
	}
	f := s.servers[serverKey{srv, 80}].flood
	if est := f.sources(); est < n*93/100 || est > n*107/100 {
		t.Errorf("distinct sources estimated %d, want %d within 3 standard errors (7%%)", est, n)
	}
	// The burst: 5,000 in one second; elsewhere 2,000 a second.
	if peak, w := f.rate.peak(); w != 1e9 || peak != 5000 {
		t.Errorf("peak %d per %d ns", peak, w)
	}
}

// TestRateLadderBounded: a long flood keeps at most rateMaxBuckets
// intervals, widening them, and loses no event.
func TestRateLadderBounded(t *testing.T) {
	var l rateLadder
	total := 0
	for s := range int64(10_000) {
		l.add(s * 1e9)
		total++
	}
	l.flush()
	var sum int64
	for _, n := range l.buckets {
		sum += n
	}
	if len(l.buckets) > rateMaxBuckets || sum != int64(total) || l.width != 4e9 {
		t.Errorf("%d buckets of %d ns holding %d of %d", len(l.buckets), l.width, sum, total)
	}
}

func itoaTest(i int) string { return strconv.Itoa(i) }

// TestTalkersFullFilter: once the conversations map is full, the filter in
// front of it changes no number: tracked conversations still count, others
// go to untracked.
func TestTalkersFullFilter(t *testing.T) {
	s := NewSummary(SummaryOptions{MaxTalkers: 100})
	srv := netip.MustParseAddr("10.0.0.1")
	add := func(i int, bytes int64) {
		r := analyze.Record{FlowID: "1-x", Proto: "udp", IPVersion: 4, SrcIP: netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)}), DstIP: srv, DstPort: 53, OrigBytes: bytes, OrigPkts: 1}
		s.Add(&r)
	}
	for i := range 100 {
		add(i, 1)
	}
	if s.talkersFull == nil {
		t.Fatal("no filter once the map is full")
	}
	for i := range 1000 { // 100 tracked again, 900 new
		add(i, 10)
	}
	var tracked volume
	for _, v := range s.talkers {
		tracked.flows += v.flows
		tracked.bytes += v.bytes
	}
	if len(s.talkers) != 100 || tracked != (volume{200, 1100}) || s.talkersUntracked != (volume{900, 9000}) {
		t.Errorf("%d tracked holding %+v, untracked %+v", len(s.talkers), tracked, s.talkersUntracked)
	}
}

// TestRateLadderPending: counting a run of events of one interval at once
// gives the intervals and widths of counting each in the map.
func TestRateLadderPending(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var l rateLadder
	width, want := int64(1e9), map[int64]int64{}
	ts := int64(-5e9)
	for range 200000 {
		switch rng.IntN(10) {
		case 0:
			ts += rng.Int64N(1e13) // a jump: new intervals, merges
		case 1:
			ts -= rng.Int64N(3e9) // out of order
		default:
			ts += rng.Int64N(1e6)
		}
		l.add(ts)
		want[floorDiv(ts, width)]++
		for len(want) > rateMaxBuckets {
			width *= 2
			merged := map[int64]int64{}
			for k, n := range want {
				merged[floorDiv(k, 2)] += n
			}
			want = merged
		}
	}
	l.flush()
	if l.width != width || !maps.Equal(l.buckets, want) {
		t.Fatalf("width %d, %d intervals; want width %d, %d intervals", l.width, len(l.buckets), width, len(want))
	}
}
