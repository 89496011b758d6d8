package analyze

import (
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowproof/flowproof/ingest"
)

// fragments splits a UDP datagram of n payload bytes into IPv4 fragments at
// the given payload offsets (multiples of 8), as Ethernet frames.
func fragments(t *testing.T, id uint16, n int, cuts ...int) [][]byte {
	t.Helper()
	u4 := ip4(layers.IPProtocolUDP)
	whole := serialize(t, u4, udpLayer(u4), gopacket.Payload(make([]byte, n)))[20:] // UDP header + payload
	bounds := append(append([]int{0}, cuts...), len(whole))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		ip := ip4(layers.IPProtocolUDP)
		ip.Id, ip.FragOffset = id, uint16(bounds[i]/8)
		if i+2 < len(bounds) {
			ip.Flags = layers.IPv4MoreFragments
		}
		out = append(out, serialize(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(whole[bounds[i]:bounds[i+1]])))
	}
	return out
}

func TestReassembly(t *testing.T) {
	tests := []struct {
		name    string
		frames  func(t *testing.T) [][]byte
		gapNs   int64 // between frames
		payload int64 // of the reassembled datagram, -1 for none
		stats   fragStats
	}{
		{"in order", func(t *testing.T) [][]byte { return fragments(t, 1, 3000, 1480, 2960) }, 1e6, 3000,
			fragStats{reassembled: 1}},
		{"last first", func(t *testing.T) [][]byte {
			f := fragments(t, 2, 3000, 1480, 2960)
			return [][]byte{f[2], f[0], f[1]}
		}, 1e6, 3000, fragStats{reassembled: 1}},
		{"tiny first fragment splits the header", func(t *testing.T) [][]byte { return fragments(t, 3, 100, 8) }, 1e6, 100,
			fragStats{reassembled: 1}},
		{"overlap", func(t *testing.T) [][]byte {
			f := fragments(t, 4, 3000, 1480, 2960)
			return [][]byte{f[0], f[0], f[1], f[2]}
		}, 1e6, 3000, fragStats{reassembled: 1, overlapping: 1}},
		{"a piece never comes", func(t *testing.T) [][]byte {
			f := fragments(t, 5, 3000, 1480, 2960)
			return [][]byte{f[0], f[2]}
		}, 1e6, -1, fragStats{}},
		{"too late", func(t *testing.T) [][]byte { return fragments(t, 6, 3000, 1480) }, DefaultFragTimeoutNs + 1, -1,
			fragStats{timedOut: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := newLayerDecoder(Config{})
			var ds [maxLayers]Decoded
			var got []Decoded
			for i, f := range tt.frames(t) {
				p := ingest.Packet{Data: f, OrigLen: len(f), LinkType: ingest.LinkTypeEthernet, Timestamp: int64(i) * tt.gapNs}
				n := dec.decode(&p, ds[:])
				for j := 1; j < n; j++ {
					got = append(got, ds[j])
				}
			}
			if tt.payload < 0 {
				if len(got) != 0 {
					t.Fatalf("reassembled %+v, want nothing", got)
				}
			} else if len(got) != 1 || got[0].Kind != KindUDP || got[0].Payload != tt.payload || got[0].DstPort != 53 {
				t.Fatalf("reassembled %+v, want one UDP datagram of %d bytes to port 53", got, tt.payload)
			}
			if st := dec.fragStats(); st != tt.stats {
				t.Errorf("stats %+v, want %+v", st, tt.stats)
			}
		})
	}
}

// TestReassemblyBounds: the datagrams in flight are capped, hostile offsets
// are refused, and memory does not keep payload bytes.
func TestReassemblyBounds(t *testing.T) {
	dec := newLayerDecoder(Config{MaxFragDatagrams: 10})
	var ds [maxLayers]Decoded
	for id := range 100 {
		f := fragments(t, uint16(id), 3000, 1480)[0] // first pieces only
		p := ingest.Packet{Data: f, OrigLen: len(f), LinkType: ingest.LinkTypeEthernet}
		dec.decode(&p, ds[:])
	}
	if n := len(dec.reasm.pending); n > 10 {
		t.Errorf("%d datagrams pending, cap 10", n)
	}
	if st := dec.fragStats(); st.dropped != 90 {
		t.Errorf("dropped %d, want 90", st.dropped)
	}
	// An offset of 65528 with 100 bytes runs past any datagram.
	ip := ip4(layers.IPProtocolUDP)
	ip.FragOffset = 65528 / 8
	f := serialize(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(make([]byte, 100)))
	p := ingest.Packet{Data: f, OrigLen: len(f), LinkType: ingest.LinkTypeEthernet}
	dec.decode(&p, ds[:])
	if st := dec.fragStats(); st.dropped != 91 {
		t.Errorf("hostile offset: dropped %d, want 91", st.dropped)
	}
}

// TestReassemblyVantageCopies: fragmented datagrams recorded at two vantage
// points (every piece again, TTL one lower, 20 µs later) are rebuilt once
// per vantage point, with no piece taken as an overlap, and each pair is
// folded: the flow is the single recording's, with the transit put in.
func TestReassemblyVantageCopies(t *testing.T) {
	var single, doubled []ingest.Packet
	at := int64(1e9)
	for id := range 3 {
		for _, f := range fragments(t, uint16(10+id), 3000, 1480, 2960) {
			p := ingest.Packet{Data: f, OrigLen: len(f), LinkType: ingest.LinkTypeEthernet, Timestamp: at}
			c := slices.Clone(f)
			c[14+8]-- // the TTL (the header checksum is not checked)
			single = append(single, p)
			doubled = append(doubled, p, ingest.Packet{Data: c, OrigLen: len(c), LinkType: ingest.LinkTypeEthernet, Timestamp: at + 20_000})
			at += 1_000_000
		}
	}
	analyzeFrames := func(cfg Config, pkts []ingest.Packet) ([]Record, *Table) {
		for i := range pkts {
			pkts[i].Index = int64(i)
		}
		var got []Record
		tbl := NewTable(cfg, "frags.pcap", 1, func(r *Record) { got = append(got, *r) })
		if err := Run(&sliceSource{pkts: slices.Clone(pkts)}, tbl); err != nil {
			t.Fatal(err)
		}
		tbl.Flush()
		return got, tbl
	}
	want, _ := analyzeFrames(Config{}, single)
	got, tbl := analyzeFrames(Config{}, doubled)
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("%d flows from the doubled capture, %d from the single one; want 1", len(got), len(want))
	}
	g, w := got[0], want[0]
	if g.OrigPkts != w.OrigPkts || g.OrigBytes != w.OrigBytes || g.OrigIPBytes != w.OrigIPBytes || g.TsNs != w.TsNs || g.EndNs != w.EndNs {
		t.Errorf("doubled: %d packets, %d bytes, %d IP bytes, %d..%d; single: %d, %d, %d, %d..%d",
			g.OrigPkts, g.OrigBytes, g.OrigIPBytes, g.TsNs, g.EndNs, w.OrigPkts, w.OrigBytes, w.OrigIPBytes, w.TsNs, w.EndNs)
	}
	if g.DupPkts != 3 || g.Vantages != 2 || g.OrigTransitP50Ns != (Opt{V: 20_000, Valid: true}) || tbl.DupFolded != 3 {
		t.Errorf("dup_pkts %d, vantages %d, transit %+v, folded %d; want 3, 2, 20000, 3", g.DupPkts, g.Vantages, g.OrigTransitP50Ns, tbl.DupFolded)
	}
	if tbl.frags != (fragStats{reassembled: 6}) {
		t.Errorf("reassembly %+v, want 6 datagrams rebuilt and nothing else", tbl.frags)
	}
	// Without folding each vantage point's datagram counts.
	nd, _ := analyzeFrames(Config{NoDedup: true}, doubled)
	if len(nd) != 1 || nd[0].OrigPkts != 2*w.OrigPkts {
		t.Errorf("--no-dedup: %+v", nd)
	}
}
