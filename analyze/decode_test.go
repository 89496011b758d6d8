package analyze

import (
	"cmp"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowproof/flowproof/ingest"
)

var (
	mac1 = net.HardwareAddr{0, 1, 2, 3, 4, 5}
	mac2 = net.HardwareAddr{0, 1, 2, 3, 4, 6}
	v4a  = netip.MustParseAddr("10.0.0.1")
	v4b  = netip.MustParseAddr("10.0.0.2")
	v6a  = netip.MustParseAddr("2001:db8::1")
	v6b  = netip.MustParseAddr("2001:db8::2")
)

// serialize builds a packet from layers with lengths and checksums fixed.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: v4a.AsSlice(), DstIP: v4b.AsSlice()}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: v6a.AsSlice(), DstIP: v6b.AsSlice()}
}

func tcpLayer(net gopacket.NetworkLayer) *layers.TCP {
	l := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, ACK: true, PSH: true, Window: 512, DataOffset: 5}
	l.SetNetworkLayerForChecksum(net)
	return l
}

func udpLayer(net gopacket.NetworkLayer) *layers.UDP {
	l := &layers.UDP{SrcPort: 53000, DstPort: 53}
	l.SetNetworkLayerForChecksum(net)
	return l
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: t}
}

func TestDecode(t *testing.T) {
	v4 := ip4(layers.IPProtocolTCP)
	tcpV4 := serialize(t, eth(layers.EthernetTypeIPv4), v4, tcpLayer(v4), gopacket.Payload(make([]byte, 100)))
	v6 := ip6(layers.IPProtocolTCP)
	tcpV6 := serialize(t, eth(layers.EthernetTypeIPv6), v6, tcpLayer(v6), gopacket.Payload(make([]byte, 10)))
	u4 := ip4(layers.IPProtocolUDP)
	udpV4 := serialize(t, eth(layers.EthernetTypeIPv4), u4, udpLayer(u4), gopacket.Payload(make([]byte, 30)))
	q4 := ip4(layers.IPProtocolTCP)
	qinq := serialize(t, eth(layers.EthernetTypeQinQ),
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}, q4, tcpLayer(q4))
	// IPv6 with hop-by-hop and destination options before TCP.
	e6 := ip6(layers.IPProtocolIPv6HopByHop)
	ext := serialize(t, eth(layers.EthernetTypeIPv6), e6, gopacket.Payload([]byte{
		byte(layers.IPProtocolIPv6Destination), 0, 1, 4, 0, 0, 0, 0, // hop-by-hop: PadN
		byte(layers.IPProtocolTCP), 0, 1, 4, 0, 0, 0, 0, // destination options: PadN
	}))
	tcpBehindExt := serialize(t, tcpLayer(e6), gopacket.Payload(make([]byte, 7)))
	ext = append(ext, tcpBehindExt...)
	binary.BigEndian.PutUint16(ext[14+4:], uint16(16+len(tcpBehindExt)))
	// An IPv4 fragment, an IPv6 non-atomic fragment and an atomic one.
	f4 := ip4(layers.IPProtocolTCP)
	f4.Flags = layers.IPv4MoreFragments
	frag4 := serialize(t, eth(layers.EthernetTypeIPv4), f4, gopacket.Payload(make([]byte, 40)))
	frag6 := serialize(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload([]byte{
		byte(layers.IPProtocolTCP), 0, 0, 1, 0, 0, 0, 7})) // M flag set
	a6 := ip6(layers.IPProtocolIPv6Fragment)
	atomic6 := serialize(t, eth(layers.EthernetTypeIPv6), a6, gopacket.Payload([]byte{
		byte(layers.IPProtocolTCP), 0, 0, 0, 0, 0, 0, 7}))
	atomic6 = append(atomic6, serialize(t, tcpLayer(a6))...)
	binary.BigEndian.PutUint16(atomic6[14+4:], 8+20)
	// IPv4 TSO: total length 0, the frame says 1500 bytes of payload.
	tso := append([]byte(nil), tcpV4...)
	binary.BigEndian.PutUint16(tso[14+2:], 0)
	// A frame shorter on the wire than its IP length claims (1 byte short).
	short := tcpV4[:len(tcpV4)-1]
	// A TCP header with data offset 15 (60 bytes) in a 40-byte segment.
	badOff := append([]byte(nil), serialize(t, eth(layers.EthernetTypeIPv4), q4, tcpLayer(q4))...)
	badOff[14+20+12] = 0xf0
	arp := serialize(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, SourceHwAddress: mac1, SourceProtAddress: v4a.AsSlice(), DstHwAddress: mac2, DstProtAddress: v4b.AsSlice()})
	icmp := serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
	raw4 := tcpV4[14:]
	raw6 := tcpV6[14:]
	sll2 := append([]byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 0, 1, 2, 3, 4, 5, 0, 0}, raw4...)
	sll := append([]byte{0, 4, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0, 0x08, 0x00}, raw4...)
	nullLE := append([]byte{2, 0, 0, 0}, raw4...)
	loopBE := append([]byte{0, 0, 0, 30}, raw6...)

	mpls := append([]byte{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x88, 0x47, 0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64}, raw4...) // two labels
	pppoe := append([]byte{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x88, 0x64, 0x11, 0, 0, 1, 0, byte(2 + 60), 0, 0x21}, raw4...)
	ppp := append([]byte{0xff, 0x03, 0x00, 0x21}, raw4...)
	pppCompressed := append([]byte{0x57}, raw6...) // protocol field compressed to one byte
	chdlc := append([]byte{0x0f, 0x00, 0x08, 0x00}, raw4...)
	nflog := []byte{2, 0, 0, 1, // IPv4, version 0, group 1
		8, 0, 1, 0, 0x08, 0x00, 3, 0, // a packet-header TLV (8 bytes)
		byte(4 + len(raw4)), 0, 9, 0} // the payload TLV
	nflog = append(nflog, raw4...)
	tests := []struct {
		name    string
		lt      ingest.LinkType
		data    []byte
		origLen int // 0: len(data)
		want    Decoded
	}{
		{"ethernet ipv4 tcp", ingest.LinkTypeEthernet, tcpV4, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"ethernet ipv6 tcp", ingest.LinkTypeEthernet, tcpV6, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 6,
			Src: v6a, Dst: v6b, SrcPort: 40000, DstPort: 80, IPLen: 70, Payload: 10, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"ethernet ipv4 udp", ingest.LinkTypeEthernet, udpV4, 0, Decoded{Kind: KindUDP, IPProto: 17, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 53000, DstPort: 53, IPLen: 58, Payload: 30}},
		{"qinq keeps the outer id", ingest.LinkTypeEthernet, qinq, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: 100, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 40, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"ipv6 extension headers", ingest.LinkTypeEthernet, ext, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 6,
			Src: v6a, Dst: v6b, SrcPort: 40000, DstPort: 80, IPLen: 40 + 16 + 27, Payload: 7, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"ipv4 fragment", ingest.LinkTypeEthernet, frag4, 0, Decoded{Kind: KindIPv4Fragment, IPProto: 6, VLAN: -1, IPVersion: 4, Src: v4a, Dst: v4b, IPLen: 60}},
		{"ipv6 fragment", ingest.LinkTypeEthernet, frag6, 0, Decoded{Kind: KindIPv6Fragment, IPProto: 6, VLAN: -1, IPVersion: 6, Src: v6a, Dst: v6b, IPLen: 48}},
		{"ipv6 atomic fragment", ingest.LinkTypeEthernet, atomic6, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 6,
			Src: v6a, Dst: v6b, SrcPort: 40000, DstPort: 80, IPLen: 68, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"ipv4 tso length 0", ingest.LinkTypeEthernet, tso[:80], 14 + 1500, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 1500, Payload: 1460, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"snaplen cut keeps ip length", ingest.LinkTypeEthernet, tcpV4[:54], len(tcpV4), Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"frame shorter than ip length", ingest.LinkTypeEthernet, short, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 99, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"impossible tcp data offset", ingest.LinkTypeEthernet, badOff, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 40, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512, BadHeader: true}},
		{"raw ipv4 (101)", ingest.LinkTypeRaw, raw4, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"raw ipv6 (229)", ingest.LinkTypeIPv6, raw6, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 6,
			Src: v6a, Dst: v6b, SrcPort: 40000, DstPort: 80, IPLen: 70, Payload: 10, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"linux sll2", ingest.LinkTypeLinuxSLL2, sll2, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"linux sll", ingest.LinkTypeLinuxSLL, sll, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"bsd null little-endian", ingest.LinkTypeNull, nullLE, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"openbsd loop ipv6", ingest.LinkTypeLoop, loopBE, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 6,
			Src: v6a, Dst: v6b, SrcPort: 40000, DstPort: 80, IPLen: 70, Payload: 10, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"mpls two labels", ingest.LinkTypeEthernet, mpls, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		// The PPPoE length says 62 bytes of PPP (2 of protocol, 60 of IP): the
		// IP packet claims 140, so only 60-40 = 20 bytes of payload count.
		{"pppoe length bounds the packet", ingest.LinkTypeEthernet, pppoe, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 20, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"ppp", ingest.LinkTypePPP, ppp, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"ppp compressed protocol ipv6", ingest.LinkTypePPP, pppCompressed, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 6,
			Src: v6a, Dst: v6b, SrcPort: 40000, DstPort: 80, IPLen: 70, Payload: 10, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"cisco hdlc", ingest.LinkTypeCHDLC, chdlc, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"nflog", ingest.LinkTypeNFLOG, nflog, 0, Decoded{Kind: KindTCP, IPProto: 6, VLAN: -1, IPVersion: 4,
			Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80, IPLen: 140, Payload: 100, Seq: 1000, Ack: 2000, Flags: flagACK | flagPSH, Window: 512}},
		{"nflog without a packet", ingest.LinkTypeNFLOG, nflog[:12], 0, Decoded{Kind: KindOtherEther, VLAN: -1}},
		{"arp", ingest.LinkTypeEthernet, arp, 0, Decoded{Kind: KindARP, VLAN: -1}},
		{"icmp", ingest.LinkTypeEthernet, icmp, 0, Decoded{Kind: KindICMP, IPProto: 1, VLAN: -1, IPVersion: 4, Src: v4a, Dst: v4b, IPLen: 28}},
		{"unsupported link type", ingest.LinkTypeIEEE80211, tcpV4, 0, Decoded{Kind: KindUnsupportedLT, VLAN: -1}},
		{"truncated ethernet", ingest.LinkTypeEthernet, tcpV4[:10], 0, Decoded{Kind: KindTruncated, VLAN: -1}},
		{"truncated tcp header", ingest.LinkTypeEthernet, tcpV4[:40], len(tcpV4), Decoded{Kind: KindTruncated, IPProto: 6, VLAN: -1, IPVersion: 4, Src: v4a, Dst: v4b, IPLen: 140}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.origLen
			if orig == 0 {
				orig = len(tt.data)
			}
			p := ingest.Packet{Data: tt.data, OrigLen: orig, Timestamp: 42, LinkType: tt.lt}
			var got Decoded
			Decode(&p, &got)
			tt.want.TsNs, tt.want.WireLen, tt.want.TunnelID = 42, int64(orig), -1
			got.frag = fragment{} // reassembly's bookkeeping: tested in reasm_test.go
			got.payloadCap = 0    // PayloadBytes's: tested in l7_test.go
			if (got.Fold != 0) != (got.Kind == KindTCP && !got.BadHeader || got.Kind == KindUDP) {
				t.Errorf("Fold = %#x for a %v packet", got.Fold, got.Kind)
			}
			if got.IPVersion != 0 && got.TTL != 64 {
				t.Errorf("TTL = %d, want 64", got.TTL)
			}
			got.Fold, got.TTL, got.foldPair = 0, 0, 0 // tested in dedup_test.go
			if got != tt.want {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestDecodeAllocs: the hot path allocates nothing per packet.
func TestDecodeAllocs(t *testing.T) {
	v6 := ip6(layers.IPProtocolTCP)
	data := serialize(t, eth(layers.EthernetTypeIPv6), v6, tcpLayer(v6), gopacket.Payload(make([]byte, 10)))
	p := ingest.Packet{Data: data, OrigLen: len(data), LinkType: ingest.LinkTypeEthernet}
	var d Decoded
	tbl := NewTable(Config{}, "x", 1, func(*Record) {})
	Decode(&p, &d)
	tbl.Add(&d, 0) // the first packet creates the flow
	if n := testing.AllocsPerRun(1000, func() {
		p.Timestamp += 1000
		Decode(&p, &d)
		tbl.Add(&d, 1)
	}); n != 0 {
		t.Errorf("Decode+Add allocate %.1f times per packet, want 0", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	v4 := ip4(layers.IPProtocolTCP)
	data := serialize(b, eth(layers.EthernetTypeIPv4), v4, tcpLayer(v4), gopacket.Payload(make([]byte, 100)))
	p := ingest.Packet{Data: data, OrigLen: len(data), LinkType: ingest.LinkTypeEthernet}
	var d Decoded
	b.ReportAllocs()
	for b.Loop() {
		Decode(&p, &d)
	}
}

// FuzzDecodeTable feeds arbitrary frames of every link type through the
// decoder and the flow table: nothing may panic, and every packet is counted.
func FuzzDecodeTable(f *testing.F) {
	v4 := ip4(layers.IPProtocolTCP)
	f.Add(uint16(1), serialize(f, eth(layers.EthernetTypeIPv4), v4, tcpLayer(v4), gopacket.Payload(make([]byte, 10))))
	v6 := ip6(layers.IPProtocolUDP)
	f.Add(uint16(229), serialize(f, v6, udpLayer(v6), gopacket.Payload(make([]byte, 3))))
	f.Add(uint16(276), make([]byte, 60))
	f.Add(uint16(239), []byte{2, 0, 0, 1, 8, 0, 1, 0, 8, 0, 3, 0, 24, 0, 9, 0, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6})
	f.Add(uint16(1), []byte{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x88, 0x64, 0x11, 0, 0, 1, 0, 22, 0, 0x21, 0x45})
	f.Add(uint16(1), []byte{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x88, 0x47, 0, 0, 0, 64, 0, 1, 0x01, 64, 0x60})
	f.Add(uint16(9), []byte{0xff, 0x03, 0x00, 0x57, 0x60})
	f.Add(uint16(101), append([]byte{0x45, 0, 0, 60, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xc3, 0x50, 0x12, 0xb5, 0, 40, 0, 0, 0x08, 0, 0, 0, 0, 0, 1, 0}, make([]byte, 20)...)) // VXLAN
	f.Add(uint16(101), append([]byte{0x45, 0, 0, 44, 0, 0, 0, 0, 64, 47, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x20, 0, 0x65, 0x58, 0, 0, 0, 9}, make([]byte, 16)...))                                // GRE key, Ethernet
	f.Add(uint16(101), append([]byte{0x45, 0, 0, 60, 0, 0, 0, 0, 64, 4, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6}, make([]byte, 30)...))                               // 4in4
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		var emitted int64
		tbl := NewTable(Config{MaxFlows: 4}, "fuzz", 1, func(*Record) { emitted++ })
		var ds [maxLayers]Decoded
		dec := newLayerDecoder(Config{})
		decoded := 0
		// The same bytes as several packets, so flows see more than one.
		for i := range 3 {
			p := ingest.Packet{Data: data, OrigLen: len(data) + i, Timestamp: int64(i) * 1e9, LinkType: ingest.LinkType(lt), Index: int64(i)}
			n := dec.decode(&p, ds[:])
			for j := range n {
				tbl.Add(&ds[j], p.Index)
			}
			decoded += n
		}
		tbl.Flush()
		var counted int64
		for _, n := range tbl.Kinds {
			counted += n
		}
		if counted != int64(decoded) {
			t.Fatalf("counted %d layers, decoded %d", counted, decoded)
		}
		if emitted != tbl.Flows() || tbl.live != 0 {
			t.Fatalf("emitted %d, Flows %d, live %d after Flush", emitted, tbl.Flows(), tbl.live)
		}
	})
}

// TestPayloadHashBytes: payloadHash reads every byte of a payload shorter
// than 32 bytes and the first and last 16 of a longer one, whatever its
// length, with the length itself in: a change there changes the hash.
func TestPayloadHashBytes(t *testing.T) {
	for n := range 80 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + 3)
		}
		h := payloadHash(b)
		if n > 0 && payloadHash(b[:n-1]) == h {
			t.Errorf("n=%d: one byte shorter, same hash", n)
		}
		for i := range b {
			b[i] ^= 0x40
			changed := payloadHash(b) != h
			b[i] ^= 0x40
			if sampled := i < payloadSample || i >= n-payloadSample; changed != sampled {
				t.Errorf("n=%d: byte %d changed: hash changed %v, want %v", n, i, changed, sampled)
			}
		}
	}
}

// BenchmarkDecodeRecorded decodes the first 64 MiB of `make bench`'s
// recorded capture as the reader hands it over: out of a 256 KiB buffer
// refilled by copy before each window, so packets are where read(2) puts
// them rather than each in its own allocation. fold is Decode; no-fold
// leaves the fingerprint out, as for a table with Config.NoDedup: the
// difference is what the vantage fold costs the decoder. It skips when the
// capture has not been recorded or is not a classic little-endian pcap.
func BenchmarkDecodeRecorded(b *testing.B) {
	raw, link := recordedPcap(b)
	buf := make([]byte, 256<<10)
	for _, fold := range []bool{true, false} {
		name := "fold"
		if !fold {
			name = "no-fold"
		}
		b.Run(name, func(b *testing.B) {
			var pkts int64
			for b.Loop() {
				pkts += decodeWindows(raw, link, buf, fold)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/packet")
		})
	}
}

// recordedPcap returns the records of the first 64 MiB of `make bench`'s
// recorded capture (after the file header) and its link type, or skips.
func recordedPcap(b *testing.B) ([]byte, ingest.LinkType) {
	f, err := os.Open(filepath.Join(cmp.Or(os.Getenv("FLOWPROOF_BENCH_DIR"), "/var/tmp/flowproof-bench"), "bench.pcap"))
	if err != nil {
		b.Skipf("no recorded bench capture (make bench records it): %v", err)
	}
	raw := make([]byte, 64<<20)
	n, _ := io.ReadFull(f, raw)
	f.Close()
	raw = raw[:n]
	if n < 24 || binary.LittleEndian.Uint32(raw) != 0xa1b2c3d4 && binary.LittleEndian.Uint32(raw) != 0xa1b23c4d {
		b.Skip("bench.pcap is not a classic little-endian pcap")
	}
	return raw[24:], ingest.LinkType(binary.LittleEndian.Uint32(raw[20:]))
}

// decodeWindows decodes the pcap records raw holds, copied window by
// window into buf as the reader does, with or without fingerprints, and
// returns how many it decoded.
func decodeWindows(raw []byte, link ingest.LinkType, buf []byte, fold bool) int64 {
	var d Decoded
	var pkts int64
	for off := 0; off+16 <= len(raw); {
		m := copy(buf, raw[off:])
		pos := 0
		for pos+16 <= m {
			incl := int(binary.LittleEndian.Uint32(buf[pos+8:]))
			if pos+16+incl > m {
				break
			}
			p := ingest.Packet{Data: buf[pos+16 : pos+16+incl], OrigLen: incl, LinkType: link}
			decodeFrame(&p, &d, fold)
			pkts++
			pos += 16 + incl
		}
		if pos == 0 {
			break // a record larger than the window: the rest is not decoded
		}
		off += pos
	}
	return pkts
}

// TestFingerprintBytes: a packet's fingerprint changes with every byte of
// its IP and transport headers but the TTL (hop limit) and the checksums,
// and with every sampled byte of what follows the fixed transport header
// (its first and last 16: all of it under 32 bytes), each byte flipped in
// turn, in IPv4 and IPv6, TCP (with options) and UDP packets of many
// payload lengths. Its referee is the layout of the headers, not the hash.
func TestFingerprintBytes(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, proto := range []layers.IPProtocol{layers.IPProtocolTCP, layers.IPProtocolUDP} {
			for _, n := range []int{0, 1, 5, 8, 12, 15, 16, 17, 24, 31, 32, 33, 60, 200} {
				var ip gopacket.SerializableLayer
				var net gopacket.NetworkLayer
				if v6 {
					l := ip6(proto)
					ip, net = l, l
				} else {
					l := ip4(proto)
					ip, net = l, l
				}
				payload := make([]byte, n)
				for i := range payload {
					payload[i] = byte(i*13 + 1)
				}
				var l4 gopacket.SerializableLayer = udpLayer(net)
				fixed, sum := 8, 6 // transport header length, checksum offset
				if proto == layers.IPProtocolTCP {
					tcp := tcpLayer(net)
					if n%2 == 1 {
						tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
							{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}
					}
					l4, fixed, sum = tcp, 20, 16
				}
				pkt := serialize(t, ip, l4, gopacket.Payload(payload))
				hdr, ttl := 20, 8
				if v6 {
					hdr, ttl = 40, 7
				}
				fold := func(b []byte) uint64 {
					var d Decoded
					Decode(&ingest.Packet{Data: b, OrigLen: len(b), LinkType: ingest.LinkTypeRaw}, &d)
					return d.Fold
				}
				want := fold(pkt)
				if want == 0 {
					t.Fatalf("v6=%v %v n=%d: no fingerprint", v6, proto, n)
				}
				rest := len(pkt) - hdr - fixed // options and payload
				for i := range pkt {
					ignored := i == ttl || !v6 && (i == 10 || i == 11) || i == hdr+sum || i == hdr+sum+1
					if r := i - hdr - fixed; r >= payloadSample && r < rest-payloadSample {
						ignored = true // not sampled
					}
					b := append([]byte(nil), pkt...)
					b[i] ^= 0x40
					if changed := fold(b) != want; changed == ignored {
						t.Errorf("v6=%v %v n=%d: byte %d flipped: fingerprint changed %v", v6, proto, n, i, changed)
					}
				}
			}
		}
	}
}

// TestRestHashInPlace: restHash of bytes in place ignores what comes
// before them, whatever their length: it equals payloadHash of the bytes
// alone, which TestPayloadHashBytes checks byte by byte.
func TestRestHashInPlace(t *testing.T) {
	for n := range 80 {
		b := make([]byte, 40+n)
		for i := range b {
			b[i] = byte(i*29 + 7)
		}
		for at := 0; at <= 40; at += 8 {
			p := b[40-at:]
			if len(p) < payloadSample {
				continue
			}
			if got, want := restHash(p, at), payloadHash(b[40:]); got != want {
				t.Errorf("n=%d after %d bytes: %#x, alone %#x", n, at, got, want)
			}
			p[0] ^= 0xff // before the rest: no change
			if got, want := restHash(p, at), payloadHash(b[40:]); at > 0 && got != want {
				t.Errorf("n=%d: a byte before the rest changed its hash", n)
			}
			p[0] ^= 0xff
		}
	}
	seen := map[uint64]int{}
	for n := range 40 {
		h := payloadHash(make([]byte, n))
		if m, ok := seen[h]; ok {
			t.Errorf("%d zero bytes hash as %d do", n, m)
		}
		seen[h] = n
	}
}
