package capgen

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Flags are TCP header flags.
type Flags uint8

const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
)

// Seg is one scripted TCP segment, for the cases the helper methods of TCP do
// not cover (explicit sequence or acknowledgement numbers, odd flag sets).
//
// Sequence and acknowledgement numbers are relative, like Wireshark's: 0 is the
// sender's ISN (its SYN), so the first payload byte is 1.
type Seg struct {
	Dir   Dir
	At    time.Duration // offset from Epoch
	Flags Flags         // sent exactly as given: nothing is added
	Len   int           // payload bytes
	// Payload is what the segment carries (len(Payload) bytes, Len
	// ignored); nil: Len bytes of deterministic filler.
	Payload []byte
	Seq     *uint32 // relative sequence number; nil: the sender's next one
	// Ack is the relative acknowledgement number (used when Flags has ACK); nil:
	// everything the sender has received in order from its peer.
	Ack *uint32
	// Lost: captured here but never delivered to the peer (lost downstream of
	// the capture point), so the peer does not acknowledge it.
	Lost bool
	// Unseen: delivered to the peer but not captured (capture loss). No packet is
	// written; the peer acknowledges the bytes.
	Unseen bool
}

// Rel returns a pointer to n, for Seg.Seq and Seg.Ack.
func Rel(n uint32) *uint32 { return &n }

// span is a half-open range of relative sequence space.
type span struct{ lo, hi uint32 }

type tcpEnd struct {
	isn uint32
	nxt uint32 // relative: one past the highest sequence number sent
	win uint16
	got []span // sequence space received from the peer (the peer's relative numbers)
}

// TCP scripts one TCP connection between a client (the originator, Orig) and a
// server (Resp). Methods append packets in call order; times must not go
// backwards. Script errors panic: scripts are fixed test tables.
type TCP struct {
	w    wire
	ends [2]tcpEnd
}

// NewTCP starts a TCP connection script. The client is the originator (Orig).
func NewTCP(client, server netip.AddrPort, opts Options) *TCP {
	c := &TCP{w: newWire(client, server, opts, layers.IPProtocolTCP)}
	c.ends[Orig].isn, c.ends[Resp].isn = opts.ClientISN, opts.ServerISN
	switch {
	case opts.ZeroISN:
		// Kubeshark's synthetic TLS plaintext twin: ISN 0, data from seq 1.
		c.ends[Orig].isn, c.ends[Resp].isn = 0, 0
	default:
		if c.ends[Orig].isn == 0 {
			c.ends[Orig].isn = DefaultClientISN
		}
		if c.ends[Resp].isn == 0 {
			c.ends[Resp].isn = DefaultServerISN
		}
	}
	win := opts.Window
	if win == 0 {
		win = DefaultWindow
	}
	c.ends[Orig].win, c.ends[Resp].win = win, win
	return c
}

// Packets returns the captured packets so far, in time order.
func (c *TCP) Packets() []Packet { return slices.Clone(c.w.pkts) }

// Established records that both SYNs were exchanged before the capture started
// (a mid-stream capture): data starts at relative sequence 1 and ACK flags are on.
func (c *TCP) Established() {
	for d := range c.ends {
		c.ends[d].nxt = max(c.ends[d].nxt, 1)
		c.ends[d].got = append(c.ends[d].got, span{0, 1})
	}
}

// ackFlag is ACK when dir has received anything from its peer, else 0.
func (c *TCP) ackFlag(dir Dir) Flags {
	if len(c.ends[dir].got) > 0 {
		return ACK
	}
	return 0
}

// SYN sends the client's SYN (relative sequence 0). Calling it again sends a
// retransmitted SYN with the same sequence number.
func (c *TCP) SYN(at time.Duration) { c.Send(Seg{Dir: Orig, At: at, Flags: SYN, Seq: Rel(0)}) }

// SYNACK sends the server's SYN+ACK.
func (c *TCP) SYNACK(at time.Duration) {
	c.Send(Seg{Dir: Resp, At: at, Flags: SYN | ACK, Seq: Rel(0)})
}

// ACK sends a pure ACK from dir.
func (c *TCP) ACK(dir Dir, at time.Duration) { c.Send(Seg{Dir: dir, At: at, Flags: ACK}) }

// Data sends n new payload bytes from dir (PSH+ACK).
func (c *TCP) Data(dir Dir, at time.Duration, n int) {
	c.Send(Seg{Dir: dir, At: at, Flags: PSH | c.ackFlag(dir), Len: n})
}

// DataBytes sends b as new payload from dir (PSH+ACK).
func (c *TCP) DataBytes(dir Dir, at time.Duration, b []byte) {
	c.Send(Seg{Dir: dir, At: at, Flags: PSH | c.ackFlag(dir), Payload: b})
}

// DataAt sends n payload bytes from dir at relative sequence seq, for example
// the earlier half of a pair that the network reordered.
func (c *TCP) DataAt(dir Dir, at time.Duration, seq uint32, n int) {
	c.Send(Seg{Dir: dir, At: at, Flags: PSH | c.ackFlag(dir), Len: n, Seq: Rel(seq)})
}

// Retransmit sends again n payload bytes from dir starting at relative sequence seq.
func (c *TCP) Retransmit(dir Dir, at time.Duration, seq uint32, n int) { c.DataAt(dir, at, seq, n) }

// Lost sends n new payload bytes from dir that are captured but never reach the peer.
func (c *TCP) Lost(dir Dir, at time.Duration, n int) {
	c.Send(Seg{Dir: dir, At: at, Flags: PSH | c.ackFlag(dir), Len: n, Lost: true})
}

// Skip makes dir send n new payload bytes that reach the peer but are missing
// from the capture (capture loss): no packet, and the peer acknowledges them.
func (c *TCP) Skip(dir Dir, n int) {
	c.Send(Seg{Dir: dir, At: c.w.last, Flags: PSH | ACK, Len: n, Unseen: true})
}

// FIN sends a FIN from dir (with ACK when dir has heard from its peer).
func (c *TCP) FIN(dir Dir, at time.Duration) {
	c.Send(Seg{Dir: dir, At: at, Flags: FIN | c.ackFlag(dir)})
}

// RST sends a RST from dir (with ACK when dir has heard from its peer).
func (c *TCP) RST(dir Dir, at time.Duration) {
	c.Send(Seg{Dir: dir, At: at, Flags: RST | c.ackFlag(dir)})
}

// Window sets the window dir advertises in its following packets.
func (c *TCP) Window(dir Dir, w uint16) { c.ends[dir].win = w }

// Send emits one segment exactly as described by s.
func (c *TCP) Send(s Seg) {
	if s.Dir > Resp {
		panic(fmt.Sprintf("capgen: bad direction %d", s.Dir))
	}
	if !s.Unseen {
		c.w.tick(s.At)
	}
	me, peer := &c.ends[s.Dir], &c.ends[s.Dir.peer()]
	seq := me.nxt
	if s.Seq != nil {
		seq = *s.Seq
	}
	ack := uint32(0)
	if s.Flags&ACK != 0 {
		ack = contiguous(me.got)
		if s.Ack != nil {
			ack = *s.Ack
		}
	}
	// Sequence space the segment occupies: SYN and FIN count one each; a RST's
	// payload (if any) is not stream data.
	if s.Payload != nil {
		s.Len = len(s.Payload)
	}
	occ := uint32(s.Len)
	if s.Flags&RST != 0 {
		occ = 0
	}
	if s.Flags&SYN != 0 {
		occ++
	}
	if s.Flags&FIN != 0 {
		occ++
	}
	me.nxt = max(me.nxt, seq+occ)
	if !s.Lost && occ > 0 {
		peer.got = append(peer.got, span{seq, seq + occ})
	}
	if s.Unseen {
		return
	}
	t := &layers.TCP{
		SrcPort: layers.TCPPort(c.w.addr[s.Dir].Port()),
		DstPort: layers.TCPPort(c.w.addr[s.Dir.peer()].Port()),
		Seq:     me.isn + seq,
		FIN:     s.Flags&FIN != 0,
		SYN:     s.Flags&SYN != 0,
		RST:     s.Flags&RST != 0,
		PSH:     s.Flags&PSH != 0,
		ACK:     s.Flags&ACK != 0,
		Window:  me.win,
	}
	if t.ACK {
		t.Ack = peer.isn + ack
	}
	if t.SYN {
		// An MSS option, as every real SYN carries: the TCP header is 24 bytes, so
		// payload must be derived from the data offset, not assumed.
		t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
	}
	payload := s.Payload
	if payload == nil {
		payload = fill(s.Len)
	}
	c.w.emit(s.Dir, s.At, t, payload)
}

// contiguous returns the end of the in-order prefix of got, starting at 0.
func contiguous(got []span) uint32 {
	s := slices.Clone(got)
	slices.SortFunc(s, func(a, b span) int { return int(int64(a.lo) - int64(b.lo)) })
	hi := uint32(0)
	for _, r := range s {
		if r.lo > hi {
			break
		}
		hi = max(hi, r.hi)
	}
	return hi
}

// UDP scripts the datagrams between a client (Orig) and a server (Resp).
type UDP struct{ w wire }

// NewUDP starts a UDP conversation script. The client is the originator (Orig).
func NewUDP(client, server netip.AddrPort, opts Options) *UDP {
	return &UDP{w: newWire(client, server, opts, layers.IPProtocolUDP)}
}

// Send emits one datagram of n filler payload bytes from dir.
func (u *UDP) Send(dir Dir, at time.Duration, n int) { u.SendPayload(dir, at, fill(n)) }

// SendPayload emits one datagram carrying payload from dir.
func (u *UDP) SendPayload(dir Dir, at time.Duration, payload []byte) {
	u.w.tick(at)
	udp := &layers.UDP{
		SrcPort: layers.UDPPort(u.w.addr[dir].Port()),
		DstPort: layers.UDPPort(u.w.addr[dir.peer()].Port()),
	}
	u.w.emit(dir, at, udp, payload)
}

// Packets returns the captured packets so far, in time order.
func (u *UDP) Packets() []Packet { return slices.Clone(u.w.pkts) }
