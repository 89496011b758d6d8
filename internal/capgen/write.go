package capgen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/flowproof/flowproof/ingest"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// snaplen is the header snaplen for pkts: DefaultSnaplen, or the captured length
// of the truncated packets when a snaplen cut some of them.
func snaplen(pkts []Packet) uint32 {
	n := 0
	for _, p := range pkts {
		if len(p.Data) < p.Length {
			n = max(n, len(p.Data))
		}
	}
	if n == 0 {
		return DefaultSnaplen
	}
	return uint32(n)
}

// WritePcap writes pkts as a little-endian pcap file with nanosecond timestamps
// (magic 0xa1b23c4d). The bytes depend only on the arguments.
//
// The pcap and pcapng writers are written here rather than taken from gopacket's
// pcapgo: that package imports golang.org/x/net/bpf, which is not a module
// dependency of flowproof.
func WritePcap(w io.Writer, lt ingest.LinkType, pkts []Packet) error {
	b := make([]byte, 0, 24)
	b = le.AppendUint32(b, 0xa1b23c4d)
	b = le.AppendUint16(b, 2) // version 2.4
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0) // thiszone
	b = le.AppendUint32(b, 0) // sigfigs
	b = le.AppendUint32(b, snaplen(pkts))
	b = le.AppendUint32(b, uint32(lt))
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write pcap header: %w", err)
	}
	for i, p := range pkts {
		ns := p.Time.UnixNano()
		b = b[:0]
		b = le.AppendUint32(b, uint32(ns/1e9))
		b = le.AppendUint32(b, uint32(ns%1e9))
		b = le.AppendUint32(b, uint32(len(p.Data)))
		b = le.AppendUint32(b, uint32(p.Length))
		b = append(b, p.Data...)
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write packet %d: %w", i, err)
		}
	}
	return nil
}

// WritePcapng writes pkts as a little-endian pcapng file: one section header
// (shb_userappl "flowproof capgen"), one interface (if_name "capgen0",
// if_tsresol 9, i.e. nanoseconds) and one Enhanced Packet Block per packet.
// The bytes depend only on the arguments.
func WritePcapng(w io.Writer, lt ingest.LinkType, pkts []Packet) error {
	const (
		blockSHB = 0x0A0D0D0A
		blockIDB = 0x00000001
		blockEPB = 0x00000006
	)
	var shb []byte
	shb = le.AppendUint32(shb, 0x1A2B3C4D) // byte-order magic
	shb = le.AppendUint16(shb, 1)          // version 1.0
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0)) // section length: unspecified
	shb = ngOption(shb, 4, []byte("flowproof capgen"))
	shb = ngOption(shb, 0, nil)
	var idb []byte
	idb = le.AppendUint16(idb, uint16(lt))
	idb = le.AppendUint16(idb, 0)
	idb = le.AppendUint32(idb, snaplen(pkts))
	idb = ngOption(idb, 2, []byte("capgen0"))
	idb = ngOption(idb, 9, []byte{9})
	idb = ngOption(idb, 0, nil)
	if _, err := w.Write(append(ngBlock(blockSHB, shb), ngBlock(blockIDB, idb)...)); err != nil {
		return fmt.Errorf("write pcapng header: %w", err)
	}
	for i, p := range pkts {
		ns := uint64(p.Time.UnixNano())
		var epb []byte
		epb = le.AppendUint32(epb, 0) // interface id
		epb = le.AppendUint32(epb, uint32(ns>>32))
		epb = le.AppendUint32(epb, uint32(ns))
		epb = le.AppendUint32(epb, uint32(len(p.Data)))
		epb = le.AppendUint32(epb, uint32(p.Length))
		epb = append(epb, p.Data...)
		epb = append(epb, make([]byte, pad4(len(p.Data)))...)
		if _, err := w.Write(ngBlock(blockEPB, epb)); err != nil {
			return fmt.Errorf("write packet %d: %w", i, err)
		}
	}
	return nil
}

var le = binary.LittleEndian

func pad4(n int) int { return (4 - n%4) % 4 }

// ngBlock frames a pcapng block body (already padded to 32 bits).
func ngBlock(typ uint32, body []byte) []byte {
	n := uint32(12 + len(body))
	b := le.AppendUint32(nil, typ)
	b = le.AppendUint32(b, n)
	b = append(b, body...)
	return le.AppendUint32(b, n)
}

// ngOption appends one pcapng option, padded to 32 bits.
func ngOption(b []byte, code uint16, val []byte) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, pad4(len(val)))...)
}

// PcapngCase is the case that WriteAll also writes as pcapng.
const PcapngCase = "tcp-sf"

// Files returns the generated files of every case, keyed by file name:
// <name>.pcap for each case, plus <PcapngCase>.pcapng.
func Files() (map[string][]byte, error) {
	files := make(map[string][]byte)
	for _, c := range Cases() {
		var b bytes.Buffer
		if err := WritePcap(&b, c.Link.LinkType(), c.Packets); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		files[c.Name+".pcap"] = b.Bytes()
		if c.Name == PcapngCase {
			var ng bytes.Buffer
			if err := WritePcapng(&ng, c.Link.LinkType(), c.Packets); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			files[c.Name+".pcapng"] = ng.Bytes()
		}
	}
	return files, nil
}

// WriteAll writes Files into dir (created if missing) and returns the file names, sorted.
func WriteAll(dir string) ([]string, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// Bulk returns a pcap of one UDP conversation of n 20-byte datagrams, one
// every microsecond, alternating directions: a capture that takes a while
// to read, for tests that cancel a run in the middle of one file.
func Bulk(n int) ([]byte, error) {
	u := NewUDP(netip.MustParseAddrPort("192.0.2.1:4000"), netip.MustParseAddrPort("192.0.2.2:53"), Options{})
	for i := range n {
		u.Send(Dir(i%2), time.Duration(i)*time.Microsecond, 20)
	}
	var b bytes.Buffer
	if err := WritePcap(&b, ingest.LinkTypeEthernet, u.Packets()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
