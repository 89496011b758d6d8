package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// Tiny capture writers for tests: they write exactly the bytes they are told,
// including wrong ones, so tests can build hostile files too.

// byteOrder is what binary.LittleEndian and binary.BigEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

var (
	le byteOrder = binary.LittleEndian
	be byteOrder = binary.BigEndian
)

// pcapRec is one pcap record. orig 0 means len(data).
type pcapRec struct {
	sec, frac uint32
	orig      uint32
	data      []byte
}

// pcapFile writes a pcap file header and records. magic picks the variant;
// major 0 means 2.
type pcapFile struct {
	order   byteOrder
	magic   uint32
	major   uint16
	snaplen uint32
	link    uint32
}

func (f pcapFile) header() []byte {
	major := f.major
	if major == 0 {
		major = 2
	}
	b := f.order.AppendUint32(nil, f.magic)
	b = f.order.AppendUint16(b, major)
	b = f.order.AppendUint16(b, 4)
	b = f.order.AppendUint32(b, 0) // thiszone
	b = f.order.AppendUint32(b, 0) // sigfigs
	b = f.order.AppendUint32(b, f.snaplen)
	return f.order.AppendUint32(b, f.link)
}

func (f pcapFile) record(r pcapRec) []byte {
	orig := r.orig
	if orig == 0 {
		orig = uint32(len(r.data))
	}
	b := f.order.AppendUint32(nil, r.sec)
	b = f.order.AppendUint32(b, r.frac)
	b = f.order.AppendUint32(b, uint32(len(r.data)))
	b = f.order.AppendUint32(b, orig)
	if f.magic == magicModified {
		b = f.order.AppendUint32(b, 7) // ifindex
		b = f.order.AppendUint16(b, 0x0800)
		b = append(b, 0, 0) // pkt_type, pad
	}
	return append(b, r.data...)
}

func (f pcapFile) bytes(recs ...pcapRec) []byte {
	b := f.header()
	for _, r := range recs {
		b = append(b, f.record(r)...)
	}
	return b
}

// ngWriter appends pcapng blocks in the byte order of the current section.
type ngWriter struct {
	order byteOrder
	buf   []byte
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// block appends a block and returns its offset.
func (w *ngWriter) block(typ uint32, body []byte) int64 {
	start := int64(len(w.buf))
	body = pad4(bytes.Clone(body))
	n := uint32(12 + len(body))
	w.buf = w.order.AppendUint32(w.buf, typ)
	w.buf = w.order.AppendUint32(w.buf, n)
	w.buf = append(w.buf, body...)
	w.buf = w.order.AppendUint32(w.buf, n)
	return start
}

func (w *ngWriter) shb(order byteOrder, major, minor uint16) int64 {
	w.order = order
	body := order.AppendUint32(nil, byteOrderMagic)
	body = order.AppendUint16(body, major)
	body = order.AppendUint16(body, minor)
	body = order.AppendUint64(body, ^uint64(0)) // section length unknown
	return w.block(blockSectionHeader, body)
}

func (w *ngWriter) opt(code uint16, value []byte) []byte {
	b := w.order.AppendUint16(nil, code)
	b = w.order.AppendUint16(b, uint16(len(value)))
	return pad4(append(b, value...))
}

func (w *ngWriter) idb(link uint16, snaplen uint32, opts ...[]byte) int64 {
	body := w.order.AppendUint16(nil, link)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, w.opt(optionEnd, nil)...)
	}
	return w.block(blockInterface, body)
}

func (w *ngWriter) epb(id uint32, units uint64, orig uint32, data []byte) int64 {
	body := w.order.AppendUint32(nil, id)
	body = w.order.AppendUint32(body, uint32(units>>32))
	body = w.order.AppendUint32(body, uint32(units))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, orig)
	return w.block(blockEnhancedPacket, append(body, data...))
}

func (w *ngWriter) pb(id uint16, units uint64, orig uint32, data []byte) int64 {
	body := w.order.AppendUint16(nil, id)
	body = w.order.AppendUint16(body, 0) // drops
	body = w.order.AppendUint32(body, uint32(units>>32))
	body = w.order.AppendUint32(body, uint32(units))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, orig)
	return w.block(blockPacketObsolete, append(body, data...))
}

func (w *ngWriter) spb(orig uint32, data []byte) int64 {
	body := w.order.AppendUint32(nil, orig)
	return w.block(blockSimplePacket, append(body, data...))
}

func gzipped(t testing.TB, members ...[]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, m := range members {
		zw := gzip.NewWriter(&out)
		if _, err := zw.Write(m); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// payload returns n recognisable bytes.
func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// readAll opens data and reads every packet, copying Data. It returns the
// packets, the FileInfo and the error that ended reading (io.EOF when clean).
func readAll(t testing.TB, data []byte, opts Options) ([]Packet, FileInfo, error) {
	t.Helper()
	c, err := NewReader("test.cap", bytes.NewReader(data), opts)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer c.Close()
	var pkts []Packet
	var p Packet
	for {
		if err = c.Next(&p); err != nil {
			break
		}
		p.Data, p.buf = bytes.Clone(p.Data), nil // a copy, in no chunk
		pkts = append(pkts, p)
	}
	if again := c.Next(&p); again != err {
		t.Errorf("error is not sticky: first %v, then %v", err, again)
	}
	if err != io.EOF {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "test.cap" {
			t.Errorf("error %v (%T) is not a *FormatError naming the file", err, err)
		}
	}
	info, ferr := c.Finish()
	if ferr != nil {
		t.Fatalf("Finish: %v", ferr)
	}
	return pkts, info, err
}
