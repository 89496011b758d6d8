// Package rawpcap writes the bench generators' captures: classic pcap
// (microsecond times, Ethernet) holding IPv4/TCP frames without options and
// with zero payload bytes. The frames are built by hand, not with gopacket's
// serialization, so that millions of packets take seconds; checksums are left
// zero, which flowproof, tshark and tcptrace all accept.
package rawpcap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
)

// MaxPayload is the largest Segment.Payload Write accepts.
const MaxPayload = 1460

// Segment is one frame: time in microseconds since the epoch, addresses,
// ports, TCP flags, sequence numbers and how many payload bytes follow.
type Segment struct {
	Us               int64
	Src, Dst         uint32
	SrcPort, DstPort uint16
	Flags            byte
	Seq, Ack         uint32
	Payload          int
}

// Writer writes Segments to a new file.
type Writer struct {
	f   *os.File
	w   *bufio.Writer
	buf [16 + 54 + MaxPayload]byte // record header, then the frame
}

// Create makes path and writes the file header.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4) // microseconds
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	w.w.Write(hdr[:])                          // an error stays in w.w and comes back from Write or Close
	return w, nil
}

// Write appends one frame.
func (w *Writer) Write(s Segment) error {
	if s.Payload < 0 || s.Payload > MaxPayload {
		return fmt.Errorf("payload of %d bytes, want 0..%d", s.Payload, MaxPayload)
	}
	frame := w.buf[16 : 16+54+s.Payload]
	clear(frame)
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	ip := frame[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(40+s.Payload))
	binary.BigEndian.PutUint32(ip[12:], s.Src)
	binary.BigEndian.PutUint32(ip[16:], s.Dst)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], s.SrcPort)
	binary.BigEndian.PutUint16(tcp[2:], s.DstPort)
	binary.BigEndian.PutUint32(tcp[4:], s.Seq)
	binary.BigEndian.PutUint32(tcp[8:], s.Ack)
	tcp[12], tcp[13] = 5<<4, s.Flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	binary.LittleEndian.PutUint32(w.buf[0:], uint32(s.Us/1_000_000))
	binary.LittleEndian.PutUint32(w.buf[4:], uint32(s.Us%1_000_000))
	binary.LittleEndian.PutUint32(w.buf[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(w.buf[12:], uint32(len(frame)))
	_, err := w.w.Write(w.buf[:16+len(frame)])
	return err
}

// Close flushes and closes the file; call it on every path.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
