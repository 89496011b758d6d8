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
	var d Decoded
	for {
		if err := src.Next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		Decode(&p, &d)
		t.Add(&d, p.Index)
	}
}
