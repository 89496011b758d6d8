package report

import (
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
)

// probeRec is a failed attempt from src to dst:port at ts: a SYN left
// unanswered, refused by a RST, or a UDP datagram with no answer.
func probeRec(i int, src, dst netip.Addr, port uint16, ts int64, kind string) analyze.Record {
	r := analyze.Record{FlowID: "1-" + itoaTest(i), Proto: "tcp", IPVersion: 4, SrcIP: src, DstIP: dst, SrcPort: 40000, DstPort: port,
		TsNs: ts, EndNs: ts, OrigPkts: 1}
	switch kind {
	case "S0":
		r.State, r.History = "S0", "S"
	case "REJ":
		r.State, r.History, r.RespPkts = "REJ", "Sr", 1
	case "udp":
		r.Proto, r.State, r.History, r.OrigBytes = "udp", "S0", "D", 40
	}
	return r
}

// TestScanFindings: named sources probe ports or hosts among legitimate
// traffic; each scan is reported with its kind, target, counts and time
// range, and nothing else is.
func TestScanFindings(t *testing.T) {
	t0 := int64(1_700_000_000_000_000_000)
	victim := netip.MustParseAddr("10.50.0.1")
	portScanner := netip.MustParseAddr("10.9.9.9")
	addrScanner := netip.MustParseAddr("10.8.8.8")
	s := NewSummary(SummaryOptions{})
	i := 0
	add := func(r analyze.Record) { s.Add(&r); i++ }
	// 1,000 ports of one host in 10 s, every other one refused.
	for p := range 1000 {
		add(probeRec(i, portScanner, victim, uint16(1+p), t0+int64(p)*10_000_000, []string{"S0", "REJ"}[p%2]))
	}
	// UDP port 161 of 300 hosts.
	for h := range 300 {
		add(probeRec(i, addrScanner, netip.AddrFrom4([4]byte{10, 70, byte(h >> 8), byte(h)}), 161, t0+int64(h)*1e6, "udp"))
	}
	// Not scans: a client completing 500 connections to 500 hosts, one
	// failing against 10 ports, one retrying a port 2,000 times.
	for h := range 500 {
		r := analyze.Record{FlowID: "1-" + itoaTest(i), Proto: "tcp", IPVersion: 4, SrcIP: netip.MustParseAddr("10.1.1.1"),
			DstIP: netip.AddrFrom4([4]byte{10, 80, byte(h >> 8), byte(h)}), SrcPort: 50000, DstPort: 443, TsNs: t0, EndNs: t0 + 1e6,
			State: "SF", History: "ShADadFf", RTTHandshake: analyze.Some(100_000), OrigBytes: 100, RespBytes: 1000, OrigPkts: 5, RespPkts: 5}
		add(r)
	}
	for p := range 10 {
		add(probeRec(i, netip.MustParseAddr("10.2.2.2"), victim, uint16(2000+p), t0, "REJ"))
	}
	for range 2000 {
		add(probeRec(i, netip.MustParseAddr("10.3.3.3"), victim, 8443, t0, "S0"))
	}

	scans := s.scans()
	if len(scans) != 2 {
		t.Fatalf("%d scans, want 2: %+v", len(scans), scans)
	}
	ps, as := scans[0], scans[1]
	if ps.Source != "10.9.9.9" || ps.Kind != "port scan" || ps.Target != "10.50.0.1" || ps.Probes != 1000 || ps.Over != 0 ||
		ps.Unanswered != 500 || ps.Hosts != 1 || ps.FirstNs != t0 || ps.LastNs != t0+999*10_000_000 {
		t.Errorf("port scan: %+v", ps)
	}
	if ps.Ports < 1000*86/100 || ps.Ports > 1000*114/100 {
		t.Errorf("port scan: %d ports estimated, want 1000 within 3 standard errors (14%%)", ps.Ports)
	}
	if as.Source != "10.8.8.8" || as.Kind != "address scan" || as.Target != "port 161" || as.Probes != 300 || as.Unanswered != 300 || as.Ports != 1 {
		t.Errorf("address scan: %+v", as)
	}
	if as.Hosts < 300*86/100 || as.Hosts > 300*114/100 {
		t.Errorf("address scan: %d hosts estimated, want 300 within 3 standard errors (14%%)", as.Hosts)
	}
	fs := s.scanFindings()
	if len(fs) != 2 {
		t.Fatalf("%d findings", len(fs))
	}
	for _, want := range []string{"**Port scan**: `10.9.9.9` probed about", "distinct ports of `10.50.0.1` between 2023-11-14T22:13:20Z and 2023-11-14T22:13:29.99Z: 1,000 failed attempts, 100.1 per second on average, 500 of them unanswered."} {
		if !strings.Contains(fs[0].text, want) {
			t.Errorf("finding %q lacks %q", fs[0].text, want)
		}
	}
	if !strings.Contains(fs[1].text, "**Address scan**: `10.8.8.8` probed about") || !strings.Contains(fs[1].text, "distinct hosts on port 161") {
		t.Errorf("finding %q", fs[1].text)
	}
}

// TestScanTableBounded: a scanner hidden among 100,000 one-probe spoofed
// sources is still found with a table of 64 sources, its count too high by
// at most N/k, and the table never grows past k entries or k sketches.
func TestScanTableBounded(t *testing.T) {
	const k, noise, probes = 64, 100_000, 2000
	s := NewSummary(SummaryOptions{MaxScanSources: k})
	t0 := int64(1_700_000_000_000_000_000)
	scanner := netip.MustParseAddr("192.0.2.7")
	victim := netip.MustParseAddr("10.50.0.1")
	n := 0
	for i := range noise {
		r := probeRec(i, netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), victim, 80, t0+int64(i)*1e4, "S0")
		s.Add(&r)
		n++
		if i%(noise/probes) == 0 {
			r := probeRec(i, scanner, victim, uint16(1+i/(noise/probes)), t0+int64(i)*1e4, "S0")
			s.Add(&r)
			n++
		}
	}
	if len(s.scan.aggs) > k || len(s.scan.sketches) > k || len(s.scan.bySrc) > k {
		t.Errorf("table holds %d sources, %d sketches, %d index entries; cap %d", len(s.scan.aggs), len(s.scan.sketches), len(s.scan.bySrc), k)
	}
	scans := s.scans()
	if len(scans) != 1 || scans[0].Source != scanner.String() {
		t.Fatalf("scans %+v", scans)
	}
	sc := scans[0]
	if sc.Probes < probes || sc.Probes-sc.Over > probes || sc.Over > int64(n/k) {
		t.Errorf("probes %d (overcount %d), want %d with an overcount of at most %d", sc.Probes, sc.Over, probes, n/k)
	}
	if s.scan.probes != int64(n) {
		t.Errorf("%d probes counted, want %d", s.scan.probes, n)
	}
}

// TestScanAllocs: a spoofed one-probe source costs a filter slot and no
// allocation.
func TestScanAllocs(t *testing.T) {
	s := NewSummary(SummaryOptions{MaxScanSources: 32})
	victim := netip.MustParseAddr("10.50.0.1")
	i := 0
	r := probeRec(0, victim, victim, 80, 0, "S0")
	next := func() {
		r.SrcIP, r.TsNs = netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), int64(i)
		i++
		s.scan.add(&r, addrHash(r.SrcIP))
	}
	for range 1000 {
		next()
	}
	if a := testing.AllocsPerRun(1000, next); a != 0 {
		t.Errorf("%.1f allocations per new source", a)
	}
}

// BenchmarkScanFlood: the scan table's cost per flow of a spoofed SYN flood
// (one probe per source), against BenchmarkSummaryFlood's whole Add.
func BenchmarkScanFlood(b *testing.B) {
	s := NewSummary(SummaryOptions{})
	victim := netip.MustParseAddr("10.50.0.1")
	r := probeRec(0, victim, victim, 80, 0, "S0")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.SrcIP, r.TsNs = netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), int64(i)
		s.scan.add(&r, addrHash(r.SrcIP))
	}
}

func BenchmarkSummaryFlood(b *testing.B) {
	s := NewSummary(SummaryOptions{})
	victim := netip.MustParseAddr("10.50.0.1")
	r := probeRec(0, victim, victim, 80, 0, "S0")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.SrcIP, r.TsNs = netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), int64(i)
		s.Add(&r)
	}
}

// TestScanFirstSize: a filter slot is 32 bytes, so none straddles two
// cache lines.
func TestScanFirstSize(t *testing.T) {
	if n := unsafe.Sizeof(scanFirst{}); n != 32 {
		t.Errorf("scanFirst is %d bytes, want 32", n)
	}
}
