package ingest

import (
	"encoding/binary"
	"fmt"
	"io"
)

// pcap file magics, as read in the file's own byte order.
const (
	magicMicros   = 0xa1b2c3d4 // libpcap, µs timestamps
	magicNanos    = 0xa1b23c4d // libpcap, ns timestamps
	magicModified = 0xa1b2cd34 // Kuznetzov's patched libpcap, µs timestamps

	pcapFileHeaderLen = 24
	pcapRecordLen     = 16 // ts_sec, ts_frac, caplen, origlen
	modifiedRecordLen = 24 // the above + ifindex(4) protocol(2) pkt_type(1) pad(1)
)

func (c *Capture) u16(b []byte) uint16 {
	if c.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (c *Capture) u32(b []byte) uint32 {
	if c.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (c *Capture) readPcapHeader(bigEndian bool, fracNs int64, recordLen int) error {
	c.bigEndian = bigEndian
	c.pcapFracNs = fracNs
	c.pcapRecordLen = recordLen
	hdr, err := c.take(pcapFileHeaderLen)
	if err != nil {
		return c.fail(0, c.shortRead(err, "pcap file header", len(hdr), pcapFileHeaderLen))
	}
	if major, minor := c.u16(hdr[4:]), c.u16(hdr[6:]); major != 2 {
		return c.fail(0, fmt.Errorf("%w: pcap version %d.%d; only version 2.x is defined", ErrUnsupported, major, minor))
	}
	// The upper 16 bits of the link type field carry FCS flags, not the type.
	c.pcapLink = LinkType(c.u32(hdr[20:]))
	c.infos = append(c.infos, InterfaceInfo{LinkType: c.pcapLink, Snaplen: c.u32(hdr[16:])})
	return nil
}

// nextRecord reads one pcap record into p.
func (c *Capture) nextRecord(p *Packet) error {
	start := c.off
	hdr, err := c.take(c.pcapRecordLen)
	if err != nil {
		if len(hdr) == 0 && err == io.EOF {
			return err
		}
		return c.fail(start, c.shortRead(err, "record header", len(hdr), c.pcapRecordLen))
	}
	sec, frac := c.u32(hdr), c.u32(hdr[4:])
	caplen, origlen := c.u32(hdr[8:]), c.u32(hdr[12:])
	if caplen > uint32(c.opts.MaxPacketBytes) {
		return c.fail(start, fmt.Errorf("%w: captured length %d is above the %d-byte cap (Options.MaxPacketBytes); the record header is probably corrupt",
			ErrTooLarge, caplen, c.opts.MaxPacketBytes))
	}
	// caplen > origlen happens (some writers count padding); caplen is what
	// the file holds, so it is what is read.
	data, err := c.take(int(caplen))
	if err != nil {
		return c.fail(start, c.shortRead(err, "packet data", len(data), int(caplen)))
	}
	p.Data, p.buf = data, c.takenFrom(len(data))
	p.OrigLen = int(origlen)
	// Cannot overflow: (2^32-1)·10^9 + (2^32-1)·1000 < 2^63.
	p.Timestamp = int64(sec)*1e9 + int64(frac)*c.pcapFracNs
	p.LinkType = c.pcapLink
	p.Offset = start
	c.counted(p, 0, true)
	return nil
}
