package analyze

import (
	"net/netip"
	"strconv"
	"unsafe"

	"github.com/flowproof/flowproof/internal/prefault"
	"github.com/flowproof/flowproof/internal/prefetch"
)

// L7Factory is the optional application-layer hook of a Table
// (Config.L7). The table offers it the payload packets of each flow until
// it takes the flow (Open returns a non-nil L7Flow) or declines it for good;
// from then on every packet of the flow goes to that L7Flow, and End is
// called when the flow leaves the table. L7 state therefore lives only for
// flows the factory recognised, and only as long as they do.
//
// The table is single-threaded: a factory and its flows are called from the
// goroutine that calls Add.
type L7Factory interface {
	// Open is offered a packet carrying payload of a flow with no L7 state
	// yet; dir is 0 from the originator, 1 from the responder. It returns
	// the flow's L7 state, or nil and whether to keep offering the flow's
	// next payload packets (false: the flow is declined for good). info
	// and payload are only valid during the call: copy what is kept.
	Open(info *L7Info, dir int, d *Decoded, payload []byte) (f L7Flow, again bool)
}

// L7Flow is the L7 state of one flow.
type L7Flow interface {
	// Packet receives every packet of the flow from the one Open accepted
	// on (that one included); payload is its captured transport payload,
	// only valid during the call. After a packet with FIN, it may report
	// that the flow is finished: no later packet can change what it emits.
	// The table then ends its state (End) instead of keeping it until the
	// flow leaves the table, so that closed connections lingering in the
	// table hold no L7 memory. The packet Open accepted on is never
	// taken as the end.
	Packet(dir int, d *Decoded, payload []byte) (finished bool)
	// End is called once, when the flow leaves the table, or earlier
	// when Packet says the flow is finished.
	End()
}

// L7Info identifies the flow an L7Flow belongs to, as its flows.parquet
// row will: Orig is the originator, Resp the responder.
type L7Info struct {
	Ordinal    int   // the capture's ordinal, as NewTable got it
	FirstIndex int64 // 0-based capture index of the flow's first packet
	IPProto    uint8 // 6 TCP, 17 UDP
	Orig, Resp netip.AddrPort
	VLAN       int32 // -1 untagged
	Tunnel     Tunnel
	TunnelID   int64
	// Synthetic: the flow is Kubeshark's rebuilt TLS plaintext (its
	// Record's Synthetic, known from the handshake before any payload).
	Synthetic bool
}

// FlowID returns the flow's flow_id, as its Record has it.
func (i *L7Info) FlowID() string {
	var id [40]byte // one allocation, the string's
	return string(i.AppendFlowID(id[:0]))
}

// AppendFlowID appends the flow's flow_id to b (at most 40 bytes).
func (i *L7Info) AppendFlowID(b []byte) []byte {
	b = strconv.AppendInt(b, int64(i.Ordinal), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, i.FirstIndex+1, 10)
}

// l7Offers bounds how many payload packets of a flow are offered to the
// factory before the flow is declined: a flow joined mid-stream gets a few
// chances to show a message start, not the whole capture.
const l7Offers = 8

// l7Hook keeps the L7 state of live flows, in slabs indexed by flow id,
// not a field in flow: flows pay nothing in size when L7 is off, and a
// packet finds its state without hashing (24 bytes per flow id when it is
// on).
type l7Hook struct {
	factory L7Factory
	ordinal int
	states  l7States // by flow id; a zero state is a flow not yet offered
	info    L7Info   // given to Open; reused, so that it does not escape per call
}

// l7States holds the states by flow id in slabs that never move, all of
// storeSlab states (96 KiB): unlike the flow store's first slabs, which
// are smaller, a state's place is then a shift and a mask with no bounds
// to check, on every packet of a flow with L7 state.
type l7States []*[storeSlab]l7State

// find returns the state of id, or nil when cover never made room for it.
func (s l7States) find(id flowID) *l7State {
	if k := int(id >> storeShift); k < len(s) {
		return &s[k][id&storeMask]
	}
	return nil
}

// cover returns the state of id, adding the slabs up to its own. Their
// pages are backed at once (prefault), as the flow store's are.
func (s *l7States) cover(id flowID) *l7State {
	for len(*s) <= int(id>>storeShift) {
		slab := new([storeSlab]l7State)
		prefault.Write(unsafe.Pointer(slab), unsafe.Sizeof(*slab))
		*s = append(*s, slab)
	}
	return &(*s)[id>>storeShift][id&storeMask]
}

// reset lets go of every slab.
func (s *l7States) reset() { *s = nil }

type l7State struct {
	f      L7Flow // nil while undecided or declined
	offers uint8
	done   bool // declined
}

func newL7Hook(f L7Factory, ordinal int) *l7Hook {
	if f == nil {
		return nil
	}
	return &l7Hook{factory: f, ordinal: ordinal}
}

// packet gives a packet of flow id to its L7 state. Only a flow whose
// state holds an L7Flow (flL7Live) gets every packet; until then only
// payload decides, and a flow without payload never touches its state. A
// state is zeroed at its flow's first payload packet (flL7Seen), not when
// the previous flow of its id ended: a flow without an L7Flow then never
// touches its state at its end either.
func (h *l7Hook) packet(t *Table, id flowID, f *flow, dir int, d *Decoded, payload []byte) {
	if f.fl&flL7Live == 0 && len(payload) == 0 {
		// A handshake's answer (SYN/ACK): the flow's first payload follows,
		// and its state, untouched since its id's last flow ended long ago,
		// starts loading now instead of stalling that packet.
		if d.Flags&(flagSYN|flagACK) == flagSYN|flagACK && f.fl&flL7Seen == 0 {
			if s := h.states.find(id); s != nil {
				prefetch.Write(unsafe.Pointer(s), unsafe.Sizeof(*s))
			}
		}
		return
	}
	s := h.states.find(id) // slabs never move: s stays valid
	if s == nil {
		s = h.states.cover(id) // the first flow of a new slab
	}
	if f.fl&flL7Seen == 0 {
		*s = l7State{}
		f.fl |= flL7Seen
	}
	if s.f != nil {
		if s.f.Packet(dir, d, payload) {
			s.f.End()
			*s = l7State{done: true}
			f.fl &^= flL7Live
		}
		return
	}
	if s.done {
		return
	}
	// Field by field: a composite literal would be built aside and copied.
	i := &h.info
	i.Ordinal, i.FirstIndex, i.IPProto = h.ordinal, f.firstIndex, f.key.proto
	i.Orig = netip.AddrPortFrom(f.endpointAddr(f.origIsLo), f.endpointPort(f.origIsLo))
	i.Resp = netip.AddrPortFrom(f.endpointAddr(!f.origIsLo), f.endpointPort(!f.origIsLo))
	i.VLAN, i.Tunnel, i.TunnelID = f.key.vlan, f.key.tunnel, f.key.tunnelIDOf()
	// The handshake precedes the payload that opens L7 state.
	i.Synthetic = f.tcp != noFlow && t.conns.at(f.tcp).synthetic()
	lf, again := h.factory.Open(&h.info, dir, d, payload)
	s.offers++
	switch {
	case lf != nil:
		s.f = lf
		f.fl |= flL7Live
	case !again || s.offers >= l7Offers:
		s.done = true
	}
	// A declined flow keeps its state (done): it is not asked again.
	if lf != nil {
		lf.Packet(dir, d, payload)
	}
}

// end ends the L7Flow of flow id (flL7Live).
func (h *l7Hook) end(id flowID) {
	if s := h.states.find(id); s != nil {
		f := s.f
		*s = l7State{}
		if f != nil {
			f.End()
		}
	}
}

// PayloadBytes returns the captured transport payload of a TCP or UDP
// packet decoded from frame (the packet's Data), at most d.Payload bytes and
// possibly fewer (snaplen); nil for other packets and for datagrams rebuilt
// from fragments (their payload is not kept). It is what a caller feeding
// a Table with Config.L7 passes to AddPayload.
func (d *Decoded) PayloadBytes(frame []byte) []byte {
	if d.payloadCap <= 0 || d.Payload <= 0 || (d.Kind != KindTCP && d.Kind != KindUDP) {
		return nil
	}
	off := cap(frame) - d.payloadCap
	if off < 0 || off > len(frame) {
		return nil
	}
	b := frame[off:]
	if int64(len(b)) > d.Payload {
		b = b[:d.Payload]
	}
	return b
}
