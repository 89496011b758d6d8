package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// pcapng block types and the section byte-order magic.
const (
	blockSectionHeader  = 0x0a0d0d0a // the same in both byte orders
	blockInterface      = 1
	blockPacketObsolete = 2
	blockSimplePacket   = 3
	blockEnhancedPacket = 6
	byteOrderMagic      = 0x1a2b3c4d
	byteOrderSwapped    = 0x4d3c2b1a

	minBlockLen          = 12 // type, length, trailing length
	minSectionHeaderLen  = 28
	minInterfaceLen      = 20
	minPacketBlockLen    = 32 // Enhanced and obsolete Packet Blocks
	minSimplePacketLen   = 16
	optionEnd            = 0
	optionIfName         = 2
	optionIfTsResol      = 9
	optionIfTsOffset     = 14
	defaultTsResolDigits = 6 // microseconds, when an interface has no if_tsresol

	nsPerSec = 1_000_000_000
)

// iface is an Interface Description Block of the current section.
type iface struct {
	link    LinkType
	snaplen uint32
	info    int // index in Capture.infos
	clock   tsClock
}

// tsClock turns a pcapng timestamp (units since the epoch, plus the
// interface's if_tsoffset) into exact epoch nanoseconds. Resolutions finer
// than 1 ns round down.
type tsClock struct {
	nsPerUnit uint64 // exact ns per unit for 10^-k, k <= 9; 0 otherwise
	perSec    uint64 // units per second for 10^-k, k > 9; 0 otherwise
	shift     uint   // k for 2^-k, 1 <= k <= 63
	offsetNs  int64
}

var powersOf10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// setResolution applies if_tsresol: high bit clear means 10^-v seconds per
// unit, high bit set means 2^-v. It reports false for a resolution whose
// units per second do not fit 64 bits.
func (t *tsClock) setResolution(v byte) bool {
	k := uint(v & 0x7f)
	*t = tsClock{offsetNs: t.offsetNs}
	switch {
	case v&0x80 == 0 && k <= 9:
		t.nsPerUnit = powersOf10[9-k]
	case v&0x80 == 0 && k < uint(len(powersOf10)):
		t.perSec = powersOf10[k]
	case v&0x80 != 0 && k == 0:
		t.nsPerUnit = 1e9
	case v&0x80 != 0 && k <= 63:
		t.shift = k
	default:
		return false
	}
	return true
}

// nanos converts units; it reports false when the result does not fit int64.
func (t *tsClock) nanos(units uint64) (int64, bool) {
	var sec, fracNs uint64
	switch {
	case t.nsPerUnit != 0:
		hi, ns := bits.Mul64(units, t.nsPerUnit)
		if hi != 0 || ns > math.MaxInt64 {
			return 0, false
		}
		return t.withOffset(int64(ns))
	case t.perSec != 0:
		sec = units / t.perSec
		// frac < perSec, so hi < perSec and Div64 cannot overflow.
		hi, lo := bits.Mul64(units%t.perSec, 1e9)
		fracNs, _ = bits.Div64(hi, lo, t.perSec)
	default:
		sec = units >> t.shift
		// frac·10^9 needs up to 93 bits: shift the 128-bit product.
		hi, lo := bits.Mul64(units&(1<<t.shift-1), 1e9)
		fracNs = hi<<(64-t.shift) | lo>>t.shift
	}
	if sec > (math.MaxInt64-fracNs)/1e9 {
		return 0, false
	}
	return t.withOffset(int64(sec*1e9 + fracNs))
}

func (t *tsClock) withOffset(ns int64) (int64, bool) {
	// ns >= 0, so only a positive offset can overflow.
	if t.offsetNs > 0 && ns > math.MaxInt64-t.offsetNs {
		return 0, false
	}
	return ns + t.offsetNs, true
}

func (c *Capture) u64(b []byte) uint64 {
	if c.bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// nextBlock reads blocks until one holds a packet, and reads it into p.
func (c *Capture) nextBlock(p *Packet) error {
	for {
		start := c.off
		hdr, err := c.r.Peek(8)
		if err != nil {
			if len(hdr) == 0 && err == io.EOF {
				return err
			}
			return c.fail(start, c.shortRead(err, "block header", len(hdr), 8))
		}
		typ := c.u32(hdr)
		if typ == blockSectionHeader {
			if err := c.readSectionHeader(); err != nil {
				return err
			}
			continue
		}
		length, err := c.blockLength(start, c.u32(hdr[4:]))
		if err != nil {
			return err
		}
		switch typ {
		case blockEnhancedPacket, blockPacketObsolete, blockSimplePacket:
			b, err := c.takeBlock(start, length)
			if err != nil {
				return err
			}
			return c.readPacket(p, start, typ, b)
		case blockInterface:
			b, err := c.takeBlock(start, length)
			if err != nil {
				return err
			}
			if err := c.readInterface(start, b); err != nil {
				return err
			}
		default: // name resolution, statistics, secrets, custom, unknown
			if err := c.skipBlock(start, length); err != nil {
				return err
			}
		}
	}
}

// blockLength validates a block's leading total length.
func (c *Capture) blockLength(start int64, n uint32) (int, error) {
	if n < minBlockLen || n%4 != 0 {
		return 0, c.fail(start, fmt.Errorf("%w: block total length %d is not a multiple of 4 of at least %d", ErrCorrupt, n, minBlockLen))
	}
	if n > uint32(c.opts.MaxBlockBytes) {
		return 0, c.fail(start, fmt.Errorf("%w: block total length %d is above the %d-byte cap (Options.MaxBlockBytes); the block header is probably corrupt",
			ErrTooLarge, n, c.opts.MaxBlockBytes))
	}
	return int(n), nil
}

// takeBlock consumes a whole block and checks its trailing length.
func (c *Capture) takeBlock(start int64, length int) ([]byte, error) {
	b, err := c.take(length)
	if err != nil {
		return nil, c.fail(start, c.shortRead(err, "block", len(b), length))
	}
	if end := c.u32(b[length-4:]); end != uint32(length) {
		return nil, c.fail(start, fmt.Errorf("%w: block total length %d at its end differs from %d at its start", ErrCorrupt, end, length))
	}
	return b, nil
}

// skipBlock consumes a block the reader has no use for, without copying it
// when it is larger than the read buffer.
func (c *Capture) skipBlock(start int64, length int) error {
	if length <= c.r.Size() {
		_, err := c.takeBlock(start, length)
		return err
	}
	skipped, err := c.r.Discard(length - 4)
	c.off += int64(skipped)
	if err != nil {
		return c.fail(start, c.shortRead(err, "block", skipped, length))
	}
	end, err := c.take(4)
	if err != nil {
		return c.fail(start, c.shortRead(err, "block", skipped+len(end), length))
	}
	if n := c.u32(end); n != uint32(length) {
		return c.fail(start, fmt.Errorf("%w: block total length %d at its end differs from %d at its start", ErrCorrupt, n, length))
	}
	return nil
}

// readSectionHeader reads a Section Header Block, which sets the byte order
// of the blocks after it and forgets the previous section's interfaces.
func (c *Capture) readSectionHeader() error {
	start := c.off
	hdr, err := c.r.Peek(12)
	if err != nil {
		return c.fail(start, c.shortRead(err, "section header block", len(hdr), 12))
	}
	switch bom := binary.BigEndian.Uint32(hdr[8:]); bom {
	case byteOrderMagic:
		c.bigEndian = true
	case byteOrderSwapped:
		c.bigEndian = false
	default:
		return c.fail(start, fmt.Errorf("%w: section header byte-order magic is 0x%08x, not 1a2b3c4d in either byte order", ErrCorrupt, bom))
	}
	length, err := c.blockLength(start, c.u32(hdr[4:]))
	if err != nil {
		return err
	}
	if length < minSectionHeaderLen {
		return c.fail(start, fmt.Errorf("%w: section header block of %d bytes is shorter than its %d-byte minimum", ErrCorrupt, length, minSectionHeaderLen))
	}
	b, err := c.takeBlock(start, length)
	if err != nil {
		return err
	}
	if major, minor := c.u16(b[12:]), c.u16(b[14:]); major != 1 {
		return c.fail(start, fmt.Errorf("%w: pcapng section version %d.%d; only version 1.x is defined (the file was written by a tool this reader does not know)",
			ErrUnsupported, major, minor))
	}
	c.section++
	c.ifaces = c.ifaces[:0]
	return nil
}

// readInterface reads an Interface Description Block: link type, snaplen
// and the options that change how its packets' timestamps are read.
func (c *Capture) readInterface(start int64, b []byte) error {
	if len(b) < minInterfaceLen {
		return c.fail(start, fmt.Errorf("%w: interface description block of %d bytes is shorter than its %d-byte minimum", ErrCorrupt, len(b), minInterfaceLen))
	}
	if len(c.infos) >= c.opts.MaxInterfaces {
		return c.fail(start, fmt.Errorf("%w: more than %d interface description blocks (Options.MaxInterfaces)", ErrTooLarge, c.opts.MaxInterfaces))
	}
	in := iface{link: LinkType(c.u16(b[8:])), snaplen: c.u32(b[12:]), info: len(c.infos)}
	in.clock.setResolution(defaultTsResolDigits)
	var name string
	for opts := b[16 : len(b)-4]; len(opts) >= 4; {
		code, n := c.u16(opts), int(c.u16(opts[2:]))
		if code == optionEnd {
			break
		}
		if 4+n > len(opts) {
			return c.fail(start, fmt.Errorf("%w: interface option %d of %d bytes overruns its block", ErrCorrupt, code, n))
		}
		value := opts[4 : 4+n]
		switch code {
		case optionIfName:
			name = string(bytes.TrimRight(value, "\x00"))
		case optionIfTsResol:
			if n != 1 {
				return c.fail(start, fmt.Errorf("%w: if_tsresol option has %d bytes, not 1", ErrCorrupt, n))
			}
			if !in.clock.setResolution(value[0]) {
				return c.fail(start, fmt.Errorf("%w: if_tsresol 0x%02x is finer than 10^-19 or 2^-63 seconds", ErrUnsupported, value[0]))
			}
		case optionIfTsOffset:
			if n != 8 {
				return c.fail(start, fmt.Errorf("%w: if_tsoffset option has %d bytes, not 8", ErrCorrupt, n))
			}
			sec := int64(c.u64(value))
			if sec > math.MaxInt64/nsPerSec || sec < math.MinInt64/nsPerSec {
				return c.fail(start, fmt.Errorf("%w: if_tsoffset of %d seconds is out of range", ErrCorrupt, sec))
			}
			in.clock.offsetNs = sec * nsPerSec
		}
		// Options are padded to 4 bytes; tolerate a last one that is not.
		opts = opts[min(4+(n+3)&^3, len(opts)):]
	}
	c.ifaces = append(c.ifaces, in)
	c.infos = append(c.infos, InterfaceInfo{Section: c.section, ID: len(c.ifaces) - 1, LinkType: in.link, Snaplen: in.snaplen, Name: name})
	return nil
}

// readPacket reads an Enhanced, Simple or obsolete Packet Block into p.
func (c *Capture) readPacket(p *Packet, start int64, typ uint32, b []byte) error {
	if typ == blockSimplePacket {
		return c.readSimplePacket(p, start, b)
	}
	if len(b) < minPacketBlockLen {
		return c.fail(start, fmt.Errorf("%w: packet block of %d bytes is shorter than its %d-byte minimum", ErrCorrupt, len(b), minPacketBlockLen))
	}
	id := c.u32(b[8:])
	if typ == blockPacketObsolete {
		id = uint32(c.u16(b[8:])) // followed by a 16-bit drops count
	}
	if id >= uint32(len(c.ifaces)) {
		return c.fail(start, fmt.Errorf("%w: packet names interface %d, but section %d has declared %d interface(s)", ErrCorrupt, id, c.section, len(c.ifaces)))
	}
	in := &c.ifaces[id]
	units := uint64(c.u32(b[12:]))<<32 | uint64(c.u32(b[16:]))
	caplen, origlen := c.u32(b[20:]), c.u32(b[24:])
	if room := uint32(len(b) - minPacketBlockLen); caplen > room {
		return c.fail(start, fmt.Errorf("%w: captured length %d is more than the %d bytes its block holds", ErrCorrupt, caplen, room))
	}
	ts, ok := in.clock.nanos(units)
	if !ok {
		return c.fail(start, fmt.Errorf("%w: timestamp %d (interface %d units) is past what int64 nanoseconds hold (year 2262)", ErrCorrupt, units, id))
	}
	p.Data, p.buf = b[28:28+caplen], c.takenFrom(len(b))
	p.OrigLen = int(origlen)
	p.Timestamp = ts
	p.LinkType = in.link
	p.Offset = start
	c.counted(p, in.info, true)
	return nil
}

// readSimplePacket reads a Simple Packet Block: interface 0, no timestamp
// (Timestamp is 0), and a captured length implied by the original length,
// the interface's snaplen and the block's size.
func (c *Capture) readSimplePacket(p *Packet, start int64, b []byte) error {
	if len(b) < minSimplePacketLen {
		return c.fail(start, fmt.Errorf("%w: simple packet block of %d bytes is shorter than its %d-byte minimum", ErrCorrupt, len(b), minSimplePacketLen))
	}
	if len(c.ifaces) == 0 {
		return c.fail(start, fmt.Errorf("%w: simple packet block before any interface description block in section %d", ErrCorrupt, c.section))
	}
	in := &c.ifaces[0]
	origlen := c.u32(b[8:])
	caplen := min(origlen, uint32(len(b)-minSimplePacketLen))
	if in.snaplen != 0 {
		caplen = min(caplen, in.snaplen)
	}
	p.Data, p.buf = b[12:12+caplen], c.takenFrom(len(b))
	p.OrigLen = int(origlen)
	p.Timestamp = 0
	p.LinkType = in.link
	p.Offset = start
	c.counted(p, in.info, false)
	return nil
}
