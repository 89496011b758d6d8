package analyze

import (
	"encoding/binary"
	"io"
	"strconv"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowproof/flowproof/ingest"
)

// outerUDP wraps payload in Ethernet/IPv4/UDP from 192.0.2.1 to 192.0.2.2:dport.
func outerUDP(t *testing.T, dport uint16, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{192, 0, 2, 1}, DstIP: []byte{192, 0, 2, 2}}
	udp := &layers.UDP{SrcPort: 50000, DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth(layers.EthernetTypeIPv4), ip, udp, gopacket.Payload(payload))
}

// outerIP wraps payload in Ethernet/IPv4 with the given protocol.
func outerIP(t *testing.T, proto layers.IPProtocol, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: []byte{192, 0, 2, 1}, DstIP: []byte{192, 0, 2, 2}}
	return serialize(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(payload))
}

func TestDecodeTunnel(t *testing.T) {
	v4 := ip4(layers.IPProtocolTCP)
	innerEth := serialize(t, eth(layers.EthernetTypeIPv4), v4, tcpLayer(v4), gopacket.Payload(make([]byte, 100)))
	innerIP := innerEth[14:]
	v6 := ip6(layers.IPProtocolTCP)
	innerIP6 := serialize(t, v6, tcpLayer(v6), gopacket.Payload(make([]byte, 10)))

	vxlan := append([]byte{0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0}, innerEth...)
	geneve := append([]byte{0x02, 0, 0x65, 0x58, 0, 0, 0x07, 0, // one 8-byte option
		0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef}, innerEth...)
	greKeyTEB := append([]byte{0x20, 0, 0x65, 0x58, 0, 0, 0x01, 0x00}, innerEth...)
	greIP := append([]byte{0, 0, 0x08, 0x00}, innerIP...)
	grePPTP := append([]byte{0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1}, innerIP...)

	tests := []struct {
		name   string
		frame  []byte
		tunnel Tunnel
		id     int64
		inner  int // inner IP version, 0 for no tunnel
	}{
		{"vxlan", outerUDP(t, 4789, vxlan), TunnelVXLAN, 0x123456, 4},
		{"vxlan on the linux port", outerUDP(t, 8472, vxlan), TunnelVXLAN, 0x123456, 4},
		{"vxlan without the I flag", outerUDP(t, 4789, append([]byte{0, 0, 0, 0, 0, 0, 1, 0}, innerEth...)), TunnelNone, -1, 0},
		{"geneve with an option", outerUDP(t, 6081, geneve), TunnelGeneve, 7, 4},
		{"gre key, ethernet", outerIP(t, layers.IPProtocolGRE, greKeyTEB), TunnelGRE, 256, 4},
		{"gre ip", outerIP(t, layers.IPProtocolGRE, greIP), TunnelGRE, -1, 4},
		{"gre version 1 (pptp)", outerIP(t, layers.IPProtocolGRE, grePPTP), TunnelNone, -1, 0},
		{"4in4", outerIP(t, layers.IPProtocolIPv4, innerIP), TunnelIPIP, -1, 4},
		{"6in4", outerIP(t, layers.IPProtocolIPv6, innerIP6), TunnelIPIP, -1, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A VLAN tag on the outer frame, which the inner packet inherits.
			frame := append(append(append([]byte(nil), tt.frame[:12]...), 0x81, 0, 0, 42), tt.frame[12:]...)
			p := ingest.Packet{Data: frame, OrigLen: len(frame), LinkType: ingest.LinkTypeEthernet, Timestamp: 7}
			var outer, inner Decoded
			Decode(&p, &outer)
			opened := DecodeTunnel(&p, &outer, &inner)
			if opened != (tt.tunnel != TunnelNone) {
				t.Fatalf("DecodeTunnel = %v, want %v (outer %+v)", opened, tt.tunnel != TunnelNone, outer)
			}
			if !opened {
				return
			}
			if inner.Kind != KindTCP || int(inner.IPVersion) != tt.inner || inner.DstPort != 80 {
				t.Errorf("inner = %+v", inner)
			}
			if inner.Tunnel != tt.tunnel || inner.TunnelID != tt.id {
				t.Errorf("tunnel %v %d, want %v %d", inner.Tunnel, inner.TunnelID, tt.tunnel, tt.id)
			}
			if inner.WireLen != int64(len(frame)) || inner.VLAN != 42 {
				t.Errorf("inner wire length %d vlan %d, want %d and the outer 42", inner.WireLen, inner.VLAN, len(frame))
			}
		})
	}
}

// TestTunnelFlows: the carrier is a flow of its own, the inner connection a
// flow with tunnel columns, and the same inner 5-tuple in another VNI is
// another flow; --no-decap (Config.NoDecap) leaves only the carrier.
func TestTunnelFlows(t *testing.T) {
	v4 := ip4(layers.IPProtocolTCP)
	innerEth := serialize(t, eth(layers.EthernetTypeIPv4), v4, tcpLayer(v4), gopacket.Payload(make([]byte, 100)))
	vni := func(id uint32) []byte {
		h := []byte{0x08, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(h[4:], id<<8)
		return outerUDP(t, 4789, append(h, innerEth...))
	}
	frames := [][]byte{vni(100), vni(100), vni(200)}
	for _, noDecap := range []bool{false, true} {
		var recs []Record
		tbl := NewTable(Config{NoDecap: noDecap}, "t", 1, func(r *Record) { recs = append(recs, *r) })
		src := &sliceSource{}
		for i, f := range frames {
			src.pkts = append(src.pkts, ingest.Packet{Data: f, OrigLen: len(f), LinkType: ingest.LinkTypeEthernet, Timestamp: int64(i) * 1e6, Index: int64(i)})
		}
		if err := Run(src, tbl); err != nil {
			t.Fatal(err)
		}
		tbl.Flush()
		byTunnel := map[string]int64{}
		for _, r := range recs {
			byTunnel[r.Proto+" "+r.Tunnel+" "+itoa(r.TunnelID)] += r.OrigPkts + r.RespPkts
		}
		want := map[string]int64{"udp  null": 3, "tcp vxlan 100": 2, "tcp vxlan 200": 1}
		if noDecap {
			want = map[string]int64{"udp  null": 3}
		}
		if len(byTunnel) != len(want) {
			t.Fatalf("noDecap=%v: flows %v, want %v", noDecap, byTunnel, want)
		}
		for k, n := range want {
			if byTunnel[k] != n {
				t.Errorf("noDecap=%v: flows %v, want %v", noDecap, byTunnel, want)
			}
		}
	}
}

func itoa(o Opt) string {
	if !o.Valid {
		return "null"
	}
	return strconv.FormatInt(o.V, 10)
}

type sliceSource struct{ pkts []ingest.Packet }

func (s *sliceSource) Next(p *ingest.Packet) error {
	if len(s.pkts) == 0 {
		return io.EOF
	}
	*p, s.pkts = s.pkts[0], s.pkts[1:]
	return nil
}

// TestTunnelAllocs: opening a tunnel allocates nothing per packet either.
func TestTunnelAllocs(t *testing.T) {
	v4 := ip4(layers.IPProtocolTCP)
	inner := serialize(t, eth(layers.EthernetTypeIPv4), v4, tcpLayer(v4), gopacket.Payload(make([]byte, 100)))
	frame := outerUDP(t, 4789, append([]byte{0x08, 0, 0, 0, 0, 0, 7, 0}, inner...))
	p := ingest.Packet{Data: frame, OrigLen: len(frame), LinkType: ingest.LinkTypeEthernet}
	tbl := NewTable(Config{}, "x", 1, func(*Record) {})
	dec := newLayerDecoder(Config{})
	var ds [maxLayers]Decoded
	add := func() {
		p.Timestamp += 1000
		for i := range dec.decode(&p, ds[:]) {
			tbl.Add(&ds[i], 0)
		}
	}
	add() // the first packet creates the flows
	if n := testing.AllocsPerRun(1000, add); n != 0 {
		t.Errorf("a VXLAN packet allocates %.1f times, want 0", n)
	}
}
