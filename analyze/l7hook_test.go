package analyze

import "testing"

// byFirstByte takes a flow whose first payload starts with 'T' and declines
// one starting with 'D' for good; its flows count their calls.
type byFirstByte struct {
	offers map[int64]int // by the flow's first packet index
	flows  []*countingFlow
}

type countingFlow struct {
	packets, ended int
	fins           [2]bool
}

func (b *byFirstByte) Open(info *L7Info, _ int, _ *Decoded, payload []byte) (L7Flow, bool) {
	b.offers[info.FirstIndex]++
	if payload[0] != 'T' {
		return nil, payload[0] != 'D'
	}
	f := &countingFlow{}
	b.flows = append(b.flows, f)
	return f, false
}

func (f *countingFlow) Packet(dir int, d *Decoded, _ []byte) bool {
	f.packets++
	if d.Flags&flagFIN == 0 {
		return false
	}
	f.fins[dir] = true
	return f.fins[0] && f.fins[1]
}

func (f *countingFlow) End() { f.ended++ }

// TestL7HookStates: a flow gets a fresh L7 state even when its flow id was
// a declined flow's (the state is zeroed at the flow's first payload, not
// at the end of the id's last flow); a flow whose L7Flow finished early
// is not ended again when it leaves the table; packets without payload do
// not decide.
func TestL7HookStates(t *testing.T) {
	b := &byFirstByte{offers: map[int64]int{}}
	tbl := NewTable(Config{L7: b}, "t.pcap", 1, func(*Record) {})
	var index int64
	add := func(d Decoded, payload string) {
		tbl.AddPayload(&d, index, []byte(payload))
		index++
	}
	udp := func(ts int64, port uint16, payload string) {
		d := pkt(KindUDP, ts, true, 0, 0, 0, int64(len(payload)))
		d.SrcPort = port
		add(d, payload)
	}
	udp(0, 1000, "D")   // index 0: declined for good
	udp(1e6, 1000, "T") // not offered again
	// 2 minutes on, flow 0 has been idle past the UDP timeout: the sweep
	// ends it before the next packet, whose new flow takes its id.
	udp(120e9, 1001, "T") // index 2: taken
	udp(121e9, 1001, "x")

	// A TCP connection taken at its first payload, finished by its FINs.
	tcp := []Decoded{
		pkt(KindTCP, 122e9, true, flagSYN, 100, 0, 0),
		pkt(KindTCP, 122e9+1e6, false, flagSYN|flagACK, 500, 101, 0),
		pkt(KindTCP, 122e9+2e6, true, flagACK, 101, 501, 0),
		pkt(KindTCP, 122e9+3e6, true, flagACK|flagPSH, 101, 501, 1),
		pkt(KindTCP, 122e9+4e6, false, flagACK|flagFIN, 501, 102, 0),
		pkt(KindTCP, 122e9+5e6, true, flagACK|flagFIN, 102, 502, 0),
		pkt(KindTCP, 122e9+6e6, false, flagACK, 502, 103, 0),
	}
	for i, d := range tcp {
		add(d, map[bool]string{true: "T"}[i == 3])
	}
	tbl.Flush()

	if want := map[int64]int{0: 1, 2: 1, 4: 1}; len(b.offers) != len(want) || b.offers[0] != 1 || b.offers[2] != 1 || b.offers[4] != 1 {
		t.Errorf("offers by first packet index = %v, want %v", b.offers, want)
	}
	if len(b.flows) != 2 {
		t.Fatalf("flows taken = %d, want 2", len(b.flows))
	}
	if u := b.flows[0]; u.packets != 2 || u.ended != 1 {
		t.Errorf("UDP flow: %d packets, ended %d times; want 2 and 1", u.packets, u.ended)
	}
	// From the payload packet on: the payload, both FINs; the last ACK
	// comes after End.
	if c := b.flows[1]; c.packets != 3 || c.ended != 1 {
		t.Errorf("TCP flow: %d packets, ended %d times; want 3 and 1", c.packets, c.ended)
	}
}
