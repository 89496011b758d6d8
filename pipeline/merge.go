package pipeline

import (
	"io"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
)

// mergeSource reads several captures of the same traffic taken at different
// vantage points (the per-node captures of `pull --per-node`) as one stream
// in time order: a k-way merge on timestamps, stable by input order (of
// packets with the same time, the earlier input's comes first, and one
// input's packets keep their order), as Kubeshark's merged export is made.
//
// It holds one packet per input, read but not yet handed out, whose Data
// aliases that input's buffer: memory does not grow with the captures, and
// nothing is copied. A packet handed out stays valid until the next Next,
// as an ingest.Packet does: only then is its input read again.
//
// Packet.Index becomes the packet's position in the merged stream (flow ids
// number packets within what one table read). An input that fails stops
// contributing at its error, which Err(i) keeps; the others go on.
type mergeSource struct {
	srcs  []analyze.PacketSource
	heads []ingest.Packet
	live  []bool
	errs  []error
	last  int // the input whose packet was handed out last; -1 before the first
	n     int64
	// From is the input of the packet last handed out.
	From int
}

func newMergeSource(srcs []analyze.PacketSource) *mergeSource {
	m := &mergeSource{srcs: srcs, heads: make([]ingest.Packet, len(srcs)), live: make([]bool, len(srcs)), errs: make([]error, len(srcs)), last: -1}
	for i := range srcs {
		m.advance(i)
	}
	return m
}

// advance reads input i's next packet into its head.
func (m *mergeSource) advance(i int) {
	err := m.srcs[i].Next(&m.heads[i])
	m.live[i] = err == nil
	if err != nil && err != io.EOF {
		m.errs[i] = err
	}
}

// Next hands out the earliest packet of the inputs' heads.
func (m *mergeSource) Next(p *ingest.Packet) error {
	if m.last >= 0 {
		m.advance(m.last)
		m.last = -1
	}
	best := -1
	for i, ok := range m.live {
		if ok && (best < 0 || m.heads[i].Timestamp < m.heads[best].Timestamp) {
			best = i
		}
	}
	if best < 0 {
		return io.EOF
	}
	*p = m.heads[best]
	p.Index = m.n
	p.Origin = uint8(min(best+1, 255))
	m.n++
	m.last, m.From = best, best
	return nil
}

// Err returns input i's read error (nil at a clean end).
func (m *mergeSource) Err(i int) error { return m.errs[i] }
