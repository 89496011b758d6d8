package analyze_test

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/capgen"
)

// The recordings' client, where tcpdump ran (testdata/README.md).
var recClient = []netip.Addr{netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("fd77::1")}

// readRecording returns a recording's packets and its link.
func readRecording(t *testing.T, name string) (capgen.Link, []capgen.Packet) {
	t.Helper()
	name, port, remap := strings.Cut(name, "@")
	pkts := ethernetPackets(filepath.Join("..", "testdata", "rec", name), 1<<30)
	if len(pkts) == 0 {
		t.Fatalf("%s: no packets read from it as an Ethernet capture", name)
	}
	if remap {
		to, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			movePort(p.Data, 80, uint16(to))
		}
	}
	return capgen.Ethernet, pkts
}

// movePort rewrites TCP port from as to in an untagged Ethernet frame of
// IPv4 or of IPv6 without extension headers (the recordings'), leaving the
// checksum as it was (folding and flows do not read it).
func movePort(frame []byte, from, to uint16) {
	if len(frame) < 14 {
		return
	}
	ip, l4 := frame[14:], 0
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case 0x0800:
		if len(ip) < 20 || ip[9] != 6 {
			return
		}
		l4 = int(ip[0]&0x0f) * 4
	case 0x86dd:
		if len(ip) < 40 || ip[6] != 6 {
			return
		}
		l4 = 40
	default:
		return
	}
	if len(ip) < l4+4 {
		return
	}
	for _, at := range []int{l4, l4 + 2} {
		if binary.BigEndian.Uint16(ip[at:]) == from {
			binary.BigEndian.PutUint16(ip[at:], to)
		}
	}
}

// analyzeRaw analyzes raw IP packets with cfg and returns the flows by
// first-packet time, and the table.
func analyzeRaw(cfg analyze.Config, pkts []capgen.Packet) ([]analyze.Record, *analyze.Table) {
	var got []analyze.Record
	tbl := analyze.NewTable(cfg, "vantage.pcap", 1, func(r *analyze.Record) { got = append(got, *r) })
	var d analyze.Decoded
	for i, p := range pkts {
		pkt := ingest.Packet{Data: p.Data, OrigLen: p.Length, Timestamp: p.Time.UnixNano(), LinkType: capgen.RawIP.LinkType(), Index: int64(i)}
		analyze.Decode(&pkt, &d)
		tbl.Add(&d, pkt.Index)
	}
	tbl.Flush()
	sort.SliceStable(got, func(i, j int) bool { return got[i].TsNs < got[j].TsNs })
	return got, tbl
}

// comparable returns what a fold must leave as the single capture had it:
// every column but the flow id (frame numbers differ), the vantage columns,
// and, with GSO merges, the data RTT samples (a super-packet is one
// segment to the RTT analysis).
func comparable(r analyze.Record, gso bool) analyze.Record {
	r.FlowID = ""
	r.DupPkts, r.Vantages = 0, 0
	r.OrigTransitP50Ns, r.RespTransitP50Ns = analyze.Opt{}, analyze.Opt{}
	if gso {
		r.OrigRTT, r.RespRTT = analyze.RTTStats{}, analyze.RTTStats{}
	}
	return r
}

// tcpDataIndices returns the first n packets carrying TCP payload, after skip of them.
func tcpDataIndices(t *testing.T, link capgen.Link, pkts []capgen.Packet, skip, n int) []int {
	t.Helper()
	var out []int
	var d analyze.Decoded
	for i, p := range pkts {
		pkt := ingest.Packet{Data: p.Data, OrigLen: p.Length, LinkType: link.LinkType()}
		analyze.Decode(&pkt, &d)
		if d.Kind == analyze.KindTCP && d.Payload > 0 {
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, i)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// TestVantageKnownAnswers: each recording, recorded a second time at the
// other end (TTL lower at the receiver, on one node or across nodes with the
// other node's clock ahead or behind, egress bursts merged as GSO
// super-packets, real retransmissions, copies lost), analyses exactly as
// the single recording: same flows, packets, bytes, retransmissions, RTTs
// to the nanosecond; and the transit columns are the delays put in.
func TestVantageKnownAnswers(t *testing.T) {
	const us = time.Microsecond
	variants := []struct {
		name string
		cfg  analyze.Config
		v    capgen.Vantage
		// retransmit and lose pick TCP data packets: retransmit some, lose
		// the remote copy of others.
		retransmit, lose bool
	}{
		{name: "same node", v: capgen.Vantage{Delay: 20 * us}},
		{name: "cross node, clock ahead", v: capgen.Vantage{Delay: 150 * us, Offset: 2 * time.Millisecond, Hops: 2}},
		{name: "cross node, clock behind", v: capgen.Vantage{Delay: 150 * us, Offset: -3 * time.Millisecond, Hops: 2}},
		{name: "same node, GSO", v: capgen.Vantage{Delay: 20 * us, GSO: 4}},
		{name: "cross node, clock behind, GSO", v: capgen.Vantage{Delay: 150 * us, Offset: -3 * time.Millisecond, GSO: 3}},
		{name: "same node, retransmissions, lost copies", v: capgen.Vantage{Delay: 20 * us, RetransmitAfter: 1 * time.Millisecond}, retransmit: true, lose: true},
		{name: "cross node, clock behind, retransmissions, lost copies", v: capgen.Vantage{Delay: 150 * us, Offset: -3 * time.Millisecond, RetransmitAfter: 2 * time.Millisecond}, retransmit: true, lose: true},
		// Pods of one node on a bridge: equal TTLs, folded only on request.
		{name: "same node, bridged", cfg: analyze.Config{DupSameTTL: true}, v: capgen.Vantage{Delay: 20 * us, Bridged: true}},
		{name: "same node, bridged, GSO", cfg: analyze.Config{DupSameTTL: true}, v: capgen.Vantage{Delay: 20 * us, Bridged: true, GSO: 4}},
	}
	// http-v4.pcap@2200: the HTTP recording with the server on port 2200,
	// which no port rule takes for a server's: only the connection's SYN
	// tells the direction, and across nodes with the server's clock behind,
	// the server's copies of its first records come before the client's SYN.
	for _, rec := range []string{"http-v4.pcap", "http-v6.pcapng", "dns-udp.pcap", "http-v4.pcap@2200"} {
		link, pkts := readRecording(t, rec)
		for _, tt := range variants {
			t.Run(rec+"/"+tt.name, func(t *testing.T) {
				v := tt.v
				v.Local = recClient
				if tt.retransmit {
					v.Retransmit = tcpDataIndices(t, link, pkts, 3, 2)
				}
				if tt.lose {
					v.LoseCopy = tcpDataIndices(t, link, pkts, 10, 2)
				}
				single, doubled, err := capgen.Double(link, pkts, v)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := analyzeRaw(tt.cfg, single)
				got, tbl := analyzeRaw(tt.cfg, doubled)
				if len(got) != len(want) {
					for _, r := range got {
						t.Logf("got  %s %v:%d %d pkts %d/%d hist %s dup %d", r.Proto, r.SrcIP, r.SrcPort, r.TsNs, r.OrigPkts, r.RespPkts, r.History, r.DupPkts)
					}
					for _, r := range want {
						t.Logf("want %s %v:%d %d pkts %d/%d hist %s", r.Proto, r.SrcIP, r.SrcPort, r.TsNs, r.OrigPkts, r.RespPkts, r.History)
					}
					t.Fatalf("%d flows, want %d (the single capture's)", len(got), len(want))
				}
				if tbl.DupFolded == 0 {
					t.Fatal("nothing folded")
				}
				if tbl.DupCapped != 0 {
					t.Errorf("capped %d: the folding state lost records", tbl.DupCapped)
				}
				if tt.v.GSO > 1 && rec != "dns-udp.pcap" && tbl.GSOSplit == 0 {
					t.Error("no GSO super-packet split")
				}
				var retrans int64
				for i := range got {
					g, w := comparable(got[i], tt.v.GSO > 1), comparable(want[i], tt.v.GSO > 1)
					if g != w {
						t.Errorf("flow %d:\n got %+v\nwant %+v", i, g, w)
						continue
					}
					retrans += g.OrigRetransPkts + g.RespRetransPkts
					r := got[i]
					if r.Vantages != 2 {
						t.Errorf("flow %d: %d vantages, want 2", i, r.Vantages)
					}
					origTransit := int64(tt.v.Delay + tt.v.Offset)
					respTransit := int64(tt.v.Delay - tt.v.Offset)
					if r.OrigPkts > 0 && r.OrigTransitP50Ns != analyze.Some(origTransit) {
						t.Errorf("flow %d: orig transit %+v, want %d", i, r.OrigTransitP50Ns, origTransit)
					}
					if r.RespPkts > 0 && r.RespTransitP50Ns != analyze.Some(respTransit) {
						t.Errorf("flow %d: resp transit %+v, want %d", i, r.RespTransitP50Ns, respTransit)
					}
				}
				if tt.retransmit && rec != "dns-udp.pcap" && retrans < int64(len(v.Retransmit)) {
					t.Errorf("%d retransmissions, want at least the %d put in", retrans, len(v.Retransmit))
				}
				t.Logf("folded %d, GSO split %d, ambiguous %d, capped %d, GSO mismatch %d",
					tbl.DupFolded, tbl.GSOSplit, tbl.DupAmbiguous, tbl.DupCapped, tbl.GSOMismatch)
			})
		}
	}
}

// TestVantageGSOTableGrows: the GSO table starts at one bucket and must
// grow rather than forget ranges still inside the window. Before it grew, a
// bucket full of such ranges dropped its oldest, and about one run in 200 of
// TestVantageKnownAnswers (whose bucket choice depends on the flow index's
// random seed) counted segments of the big transfer twice.
func TestVantageGSOTableGrows(t *testing.T) {
	defer analyze.SetFirstGSOBuckets(1)()
	TestVantageKnownAnswers(t)
}

// TestVantageGSOCapped: a GSO table that may not grow forgets its oldest
// range and counts it: with 4 entries allowed, a table of one bucket (4
// ranges) caps more than one of 1,024 buckets (never full here), the ring
// and the delay line capping alike in both.
func TestVantageGSOCapped(t *testing.T) {
	link, pkts := readRecording(t, "http-v4.pcap")
	v := capgen.Vantage{Delay: 150 * time.Microsecond, Offset: -3 * time.Millisecond, GSO: 3, Local: recClient}
	_, doubled, err := capgen.Double(link, pkts, v)
	if err != nil {
		t.Fatal(err)
	}
	cfg := analyze.Config{MaxDupEntries: 4}
	_, wide := analyzeRaw(cfg, doubled)
	restore := analyze.SetFirstGSOBuckets(1)
	_, narrow := analyzeRaw(cfg, doubled)
	restore()
	if narrow.DupCapped <= wide.DupCapped {
		t.Fatalf("capped %d with a GSO table of 4 ranges, %d with 4,096", narrow.DupCapped, wide.DupCapped)
	}
}

// foldedCaptures are the captures of the corpus and testdata that hold
// copies of packets from two vantage points, and so change with folding.
var foldedCaptures = map[string]string{
	"gopacket/cip.pcap":                        "recorded on both sides of a router: every packet twice, TTL 128 and 127, 0.2 to 12 ms apart",
	"wireshark-wiki/port-16_vlan24_200.pcap":   "a mirror port seeing two VLANs: frames 297-300 twice, TTL 64 and 63, 21 to 29 µs apart",
	"gopacket/linux_sll_oversized_addr.pcapng": "a damaged capture on \"any\" (each packet on two interfaces, same TTL: not folded); frames 196 and 197 differ only in TTL (64, 109): folded",
}

// TestFoldLeavesOtherCapturesAlone: on every capture of the public corpus
// and of testdata without vantage copies, folding changes no column of any
// flow (tshark's conformance covers only some columns).
func TestFoldLeavesOtherCapturesAlone(t *testing.T) {
	var paths []string
	for _, root := range []string{corpusDir, filepath.Join("..", "testdata")} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.Contains(p, "/reference/") &&
				(strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".gz")) {
				paths = append(paths, p)
			}
			return nil
		})
	}
	if len(paths) < 30 {
		t.Skipf("only %d captures found (the corpus sits beside the project in CI)", len(paths))
	}
	folded := 0
	for _, p := range paths {
		with, tbl, err1 := analyzeFileWith(p, analyze.Config{})
		without, _, err2 := analyzeFileWith(p, analyze.Config{NoDedup: true})
		if (err1 == nil) != (err2 == nil) {
			t.Errorf("%s: error %v with folding, %v without", p, err1, err2)
			continue
		}
		rel, _ := filepath.Rel(corpusDir, p)
		if tbl.DupFolded > 0 {
			folded++
			if _, ok := foldedCaptures[rel]; !ok {
				t.Errorf("%s: %d records folded in a capture not known to hold vantage copies", p, tbl.DupFolded)
			}
			continue
		}
		if _, ok := foldedCaptures[rel]; ok {
			t.Errorf("%s: nothing folded", p)
		}
		if !reflect.DeepEqual(with, without) {
			t.Errorf("%s: folding changed the flows although it folded nothing", p)
		}
	}
	t.Logf("%d captures, %d with vantage copies", len(paths), folded)
}

// TestVantageCopiesStartLate: in a capture whose copies start after the
// delay line has stopped (a long stretch of traffic seen once), the first
// copy turns it back on. The flow in flight then may count its first
// packets at the copy they came as; every flow after it is exact, and every
// copy is folded.
func TestVantageCopiesStartLate(t *testing.T) {
	link, pkts := readRecording(t, "http-v4.pcap")
	single, doubled, err := capgen.Double(link, pkts, capgen.Vantage{Local: recClient, Delay: 150 * time.Microsecond, Offset: 2 * time.Millisecond, Hops: 2})
	if err != nil {
		t.Fatal(err)
	}
	udp := capgen.NewUDP(netip.MustParseAddrPort("192.0.2.1:5000"), netip.MustParseAddrPort("192.0.2.2:5001"), capgen.Options{Link: capgen.RawIP})
	for i := range 3000 {
		udp.Send(capgen.Orig, time.Duration(i)*10*time.Microsecond, 50)
	}
	prefix := udp.Packets()
	shift := single[0].Time.Add(-100 * time.Millisecond).Sub(prefix[0].Time)
	for i := range prefix {
		prefix[i].Time = prefix[i].Time.Add(shift)
	}
	want, _ := analyzeRaw(analyze.Config{}, append(slices.Clone(prefix), single...))
	got, tbl := analyzeRaw(analyze.Config{}, append(slices.Clone(prefix), doubled...))
	if copies := int64(len(doubled) - len(single)); tbl.DupFolded != copies {
		t.Errorf("folded %d, want %d", tbl.DupFolded, copies)
	}
	if len(got) != len(want) {
		t.Fatalf("%d flows, want %d", len(got), len(want))
	}
	for i := 2; i < len(got); i++ { // the prefix's flow, then the flow in flight
		if g, w := comparable(got[i], false), comparable(want[i], false); g != w {
			t.Errorf("flow %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestVantageThroughFiles: a doubled capture written as Kubeshark exports it
// (classic pcap, LINKTYPE_RAW, microseconds: stamps are cut to the
// microsecond, both copies alike) and read back folds the same through
// Run and RunConcurrent, as the single capture written the same way.
func TestVantageThroughFiles(t *testing.T) {
	link, pkts := readRecording(t, "http-v6.pcapng")
	single, doubled, err := capgen.Double(link, pkts, capgen.Vantage{Local: recClient, Delay: 150 * time.Microsecond, Offset: -3 * time.Millisecond, GSO: 3})
	if err != nil {
		t.Fatal(err)
	}
	micro := func(pkts []capgen.Packet) []byte {
		var b bytes.Buffer
		cut := slices.Clone(pkts)
		for i := range cut {
			cut[i].Time = cut[i].Time.Truncate(time.Microsecond)
		}
		if err := capgen.WritePcap(&b, capgen.RawIP.LinkType(), cut); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	run := func(data []byte, f func(analyze.PacketSource, *analyze.Table) error) ([]analyze.Record, *analyze.Table) {
		c, err := ingest.NewReader("vantage.pcap", bytes.NewReader(data), ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var recs []analyze.Record
		tbl := analyze.NewTable(analyze.Config{}, "vantage.pcap", 1, func(r *analyze.Record) { recs = append(recs, *r) })
		if err := f(c, tbl); err != nil {
			t.Fatal(err)
		}
		tbl.Flush()
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].TsNs < recs[j].TsNs })
		return recs, tbl
	}
	want, _ := run(micro(single), analyze.Run)
	seq, tbl := run(micro(doubled), analyze.Run)
	conc, _ := run(micro(doubled), analyze.RunConcurrent)
	if !reflect.DeepEqual(seq, conc) {
		t.Errorf("RunConcurrent differs from Run")
	}
	if len(seq) != len(want) || tbl.DupFolded == 0 || tbl.GSOSplit == 0 {
		t.Fatalf("%d flows (want %d), folded %d, GSO split %d", len(seq), len(want), tbl.DupFolded, tbl.GSOSplit)
	}
	for i := range seq {
		if g, w := comparable(seq[i], true), comparable(want[i], true); g != w {
			t.Errorf("flow %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestVantageBridgedNeedsOptIn: copies with equal TTLs (no router between
// the two points) are not folded by default, and the ambiguous count says
// how many there were among the records compared one by one: those of the
// capture's first window (the probe), since no copy was found there.
func TestVantageBridgedNeedsOptIn(t *testing.T) {
	link, pkts := readRecording(t, "dns-udp.pcap")
	single, doubled, err := capgen.Double(link, pkts, capgen.Vantage{Local: recClient, Delay: 20 * time.Microsecond, Bridged: true})
	if err != nil {
		t.Fatal(err)
	}
	got, tbl := analyzeRaw(analyze.Config{}, doubled)
	probeEnd := doubled[0].Time.Add(analyze.DefaultDupWindowNs)
	inProbe := func(ps []capgen.Packet) (n int64) {
		for _, p := range ps {
			if !p.Time.After(probeEnd) {
				n++
			}
		}
		return n
	}
	copies := inProbe(doubled) - inProbe(single)
	if tbl.DupFolded != 0 || tbl.DupAmbiguous != copies || copies == 0 || copies == int64(len(doubled)-len(single)) {
		t.Errorf("folded %d, ambiguous %d; want 0, %d (of %d copies)", tbl.DupFolded, tbl.DupAmbiguous, copies, len(doubled)-len(single))
	}
	if want, _ := analyzeRaw(analyze.Config{}, single); len(got) != len(want) {
		t.Errorf("%d flows, want %d", len(got), len(want))
	}
}
