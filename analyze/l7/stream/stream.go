package stream

// Sink receives one direction's bytes in sequence order.
type Sink interface {
	// Data gets the next contiguous bytes; tsNs is the capture time of the
	// packet that made them contiguous (the one carrying them, or, for
	// bytes that waited for a hole to fill, the one that filled it). b is
	// only valid during the call.
	Data(b []byte, tsNs int64)
	// Gap says n bytes of the stream were never captured: the next Data
	// starts n bytes after the last one ended.
	Gap(n int64, tsNs int64)
}

// Limits bound what a direction holds back. The zero value of a field
// means its default.
type Limits struct {
	MaxSegments int   // out-of-order segments held per direction (default 64)
	MaxBytes    int   // out-of-order bytes held per direction (default 256 KiB)
	MaxTotal    int64 // out-of-order bytes held by all directions sharing a Budget (default 64 MiB)
}

// Default limits.
const (
	DefaultMaxSegments = 64
	DefaultMaxBytes    = 256 << 10
	DefaultMaxTotal    = 64 << 20
)

// maxAhead is the furthest (in sequence numbers) a segment may start past
// the next expected byte and still be held for the hole to fill; a segment
// further ahead declares the hole a gap at once.
const maxAhead = 1 << 24

func (l Limits) withDefaults() Limits {
	if l.MaxSegments <= 0 {
		l.MaxSegments = DefaultMaxSegments
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = DefaultMaxTotal
	}
	return l
}

// Stats counts what reassembly did, over every direction that shares it.
type Stats struct {
	Segments      int64 // segments with payload received
	Bytes         int64 // bytes delivered in order
	Retransmitted int64 // bytes received again (dropped)
	OutOfOrder    int64 // segments held for a hole to fill
	Gaps          int64 // holes declared lost
	GapBytes      int64 // their bytes
	CapHits       int64 // times a limit forced held segments out early (each also a gap)
}

// Budget is shared by every direction of a run: held bytes in total, the
// limits and the counters.
type Budget struct {
	Limits Limits
	Stats  Stats
	held   int64
}

// NewBudget returns a budget with the limits l (zero fields: defaults).
func NewBudget(l Limits) *Budget { return &Budget{Limits: l.withDefaults()} }

// Held returns the out-of-order bytes held now by all directions.
func (b *Budget) Held() int64 { return b.held }

type segment struct {
	seq     uint32
	data    []byte // a copy
	missing int    // bytes of the segment beyond data that the capture cut (snaplen)
	tsNs    int64  // when it was captured
}

func (s *segment) end() uint32 { return s.seq + uint32(len(s.data)+s.missing) }

// Dir reassembles one direction of a TCP connection. Its zero value is not
// usable: make it with NewDir or Init.
type Dir struct {
	sink    Sink
	budget  *Budget
	next    uint32 // sequence number of the next byte to deliver
	started bool
	held    []segment // out of order, sorted by seq
	heldLen int
	maxAck  uint32 // highest ACK from the peer, when acked
	acked   bool
	finAt   uint32 // sequence number of the FIN, when finSet
	finSet  bool
	closed  bool
}

// Fin tells the direction its FIN took sequence number seq (the segment's
// seq plus its length).
func (d *Dir) Fin(seq uint32) {
	if !d.finSet {
		d.finAt, d.finSet = seq, true
	}
}

// Finished reports whether every byte up to the direction's FIN has been
// delivered: nothing is held and nothing more can come.
func (d *Dir) Finished() bool {
	return d.finSet && d.started && d.next == d.finAt && len(d.held) == 0
}

// NewDir returns a direction delivering to sink and holding bytes against b.
func NewDir(sink Sink, b *Budget) *Dir {
	d := new(Dir)
	d.Init(sink, b)
	return d
}

// Init makes d a new direction, as NewDir does, for a Dir held by value.
func (d *Dir) Init(sink Sink, b *Budget) { *d = Dir{sink: sink, budget: b} }

// Start sets the sequence number of the direction's first byte, when known
// (SYN+1, or the peer's ACK). Without it, the first segment sets it.
func (d *Dir) Start(seq uint32) {
	if !d.started {
		d.next, d.started = seq, true
	}
}

// Started reports whether the direction knows its next sequence number.
func (d *Dir) Started() bool { return d.started }

// Segment takes a segment of segLen bytes starting at seq, of which data
// (possibly shorter: snaplen) was captured.
func (d *Dir) Segment(seq uint32, data []byte, segLen int, tsNs int64) {
	if d.closed || segLen <= 0 {
		return
	}
	if len(data) > segLen {
		data = data[:segLen]
	}
	d.budget.Stats.Segments++
	d.Start(seq)
	ahead := int32(seq - d.next)
	if ahead == 0 && len(data) == segLen && len(d.held) == 0 {
		// The next bytes, whole, and nothing held: deliver's common case,
		// without its call (a separate function's code was cold at every
		// segment).
		d.push(data, tsNs)
		return
	}
	s := segment{seq: seq, data: data, missing: segLen - len(data), tsNs: tsNs}
	switch {
	case ahead <= 0:
		d.deliver(s, tsNs)
		d.drain(tsNs)
	case ahead > maxAhead:
		d.gap(int64(ahead), tsNs)
		d.deliver(s, tsNs)
		d.drain(tsNs)
	default:
		d.hold(s, tsNs)
	}
}

// Ack tells the direction its peer acknowledged every byte before ack.
// The receiver then had bytes the capture missed: a hole before held data
// that ack covers is declared a gap now (the data behind it can go on);
// without held data, the hole is declared only at Close, so that an ACK
// captured ahead of its data (merged interfaces) loses nothing.
func (d *Dir) Ack(ack uint32, tsNs int64) {
	// An ACK that says nothing new, with nothing held, as most do: that
	// test, inlined, spares the call.
	if d.acked && int32(ack-d.maxAck) <= 0 && len(d.held) == 0 {
		return
	}
	d.ack(ack)
}

func (d *Dir) ack(ack uint32) {
	if d.closed || !d.started {
		return
	}
	if !d.acked || int32(ack-d.maxAck) > 0 {
		d.maxAck, d.acked = ack, true
	}
	for len(d.held) > 0 && int32(d.held[0].seq-ack) < 0 {
		d.gap(int64(int32(d.held[0].seq-d.next)), d.held[0].tsNs)
		d.drain(0)
	}
}

// Close delivers what is held, holes declared gaps, and ends the direction;
// bytes the peer acknowledged past the last one captured are a gap too.
func (d *Dir) Close(tsNs int64) {
	if d.closed {
		return
	}
	if len(d.held) > 0 {
		d.flush(tsNs)
	}
	end := d.maxAck
	if d.finSet && int32(end-d.finAt) > 0 {
		end = d.finAt // the FIN takes a sequence number, not a byte
	}
	if d.acked && int32(end-d.next) > 0 && int32(end-d.next) <= maxAhead {
		d.gap(int64(int32(end-d.next)), tsNs)
	}
	d.closed = true
}

func (d *Dir) hold(s segment, tsNs int64) {
	l := d.budget.Limits
	if len(d.held) >= l.MaxSegments || d.heldLen+len(s.data) > l.MaxBytes || d.budget.held+int64(len(s.data)) > l.MaxTotal {
		// Full: what is held goes out now, holes as gaps, then s.
		d.budget.Stats.CapHits++
		d.flush(tsNs)
		d.gap(int64(int32(s.seq-d.next)), tsNs)
		d.deliver(s, tsNs)
		return
	}
	d.budget.Stats.OutOfOrder++
	s.data = append([]byte(nil), s.data...)
	i := len(d.held)
	for i > 0 && int32(d.held[i-1].seq-s.seq) > 0 {
		i--
	}
	d.held = append(d.held, segment{})
	copy(d.held[i+1:], d.held[i:])
	d.held[i] = s
	d.heldLen += len(s.data)
	d.budget.held += int64(len(s.data))
}

// flush delivers every held segment in order, holes between as gaps.
func (d *Dir) flush(tsNs int64) {
	for len(d.held) > 0 {
		if ahead := int32(d.held[0].seq - d.next); ahead > 0 {
			// The bytes after the hole came at held[0].tsNs: the hole
			// was there by then.
			d.gap(int64(ahead), d.held[0].tsNs)
		}
		d.drain(0)
	}
}

// drain delivers the held segments that now start at or before next. A
// packet that filled the hole (at fillNs) completes them; after a hole
// declared lost (fillNs 0) nothing did, and they are as complete as when
// they arrived: each goes out at the latest capture time among it and
// those before it, as a dissector that gave up on the hole would see it.
func (d *Dir) drain(fillNs int64) {
	tsNs := fillNs
	for len(d.held) > 0 && int32(d.held[0].seq-d.next) <= 0 {
		s := d.held[0]
		d.held[0] = segment{}
		d.held = d.held[1:]
		d.heldLen -= len(s.data)
		d.budget.held -= int64(len(s.data))
		if fillNs == 0 {
			tsNs = max(tsNs, s.tsNs)
		}
		d.deliver(s, tsNs)
	}
	if len(d.held) == 0 {
		d.held = d.held[:0:0] // let the copies go
	}
}

// deliver passes on the part of s at or after next.
func (d *Dir) deliver(s segment, tsNs int64) {
	if over := int32(d.next - s.seq); over > 0 {
		total := len(s.data) + s.missing
		if int(over) >= total {
			d.budget.Stats.Retransmitted += int64(total)
			return
		}
		d.budget.Stats.Retransmitted += int64(over)
		if int(over) <= len(s.data) {
			s.data = s.data[over:]
		} else {
			s.missing -= int(over) - len(s.data)
			s.data = nil
		}
	}
	if len(s.data) > 0 {
		d.push(s.data, tsNs)
	}
	if s.missing > 0 {
		d.gap(int64(s.missing), tsNs)
	}
}

// push hands the next bytes to the sink (small enough to be inlined in
// Segment's fast path and in deliver).
func (d *Dir) push(b []byte, tsNs int64) {
	d.next += uint32(len(b))
	d.budget.Stats.Bytes += int64(len(b))
	d.sink.Data(b, tsNs)
}

func (d *Dir) gap(n int64, tsNs int64) {
	if n <= 0 {
		return
	}
	d.next += uint32(n)
	d.budget.Stats.Gaps++
	d.budget.Stats.GapBytes += n
	d.sink.Gap(n, tsNs)
}
