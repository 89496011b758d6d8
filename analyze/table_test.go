package analyze

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// pkt builds a decoded TCP or UDP packet between two fixed hosts.
func pkt(kind Kind, ts int64, fromClient bool, flags uint8, seq, ack uint32, payload int64) Decoded {
	d := Decoded{Kind: kind, TsNs: ts, VLAN: -1, IPVersion: 4, Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 80,
		Seq: seq, Ack: ack, Flags: flags, Window: 1000, Payload: payload, IPLen: 40 + payload, WireLen: 54 + payload}
	d.IPProto = ipProtoTCP
	if kind == KindUDP {
		d.IPProto = ipProtoUDP
		d.DstPort = 53
	}
	if !fromClient {
		d.Src, d.Dst, d.SrcPort, d.DstPort = d.Dst, d.Src, d.DstPort, d.SrcPort
	}
	return d
}

func collect(cfg Config, pkts []Decoded) ([]Record, *Table) {
	var out []Record
	t := NewTable(cfg, "t.pcap", 1, func(r *Record) { out = append(out, *r) })
	for i := range pkts {
		t.Add(&pkts[i], int64(i))
	}
	t.Flush()
	return out, t
}

func TestTableSplits(t *testing.T) {
	const s = int64(1e9)
	tests := []struct {
		name  string
		cfg   Config
		pkts  []Decoded
		flows []string // flow_id of each flow, in the order they end
	}{
		{"udp idle timeout", Config{}, []Decoded{
			pkt(KindUDP, 0, true, 0, 0, 0, 10),
			pkt(KindUDP, 60*s, true, 0, 0, 0, 10),  // exactly the timeout: same flow
			pkt(KindUDP, 121*s, true, 0, 0, 0, 10), // 61 s idle: a new flow
		}, []string{"1-1", "1-3"}},
		{"udp timeout flag", Config{UDPTimeoutNs: 5 * s}, []Decoded{
			pkt(KindUDP, 0, true, 0, 0, 0, 10),
			pkt(KindUDP, 6*s, true, 0, 0, 0, 10),
		}, []string{"1-1", "1-2"}},
		{"tcp port reuse with a new ISN", Config{}, []Decoded{
			pkt(KindTCP, 0, true, flagSYN, 100, 0, 0),
			pkt(KindTCP, 1e6, false, flagSYN|flagACK, 500, 101, 0),
			pkt(KindTCP, 2e6, true, flagSYN, 9000, 0, 0), // same tuple, new ISN, still open
		}, []string{"1-1", "1-3"}},
		{"retransmitted SYN stays", Config{}, []Decoded{
			pkt(KindTCP, 0, true, flagSYN, 100, 0, 0),
			pkt(KindTCP, 1*s, true, flagSYN, 100, 0, 0),
		}, []string{"1-1"}},
		{"closed linger", Config{}, []Decoded{
			pkt(KindTCP, 0, true, flagSYN, 100, 0, 0),
			pkt(KindTCP, 1e6, false, flagRST|flagACK, 0, 101, 0),
			pkt(KindTCP, 4*s, true, flagACK, 101, 1, 0),  // within 5 s of the RST: same flow
			pkt(KindTCP, 10*s, true, flagACK, 101, 1, 0), // 6 s after: a new flow
		}, []string{"1-1", "1-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := collect(tt.cfg, tt.pkts)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.FlowID)
			}
			if len(ids) != len(tt.flows) {
				t.Fatalf("flows %v, want %v", ids, tt.flows)
			}
			for i := range ids {
				if ids[i] != tt.flows[i] {
					t.Fatalf("flows %v, want %v", ids, tt.flows)
				}
			}
		})
	}
}

// TestTableMaxFlows: beyond MaxFlows the idlest flow ends early and is
// counted; the table never holds more.
func TestTableMaxFlows(t *testing.T) {
	var pkts []Decoded
	for i := range 10 {
		d := pkt(KindUDP, int64(i)*1e6, true, 0, 0, 0, 1)
		d.SrcPort = uint16(10000 + i)
		pkts = append(pkts, d)
	}
	// The first host speaks again: it is no longer the idlest.
	pkts = append(pkts, pkts[0])
	pkts[len(pkts)-1].TsNs = 20e6
	var live int
	var recs []Record
	tbl := NewTable(Config{MaxFlows: 3}, "t", 1, func(r *Record) { recs = append(recs, *r) })
	for i := range pkts {
		tbl.Add(&pkts[i], int64(i))
		live = max(live, tbl.live)
	}
	if live > 3 {
		t.Errorf("table held %d flows, cap 3", live)
	}
	if tbl.EvictedEarly() != 8 {
		t.Errorf("EvictedEarly = %d, want 8", tbl.EvictedEarly())
	}
	tbl.Flush()
	if len(recs) != 11 {
		t.Errorf("%d flows emitted, want 11 (port 10000 twice)", len(recs))
	}
}

// TestTableDirection: the originator rules.
func TestTableDirection(t *testing.T) {
	tests := []struct {
		name     string
		first    Decoded
		wantSrc  netip.AddrPort
		inferred bool
		history  string
	}{
		{"SYN sender", pkt(KindTCP, 0, true, flagSYN, 1, 0, 0), netip.AddrPortFrom(v4a, 40000), false, "S"},
		{"SYN/ACK receiver", pkt(KindTCP, 0, false, flagSYN|flagACK, 1, 2, 0), netip.AddrPortFrom(v4a, 40000), true, "^h"},
		{"mid-stream from the server port", pkt(KindTCP, 0, false, flagACK, 1, 2, 5), netip.AddrPortFrom(v4a, 40000), true, "^d"},
		{"mid-stream from the client", pkt(KindTCP, 0, true, flagACK, 1, 2, 5), netip.AddrPortFrom(v4a, 40000), true, "D"},
		{"udp reply first", pkt(KindUDP, 0, false, 0, 0, 0, 5), netip.AddrPortFrom(v4a, 40000), true, "^d"},
		{"udp request first", pkt(KindUDP, 0, true, 0, 0, 0, 5), netip.AddrPortFrom(v4a, 40000), false, "D"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := collect(Config{}, []Decoded{tt.first})
			r := got[0]
			if src := netip.AddrPortFrom(r.SrcIP, r.SrcPort); src != tt.wantSrc || r.DirectionInferred != tt.inferred || r.History != tt.history {
				t.Errorf("src %v inferred %v history %q, want %v %v %q", src, r.DirectionInferred, r.History, tt.wantSrc, tt.inferred, tt.history)
			}
		})
	}
}

// TestEndpointLE: endpointLE orders endpoints exactly as
// netip.AddrPort.Compare for same-family addresses, IPv4 and IPv6.
func TestEndpointLE(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	addr := func(v6 bool) netip.Addr {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.IntN(3)) // few values: many ties, so ports decide too
		}
		if v6 {
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	for i := range 100_000 {
		v6 := i%2 == 0
		a := netip.AddrPortFrom(addr(v6), uint16(r.IntN(3)))
		b := netip.AddrPortFrom(addr(v6), uint16(r.IntN(3)))
		ah, al := addrWords(a.Addr())
		bh, bl := addrWords(b.Addr())
		if got, want := endpointLE(ah, al, a.Port(), bh, bl, b.Port()), a.Compare(b) <= 0; got != want {
			t.Fatalf("endpointLE(%v, %v) = %v, AddrPort.Compare says %v", a, b, got, want)
		}
	}
}
