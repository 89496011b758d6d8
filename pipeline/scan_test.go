package pipeline_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// TestScanEndToEnd: a generated capture holds a SYN port scan (40 closed
// ports answer with a RST, 2 open ones with a SYN/ACK that the scanner
// resets), a UDP address scan (port 161 of 30 hosts, no answer) and a
// normal client. analyze's report names both scans in its findings, and the
// manifest's attacks lists them with exact probe counts.
func TestScanEndToEnd(t *testing.T) {
	scanner := netip.MustParseAddr("198.51.100.9")
	scanner2 := netip.MustParseAddr("198.51.100.10")
	victim := netip.MustParseAddr("192.0.2.2")
	var pkts []capgen.Packet
	for p := range 42 {
		c := capgen.NewTCP(netip.AddrPortFrom(scanner, 50000), netip.AddrPortFrom(victim, uint16(1000+p)), capgen.Options{})
		at := time.Duration(p) * 10 * time.Millisecond
		c.SYN(at)
		if p < 40 {
			c.RST(capgen.Resp, at+200*time.Microsecond)
		} else {
			c.SYNACK(at + 200*time.Microsecond)
			c.RST(capgen.Orig, at+400*time.Microsecond)
		}
		pkts = append(pkts, c.Packets()...)
	}
	for h := range 30 {
		u := capgen.NewUDP(netip.AddrPortFrom(scanner2, 50001), netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + h)}), 161), capgen.Options{})
		u.Send(capgen.Orig, time.Second+time.Duration(h)*time.Millisecond, 40)
		pkts = append(pkts, u.Packets()...)
	}
	c := capgen.NewTCP(netip.MustParseAddrPort("192.0.2.1:40000"), netip.AddrPortFrom(victim, 80), capgen.Options{})
	c.SYN(0)
	c.SYNACK(time.Millisecond)
	c.ACK(capgen.Orig, 2*time.Millisecond)
	c.Data(capgen.Orig, 3*time.Millisecond, 100)
	c.Data(capgen.Resp, 4*time.Millisecond, 1000)
	c.FIN(capgen.Orig, 5*time.Millisecond)
	c.FIN(capgen.Resp, 6*time.Millisecond)
	c.ACK(capgen.Orig, 7*time.Millisecond)
	pkts = append(pkts, c.Packets()...)
	slices.SortStableFunc(pkts, func(a, b capgen.Packet) int { return a.Time.Compare(b.Time) })

	dir := t.TempDir()
	path := filepath.Join(dir, "scan.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := capgen.WritePcap(f, capgen.Ethernet.LinkType(), pkts); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "out")
	if _, err := pipeline.Analyze(context.Background(), []string{path}, pipeline.Options{Out: out, ScanMinPorts: 15, ScanMinHosts: 25}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, report.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m report.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Attacks == nil || len(m.Attacks.Scans) != 2 || len(m.Attacks.Floods) != 0 {
		t.Fatalf("manifest attacks: %+v", m.Attacks)
	}
	ps, as := m.Attacks.Scans[0], m.Attacks.Scans[1]
	if ps.Source != scanner.String() || ps.Kind != "port scan" || ps.Target != victim.String() || ps.Probes != 42 || ps.Unanswered != 0 || ps.Hosts != 1 {
		t.Errorf("port scan: %+v", ps)
	}
	if ps.Ports < 40 || ps.Ports > 44 {
		t.Errorf("port scan: %d ports estimated, want exactly 42 (exact up to 32, then HyperLogLog)", ps.Ports)
	}
	if as.Source != scanner2.String() || as.Kind != "address scan" || as.Target != "port 161" || as.Probes != 30 || as.Unanswered != 30 {
		t.Errorf("address scan: %+v", as)
	}
	md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**Port scan**: `198.51.100.9` probed about", "distinct ports of `192.0.2.2`", "42 failed attempts", "**Address scan**: `198.51.100.10`", "distinct hosts on port 161"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}
