package capgen_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"github.com/flowproof/flowproof/ingest"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowproof/flowproof/internal/capgen"
)

var update = flag.Bool("update", false, "rewrite testdata/gen from capgen.Cases()")

// genDir is where the generated captures are checked in.
var genDir = filepath.Join("..", "..", "testdata", "gen")

// decoded is what the tests need from one generated packet.
type decoded struct {
	ns       int64
	proto    string
	src, dst netip.AddrPort
	syn, ack bool
	fin, rst bool
	seq      uint32
	ackNum   uint32
	payload  int64 // from the IP length, not the captured bytes
	ipBytes  int64
	wire     int64
}

// decode parses p with gopacket and checks lengths and checksums on the way.
func decode(t *testing.T, link capgen.Link, p capgen.Packet) decoded {
	t.Helper()
	pkt := gopacket.NewPacket(p.Data, layers.LinkType(link.LinkType()), gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("decode error: %v", el.Error())
	}
	truncated := len(p.Data) < p.Length
	if truncated != pkt.Metadata().Truncated && truncated {
		// gopacket marks truncation only when a layer notices it; payload-only
		// truncation is fine as long as the headers decoded.
		t.Logf("truncated packet not flagged by gopacket (headers complete)")
	}
	if len(p.Data) > p.Length {
		t.Fatalf("captured %d bytes of a %d-byte frame", len(p.Data), p.Length)
	}
	d := decoded{ns: p.Time.UnixNano(), wire: int64(p.Length)}
	var src, dst netip.Addr
	var ipStart int
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		d.ipBytes = int64(ip.Length)
		d.payload = int64(ip.Length) - int64(ip.IHL)*4
		if err, r := ip.VerifyChecksum(); err != nil || !r.Valid {
			t.Errorf("IPv4 header checksum %#x, want %#x (%v)", r.Actual, r.Correct, err)
		}
		ipStart = len(p.Data) - len(ip.Contents) - len(ip.Payload)
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		d.ipBytes = 40 + int64(ip.Length)
		d.payload = int64(ip.Length)
		ipStart = len(p.Data) - len(ip.Contents) - len(ip.Payload)
	default:
		t.Fatalf("no IP layer: %v", pkt)
	}
	switch l4 := pkt.TransportLayer().(type) {
	case *layers.TCP:
		if err := l4.SetNetworkLayerForChecksum(pkt.NetworkLayer()); err != nil {
			t.Fatal(err)
		}
		d.proto = "tcp"
		d.src, d.dst = netip.AddrPortFrom(src, uint16(l4.SrcPort)), netip.AddrPortFrom(dst, uint16(l4.DstPort))
		d.syn, d.ack, d.fin, d.rst = l4.SYN, l4.ACK, l4.FIN, l4.RST
		d.seq, d.ackNum = l4.Seq, l4.Ack
		d.payload -= int64(l4.DataOffset) * 4
	case *layers.UDP:
		if err := l4.SetNetworkLayerForChecksum(pkt.NetworkLayer()); err != nil {
			t.Fatal(err)
		}
		d.proto = "udp"
		d.src, d.dst = netip.AddrPortFrom(src, uint16(l4.SrcPort)), netip.AddrPortFrom(dst, uint16(l4.DstPort))
		d.payload -= 8
		if int64(l4.Length) != d.payload+8 {
			t.Errorf("UDP length %d, IP says %d", l4.Length, d.payload+8)
		}
	default:
		t.Fatalf("no TCP/UDP layer: %v", pkt)
	}
	if !truncated {
		if err, bad := pkt.VerifyChecksums(); err != nil || len(bad) > 0 {
			t.Errorf("checksums: %v %v", err, bad)
		}
		// The IP packet ends where its length says; only Ethernet may pad after it.
		end := int64(ipStart) + d.ipBytes
		switch {
		case link == capgen.Ethernet && int64(p.Length) != max(end, 60):
			t.Errorf("Ethernet frame is %d bytes, want max(%d, 60)", p.Length, end)
		case link != capgen.Ethernet && int64(p.Length) != end:
			t.Errorf("frame is %d bytes, IP packet ends at %d", p.Length, end)
		}
	}
	return d
}

func TestPacketsDecode(t *testing.T) {
	for _, c := range capgen.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			if len(c.Packets) == 0 {
				t.Fatal("no packets")
			}
			for i, p := range c.Packets {
				if i > 0 && p.Time.Before(c.Packets[i-1].Time) {
					t.Errorf("packet %d goes back in time", i)
				}
				decode(t, c.Link, p)
			}
		})
	}
}

// TestFlowCountsMatchPackets recounts, mechanically from the decoded packets,
// the counters that the case table states by hand: packets and bytes per
// direction, the handshake RTTs and the UDP first-reply RTT.
func TestFlowCountsMatchPackets(t *testing.T) {
	for _, c := range capgen.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			flows := splitFlows(t, c)
			if len(flows) != len(c.Flows) {
				t.Fatalf("packets make %d flows, table says %d", len(flows), len(c.Flows))
			}
			for i, want := range c.Flows {
				got := recount(want, flows[i])
				type counts struct {
					pkts, bytes, ip, wire [2]int64
					synSynAck, synAckAck  int64
					firstReply            int64
				}
				w := counts{
					pkts:       [2]int64{want.OrigPkts, want.RespPkts},
					bytes:      [2]int64{want.OrigBytes, want.RespBytes},
					ip:         [2]int64{want.OrigIPBytes, want.RespIPBytes},
					wire:       [2]int64{want.OrigWireBytes, want.RespWireBytes},
					synSynAck:  want.RTTSynSynAckNs,
					synAckAck:  want.RTTSynAckAckNs,
					firstReply: want.RTTFirstReplyNs,
				}
				g := counts{got.pkts, got.bytes, got.ip, got.wire, got.synSynAck, got.synAckAck, got.firstReply}
				if g != w {
					t.Errorf("flow %d: recounted %+v\n          table says %+v", i, g, w)
				}
			}
		})
	}
}

// splitFlows assigns the packets of c to the flows of its table: by 5-tuple,
// and a SYN with a new sequence number on a known 5-tuple starts a new flow.
func splitFlows(t *testing.T, c capgen.Case) [][]decoded {
	var flows [][]decoded
	open := map[[2]netip.AddrPort]int{}
	synSeq := map[int]uint32{}
	for _, p := range c.Packets {
		d := decode(t, c.Link, p)
		key := [2]netip.AddrPort{d.src, d.dst}
		if d.src.Compare(d.dst) > 0 {
			key = [2]netip.AddrPort{d.dst, d.src}
		}
		i, ok := open[key]
		if !ok || (d.syn && !d.ack && synSeq[i] != d.seq) {
			i = len(flows)
			flows = append(flows, nil)
			open[key] = i
		}
		if d.syn && !d.ack {
			synSeq[i] = d.seq
		}
		flows[i] = append(flows[i], d)
	}
	return flows
}

type recounted struct {
	pkts, bytes, ip, wire [2]int64
	synSynAck, synAckAck  int64
	firstReply            int64
}

func recount(want capgen.Flow, pkts []decoded) recounted {
	r := recounted{synSynAck: capgen.Null, synAckAck: capgen.Null, firstReply: capgen.Null}
	var lastSYN, synAck, firstOrig int64 = -1, -1, -1
	var synAckSeq uint32
	for _, d := range pkts {
		dir := 1
		if d.src == want.Src {
			dir = 0
		}
		r.pkts[dir]++
		r.bytes[dir] += d.payload
		r.ip[dir] += d.ipBytes
		r.wire[dir] += d.wire
		switch {
		case d.proto == "udp" && dir == 0 && firstOrig < 0:
			firstOrig = d.ns
		case d.proto == "udp" && dir == 1 && firstOrig >= 0 && r.firstReply == capgen.Null:
			r.firstReply = d.ns - firstOrig
		case d.syn && !d.ack && dir == 0 && synAck < 0:
			lastSYN = d.ns
		case d.syn && d.ack && dir == 1 && synAck < 0 && lastSYN >= 0:
			synAck, synAckSeq = d.ns, d.seq
			r.synSynAck = synAck - lastSYN
		case !d.syn && d.ack && dir == 0 && synAck >= 0 && r.synAckAck == capgen.Null && d.ackNum == synAckSeq+1:
			r.synAckAck = d.ns - synAck
		}
	}
	return r
}

// TestExpectationsConsistent checks the table for slips a reader would trip on:
// nulls where they belong, the handshake sum, ordered RTT statistics.
func TestExpectationsConsistent(t *testing.T) {
	states := map[string]bool{"S0": true, "S1": true, "SF": true, "REJ": true, "S2": true, "S3": true,
		"RSTO": true, "RSTR": true, "RSTOS0": true, "RSTRH": true, "SH": true, "SHR": true, "OTH": true}
	names := map[string]bool{}
	for _, c := range capgen.Cases() {
		if names[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		if c.TsharkIRTTNs != nil && len(c.TsharkIRTTNs) != len(c.Flows) {
			t.Errorf("%s: %d tshark iRTT overrides for %d flows", c.Name, len(c.TsharkIRTTNs), len(c.Flows))
		}
		for i, f := range c.Flows {
			where := c.Name + "/" + string(rune('0'+i))
			if !states[f.State] {
				t.Errorf("%s: unknown state %q", where, f.State)
			}
			if strings.Trim(f.History, "^ShHaAdDfFrRcCgGtTwWiIqQxX") != "" {
				t.Errorf("%s: bad history letters %q", where, f.History)
			}
			if f.Src == f.Dst || !f.Src.IsValid() || !f.Dst.IsValid() {
				t.Errorf("%s: bad endpoints %v %v", where, f.Src, f.Dst)
			}
			// With both halves, the handshake RTT is their sum; without them it
			// is Wireshark's iRTT, which a RST/ACK answering the SYN also ends.
			hs := f.RTTSynSynAckNs != capgen.Null && f.RTTSynAckAckNs != capgen.Null
			if hs && f.RTTHandshakeNs != f.RTTSynSynAckNs+f.RTTSynAckAckNs {
				t.Errorf("%s: handshake %d != %d + %d", where, f.RTTHandshakeNs, f.RTTSynSynAckNs, f.RTTSynAckAckNs)
			}
			for _, v := range []int64{f.RTTSynSynAckNs, f.RTTSynAckAckNs, f.RTTFirstReplyNs} {
				if v < 0 && v != capgen.Null {
					t.Errorf("%s: negative RTT %d", where, v)
				}
			}
			for _, r := range []capgen.RTT{f.OrigRTT, f.RespRTT} {
				if r.Samples == 0 && r != capgen.NoRTT {
					t.Errorf("%s: %+v: no samples must mean null statistics", where, r)
				}
				if r.Samples > 0 && !(0 <= r.MinNs && r.MinNs <= r.P50Ns && r.P50Ns <= r.MaxNs) {
					t.Errorf("%s: %+v: want 0 <= min <= p50 <= max", where, r)
				}
				if r.Samples == 1 && (r.MinNs != r.P50Ns || r.P50Ns != r.MaxNs) {
					t.Errorf("%s: %+v: one sample, three values", where, r)
				}
			}
			if f.Proto == "udp" {
				tcpOnly := []int64{f.OrigRetransPkts, f.RespRetransPkts, f.OrigRetransBytes, f.RespRetransBytes,
					f.MissedBytes, f.OutOfOrder, f.DupAcks, f.ZeroWindows}
				if slices.ContainsFunc(tcpOnly, func(v int64) bool { return v != 0 }) || hs ||
					f.OrigRTT != capgen.NoRTT || f.RespRTT != capgen.NoRTT {
					t.Errorf("%s: UDP flow with TCP-only values", where)
				}
			} else if f.RTTFirstReplyNs != capgen.Null {
				t.Errorf("%s: TCP flow with a UDP first-reply RTT", where)
			}
			if f.OrigRetransBytes > f.OrigBytes || f.RespRetransBytes > f.RespBytes {
				t.Errorf("%s: more retransmitted than sent", where)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, err := capgen.Files()
	if err != nil {
		t.Fatal(err)
	}
	b, err := capgen.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for name, data := range a {
		if sha256.Sum256(data) != sha256.Sum256(b[name]) {
			t.Errorf("%s: two generations differ", name)
		}
	}
}

// TestGoldenFiles keeps testdata/gen in step with the generator. Regenerate with
// `go test ./internal/capgen -run TestGoldenFiles -update` or
// `go run ./internal/capgen/cmd/capgen` from the module root.
func TestGoldenFiles(t *testing.T) {
	if *update {
		if _, err := capgen.WriteAll(genDir); err != nil {
			t.Fatal(err)
		}
	}
	files, err := capgen.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		got, err := os.ReadFile(filepath.Join(genDir, name))
		if err != nil {
			t.Errorf("%v (regenerate with -update)", err)
			continue
		}
		if !bytes.Equal(got, files[name]) {
			t.Errorf("%s differs from the generator (regenerate with -update)", name)
		}
	}
	entries, err := os.ReadDir(genDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("%s in %s is not generated by capgen", e.Name(), genDir)
		}
	}
}

// TestPcapLayout reads the pcap files back by hand: header fields, nanosecond
// timestamps and record lengths.
func TestPcapLayout(t *testing.T) {
	for _, c := range capgen.Cases() {
		var b bytes.Buffer
		if err := capgen.WritePcap(&b, c.Link.LinkType(), c.Packets); err != nil {
			t.Fatal(err)
		}
		data := b.Bytes()
		le := binary.LittleEndian
		if le.Uint32(data) != 0xa1b23c4d || le.Uint16(data[4:]) != 2 || le.Uint16(data[6:]) != 4 {
			t.Fatalf("%s: bad pcap header % x", c.Name, data[:8])
		}
		if lt := ingest.LinkType(le.Uint32(data[20:])); lt != c.Link.LinkType() {
			t.Errorf("%s: link type %d, want %d", c.Name, lt, c.Link.LinkType())
		}
		snap := le.Uint32(data[16:])
		off := 24
		for i, p := range c.Packets {
			sec, nsec := le.Uint32(data[off:]), le.Uint32(data[off+4:])
			incl, orig := le.Uint32(data[off+8:]), le.Uint32(data[off+12:])
			if int64(sec)*1e9+int64(nsec) != p.Time.UnixNano() || nsec >= 1e9 {
				t.Errorf("%s #%d: time %d.%09d, want %d", c.Name, i, sec, nsec, p.Time.UnixNano())
			}
			if int(incl) != len(p.Data) || int(orig) != p.Length || incl > snap {
				t.Errorf("%s #%d: lengths %d/%d (snaplen %d), want %d/%d", c.Name, i, incl, orig, snap, len(p.Data), p.Length)
			}
			if !bytes.Equal(data[off+16:off+16+int(incl)], p.Data) {
				t.Errorf("%s #%d: data differs", c.Name, i)
			}
			off += 16 + int(incl)
		}
		if off != len(data) {
			t.Errorf("%s: %d trailing bytes", c.Name, len(data)-off)
		}
	}
}

// TestPcapngLayout walks the pcapng blocks: SHB, IDB with if_tsresol 9, then one
// EPB per packet with 64-bit nanosecond timestamps.
func TestPcapngLayout(t *testing.T) {
	c := capgen.Cases()[0]
	var b bytes.Buffer
	if err := capgen.WritePcapng(&b, c.Link.LinkType(), c.Packets); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	le := binary.LittleEndian
	var types []uint32
	var epbs [][]byte
	for off := 0; off < len(data); {
		typ, n := le.Uint32(data[off:]), int(le.Uint32(data[off+4:]))
		if n%4 != 0 || off+n > len(data) || le.Uint32(data[off+n-4:]) != uint32(n) {
			t.Fatalf("bad block at %d: type %#x length %d", off, typ, n)
		}
		types = append(types, typ)
		if typ == 6 {
			epbs = append(epbs, data[off+8:off+n-4])
		}
		if typ == 1 && !bytes.Contains(data[off:off+n], []byte{9, 0, 1, 0, 9, 0, 0, 0}) {
			t.Errorf("IDB has no if_tsresol=9 option")
		}
		off += n
	}
	if len(types) < 2 || types[0] != 0x0A0D0D0A || types[1] != 1 {
		t.Fatalf("blocks %#x, want SHB, IDB, EPB...", types)
	}
	if len(epbs) != len(c.Packets) {
		t.Fatalf("%d EPBs for %d packets", len(epbs), len(c.Packets))
	}
	for i, e := range epbs {
		ts := int64(le.Uint32(e[4:]))<<32 | int64(le.Uint32(e[8:]))
		incl := int(le.Uint32(e[12:]))
		if ts != c.Packets[i].Time.UnixNano() || incl != len(c.Packets[i].Data) ||
			!bytes.Equal(e[20:20+incl], c.Packets[i].Data) {
			t.Errorf("EPB %d does not match packet %d", i, i)
		}
	}
}

func TestScriptErrorsPanic(t *testing.T) {
	cl := netip.MustParseAddrPort("192.0.2.1:1")
	for name, f := range map[string]func(){
		"time goes back": func() {
			c := capgen.NewTCP(cl, netip.MustParseAddrPort("192.0.2.2:2"), capgen.Options{})
			c.SYN(2)
			c.SYNACK(1)
		},
		"mixed families": func() { capgen.NewUDP(cl, netip.MustParseAddrPort("[2001:db8::2]:2"), capgen.Options{}) },
		"vlan on sll2": func() {
			capgen.NewUDP(cl, netip.MustParseAddrPort("192.0.2.2:2"), capgen.Options{Link: capgen.SLL2, VLAN: 5})
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

// TestDoubleGSOSpan: segments sent back to back make one super-packet at
// the sender's egress, and a segment sent later does not join it, though
// it follows on in sequence with an equal header: a super-packet holds what
// the kernel handed to the wire at once (about 1 ms of data at most). It
// once joined them whatever the time between (a keep-alive probe 5 s before
// the data after it, in pcapplusplus/one_tcp_stream.pcap), stamping data at
// a time before it was sent, beyond the fold's window.
func TestDoubleGSOSpan(t *testing.T) {
	c := capgen.NewTCP(netip.MustParseAddrPort("10.1.0.1:40000"), netip.MustParseAddrPort("10.1.0.2:80"), capgen.Options{Link: capgen.RawIP})
	c.SYN(0)
	c.SYNACK(100 * time.Microsecond)
	c.ACK(capgen.Orig, 200*time.Microsecond)
	c.Data(capgen.Orig, 300*time.Microsecond, 1000)
	c.Data(capgen.Orig, 310*time.Microsecond, 1000)
	c.Data(capgen.Orig, 5*time.Millisecond, 1000)
	v := capgen.Vantage{Local: []netip.Addr{netip.MustParseAddr("10.1.0.1")}, Delay: 20 * time.Microsecond, GSO: 4}
	_, doubled, err := capgen.Double(capgen.RawIP, c.Packets(), v)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, p := range doubled {
		// The sender's own data records (IPv4 without options, TTL 64).
		if n := len(p.Data) - 20 - int(p.Data[32]>>4)*4; p.Data[8] == 64 && n > 0 {
			sizes = append(sizes, n)
		}
	}
	if want := []int{2000, 1000}; !slices.Equal(sizes, want) {
		t.Errorf("sender's data records of %v bytes, want %v", sizes, want)
	}
}
