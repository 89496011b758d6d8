package ingest

import (
	"bytes"
	"testing"
)

// TestHold: held packets' Data stays as read while the reader goes on past
// them through many chunks (more than it has without a Hold), and the
// chunks come back on Release; Data that is not in a chunk (a record larger
// than the read buffer, gzip's output) cannot be held.
func TestHold(t *testing.T) {
	f := pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}
	var recs []pcapRec
	for i := range 400 {
		n := 40 + i%7*30
		if i%50 == 49 {
			n = 900 // larger than the read buffer: copied into scratch
		}
		recs = append(recs, pcapRec{sec: uint32(i), data: payload(n, byte(i))})
	}
	file := f.bytes(recs...)
	t.Run("pcap", func(t *testing.T) {
		c, err := NewReader("test.cap", bytes.NewReader(file), Options{ReadBufferBytes: 512})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var p Packet
		var h Hold
		var held, want [][]byte
		check := func() {
			for k := range held {
				if !bytes.Equal(held[k], want[k]) {
					t.Fatalf("a held packet changed: %x, want %x", held[k], want[k])
				}
			}
			h.Release()
			held, want = held[:0], want[:0]
		}
		for i, r := range recs {
			if err := c.Next(&p); err != nil {
				t.Fatal(err)
			}
			ok := h.Add(&p)
			if large := len(r.data) > 512; ok == large {
				t.Fatalf("packet %d of %d bytes: held %v", i, len(r.data), ok)
			}
			if ok {
				held, want = append(held, p.Data), append(want, r.data)
			}
			if h.Chunks() == holdChunks-1 { // and the one the reader is filling
				check()
			}
		}
		if c.src.made <= hashChunks {
			t.Errorf("%d chunks made, want more than %d while holding", c.src.made, hashChunks)
		}
		check()
		if err := c.Next(&p); err == nil {
			t.Fatal("a packet past the end")
		}
	})
	t.Run("two captures", func(t *testing.T) {
		// Merged captures' packets take turns: each capture's chunks
		// count apart, and a chunk is held once.
		var cs [2]*Capture
		for k := range cs {
			c, err := NewReader("test.cap", bytes.NewReader(file), Options{ReadBufferBytes: 4096})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cs[k] = c
		}
		var p Packet
		var h Hold
		for i := range 20 {
			for _, c := range cs {
				if err := c.Next(&p); err != nil {
					t.Fatal(err)
				}
				if !h.Add(&p) {
					t.Fatalf("packet %d not held", i)
				}
			}
		}
		if h.Chunks() != 1 || len(h.chunks) != 2 {
			t.Errorf("Chunks() = %d holding %d chunks, want 1 of each capture", h.Chunks(), len(h.chunks))
		}
		h.Release()
	})
	t.Run("gzip", func(t *testing.T) {
		c, err := NewReader("test.cap.gz", bytes.NewReader(gzipped(t, file)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var p Packet
		var h Hold
		if err := c.Next(&p); err != nil {
			t.Fatal(err)
		}
		if h.Add(&p) || h.Chunks() != 0 {
			t.Fatal("held a packet of gzip's output")
		}
	})
}
