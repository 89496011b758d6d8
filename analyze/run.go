package analyze

import (
	"errors"
	"io"
	"sync"

	"github.com/flowproof/flowproof/ingest"
)

// PacketSource is what Run reads from; *ingest.Capture implements it.
type PacketSource interface {
	// Next fills p with the next packet, returning io.EOF at a clean end.
	Next(p *ingest.Packet) error
}

// Run decodes every packet of src into t. It returns nil at a clean end of
// input, or the first read error (for example an *ingest.FormatError); the
// flows seen before the error stay in t, so a caller can still Flush them
// into a partial result.
func Run(src PacketSource, t *Table) error {
	var p ingest.Packet
	var ds [maxLayers]Decoded
	dec := newLayerDecoder(t.cfg)
	defer func() { t.frags = dec.fragStats() }()
	for {
		if err := src.Next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		for i := range dec.decode(&p, ds[:]) {
			if t.l7 != nil {
				t.AddPayload(&ds[i], p.Index, ds[i].PayloadBytes(p.Data))
				continue
			}
			t.Add(&ds[i], p.Index)
		}
	}
}

// maxLayers bounds the layers decoded from one packet: the packet, up to
// three tunnels inside one another, and a datagram a fragment completes.
const maxLayers = 5

// layerDecoder decodes every layer of a packet: the packet itself, each
// tunnel inside it, and the datagram a fragment completes.
type layerDecoder struct {
	decap bool
	fold  bool         // fingerprints for folding (not with Config.NoDedup)
	reasm *reassembler // nil without reassembly
}

func newLayerDecoder(cfg Config) *layerDecoder {
	dec := &layerDecoder{decap: !cfg.NoDecap, fold: !cfg.NoDedup}
	if !cfg.NoReassembly {
		dec.reasm = newReassembler(cfg.WithDefaults())
	}
	return dec
}

// decode fills ds[0] from p and the next elements with the layers inside it;
// it returns how many it filled.
func (dec *layerDecoder) decode(p *ingest.Packet, ds []Decoded) int {
	decodeFrame(p, &ds[0], dec.fold)
	n := 1
	for dec.decap && n < len(ds)-1 && DecodeTunnel(p, &ds[n-1], &ds[n]) {
		n++
	}
	if k := ds[n-1].Kind; dec.reasm != nil && (k == KindIPv4Fragment || k == KindIPv6Fragment) && dec.reasm.add(p, &ds[n-1], &ds[n]) {
		n++
	}
	return n
}

func (dec *layerDecoder) fragStats() fragStats {
	if dec.reasm == nil {
		return fragStats{}
	}
	return dec.reasm.fragStats
}

// batchPackets is how many decoded packets travel together between the
// stages of RunConcurrent: enough to make the hand-off cheap per packet.
const batchPackets = 512

// lookahead is how many packets ahead of the table RunConcurrent starts
// loading the index slots they will look up (Table.prefetchFlow).
const lookahead = 4

// batchPool keeps batches from one RunConcurrent to the next: a run over
// many small captures would otherwise allocate and clear 400 KB for each.
var batchPool = sync.Pool{New: func() any { return new(decodedBatch) }}

type decodedBatch struct {
	d     [batchPackets]Decoded
	index [batchPackets]int64
	n     int
	data  [batchPackets][]byte // Config.L7: the payloads, in the source's buffers (hold) or copied into arena
	hold  ingest.Hold
	arena []byte
	err   error // set on the last batch: the source's error (io.EOF at a clean end)
}

// maxHeldChunks ends a batch early once it holds that many read chunks of
// one capture: batches in flight then hold a bounded number of them,
// however large the packets (a capture makes more while some are held, up
// to a bound of its own).
const maxHeldChunks = 2

// RunConcurrent does what Run does, with reading and decoding on a goroutine
// of their own and the flow table in the caller's: two cores instead of one.
// The table sees the packets in the same order, so the flows are identical
// to Run's. Memory stays bounded: a few batches are in flight.
func RunConcurrent(src PacketSource, t *Table) error {
	const inFlight = 4
	free := make(chan *decodedBatch, inFlight)
	full := make(chan *decodedBatch, inFlight)
	for range inFlight {
		free <- batchPool.Get().(*decodedBatch)
	}
	defer func() { // the reader has returned: every batch is here
		for range inFlight - 1 {
			batchPool.Put(<-free)
		}
	}()
	dec := newLayerDecoder(t.cfg)
	l7 := t.l7 != nil
	go func() {
		var p ingest.Packet
		for {
			b := <-free
			b.n, b.err, b.arena = 0, nil, b.arena[:0] // a pooled batch may carry its last run's end
			for b.n+maxLayers <= batchPackets && b.hold.Chunks() < maxHeldChunks {
				if err := src.Next(&p); err != nil {
					b.err = err
					full <- b
					return
				}
				k := dec.decode(&p, b.d[b.n:b.n+maxLayers])
				held, tried := false, false
				for i := range k {
					b.index[b.n+i] = p.Index
					if !l7 {
						continue
					}
					// The next read may reuse the packet's buffer: the
					// batch holds it, or else the table gets a copy (when
					// the arena grows, earlier copies stay valid in the old
					// array). Bodies are most of the bytes, and the L7
					// parsers only count them.
					pl := b.d[b.n+i].PayloadBytes(p.Data)
					if len(pl) > 0 && !tried {
						held, tried = b.hold.Add(&p), true
					}
					if len(pl) > 0 && !held {
						at := len(b.arena)
						b.arena = append(b.arena, pl...)
						pl = b.arena[at:len(b.arena):len(b.arena)]
					}
					b.data[b.n+i] = pl
				}
				b.n += k
			}
			full <- b
		}
	}()
	for {
		b := <-full
		for i := range b.n {
			if i+lookahead < b.n && t.prefetching() {
				t.prefetchFlow(&b.d[i+lookahead])
			}
			t.AddPayload(&b.d[i], b.index[i], b.data[i])
		}
		b.hold.Release()
		if b.err != nil { // the reader has returned: its decoder is ours now
			defer batchPool.Put(b)
			t.frags = dec.fragStats()
			if errors.Is(b.err, io.EOF) {
				return nil
			}
			return b.err
		}
		free <- b
	}
}
