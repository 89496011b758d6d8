package analyze

import (
	"errors"
	"io"

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
	for {
		if err := src.Next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		for i := range decodeLayers(&p, ds[:], !t.cfg.NoDecap) {
			t.Add(&ds[i], p.Index)
		}
	}
}

// maxLayers bounds the layers decoded from one packet: the packet and up to
// three tunnels inside one another.
const maxLayers = 4

// decodeLayers decodes p into ds[0] and, with decap, each tunnel inside it
// into the next element; it returns how many it filled.
func decodeLayers(p *ingest.Packet, ds []Decoded, decap bool) int {
	Decode(p, &ds[0])
	n := 1
	for decap && n < len(ds) && DecodeTunnel(p, &ds[n-1], &ds[n]) {
		n++
	}
	return n
}

// batchPackets is how many decoded packets travel together between the
// stages of RunConcurrent: enough to make the hand-off cheap per packet.
const batchPackets = 512

type decodedBatch struct {
	d     [batchPackets]Decoded
	index [batchPackets]int64
	n     int
	err   error // set on the last batch: the source's error (io.EOF at a clean end)
}

// RunConcurrent does what Run does, with reading and decoding on a goroutine
// of their own and the flow table in the caller's: two cores instead of one.
// The table sees the packets in the same order, so the flows are identical
// to Run's. Memory stays bounded: a few batches are in flight.
func RunConcurrent(src PacketSource, t *Table) error {
	const inFlight = 4
	free := make(chan *decodedBatch, inFlight)
	full := make(chan *decodedBatch, inFlight)
	for range inFlight {
		free <- new(decodedBatch)
	}
	decap := !t.cfg.NoDecap
	go func() {
		var p ingest.Packet
		for {
			b := <-free
			b.n = 0
			for b.n+maxLayers <= batchPackets {
				if err := src.Next(&p); err != nil {
					b.err = err
					full <- b
					return
				}
				k := decodeLayers(&p, b.d[b.n:b.n+maxLayers], decap)
				for i := range k {
					b.index[b.n+i] = p.Index
				}
				b.n += k
			}
			full <- b
		}
	}()
	for {
		b := <-full
		for i := range b.n {
			t.Add(&b.d[i], b.index[i])
		}
		if b.err != nil { // the reader has returned
			if errors.Is(b.err, io.EOF) {
				return nil
			}
			return b.err
		}
		free <- b
	}
}
