package ingest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

type readerCase struct {
	name       string
	file       []byte
	format     string
	want       []Packet
	interfaces []InterfaceInfo
	linkTypes  []LinkTypeCount
	firstNs    int64
	lastNs     int64
}

// check reads tc.file twice, once with the default buffer and once with a
// 64-byte one (every record larger than that goes through the copy path),
// and asserts every field of every packet and of the FileInfo.
func (tc readerCase) check(t *testing.T) {
	for _, opts := range []Options{{}, {ReadBufferBytes: 64}} {
		pkts, info, err := readAll(t, tc.file, opts)
		if err != io.EOF {
			t.Fatalf("buffer %d: reading ended with %v, want io.EOF", opts.ReadBufferBytes, err)
		}
		if len(pkts) != len(tc.want) {
			t.Fatalf("buffer %d: got %d packets, want %d", opts.ReadBufferBytes, len(pkts), len(tc.want))
		}
		for i := range pkts {
			if !reflect.DeepEqual(pkts[i], tc.want[i]) {
				t.Errorf("buffer %d: packet %d:\n got %+v\nwant %+v", opts.ReadBufferBytes, i, pkts[i], tc.want[i])
			}
		}
		sum := sha256.Sum256(tc.file)
		want := FileInfo{
			Path:       "test.cap",
			Name:       "test.cap",
			Size:       int64(len(tc.file)),
			SHA256:     hex.EncodeToString(sum[:]),
			Format:     tc.format,
			Interfaces: tc.interfaces,
			LinkTypes:  tc.linkTypes,
			Packets:    int64(len(tc.want)),
			FirstNs:    tc.firstNs,
			LastNs:     tc.lastNs,
		}
		if !reflect.DeepEqual(info, want) {
			t.Errorf("buffer %d: FileInfo\n got %+v\nwant %+v", opts.ReadBufferBytes, info, want)
		}
	}
}

func TestPcapVariants(t *testing.T) {
	recs := []pcapRec{
		{sec: 1700000000, frac: 123456, data: payload(60, 1)},
		{sec: 1700000001, frac: 0, orig: 9000, data: payload(1, 2)}, // cut by the snaplen
		{sec: 0xffffffff, frac: 999999, data: payload(1514, 3)},     // the last second a uint32 holds (2106)
	}
	microTS := []int64{1700000000_123456000, 1700000001_000000000, 4294967295_999999000}
	nanoTS := []int64{1700000000_000123456, 1700000001_000000000, 4294967295_000999999}
	offsets := []int64{24, 24 + 16 + 60, 24 + 16 + 60 + 16 + 1}
	modifiedOffsets := []int64{24, 24 + 24 + 60, 24 + 24 + 60 + 24 + 1}
	want := func(ts, off []int64, link LinkType) []Packet {
		var ps []Packet
		for i, r := range recs {
			orig := int(r.orig)
			if orig == 0 {
				orig = len(r.data)
			}
			ps = append(ps, Packet{Data: r.data, OrigLen: orig, Timestamp: ts[i], LinkType: link, Index: int64(i), Offset: off[i]})
		}
		return ps
	}
	ether := []InterfaceInfo{{LinkType: LinkTypeEthernet, Snaplen: 65535, Packets: 3}}
	etherCount := []LinkTypeCount{{LinkType: LinkTypeEthernet, Name: "Ethernet", Packets: 3}}
	micro := pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}
	microFile := micro.bytes(recs...)

	cases := []readerCase{
		{name: "little-endian µs", file: microFile, format: "pcap", want: want(microTS, offsets, LinkTypeEthernet)},
		{name: "big-endian µs", file: pcapFile{order: be, magic: magicMicros, snaplen: 65535, link: 1}.bytes(recs...), format: "pcap",
			want: want(microTS, offsets, LinkTypeEthernet)},
		{name: "little-endian ns", file: pcapFile{order: le, magic: magicNanos, snaplen: 65535, link: 1}.bytes(recs...), format: "pcap-ns",
			want: want(nanoTS, offsets, LinkTypeEthernet)},
		{name: "big-endian ns", file: pcapFile{order: be, magic: magicNanos, snaplen: 65535, link: 1}.bytes(recs...), format: "pcap-ns",
			want: want(nanoTS, offsets, LinkTypeEthernet)},
		{name: "modified little-endian", file: pcapFile{order: le, magic: magicModified, snaplen: 65535, link: 1}.bytes(recs...), format: "pcap-modified",
			want: want(microTS, modifiedOffsets, LinkTypeEthernet)},
		{name: "modified big-endian", file: pcapFile{order: be, magic: magicModified, snaplen: 65535, link: 1}.bytes(recs...), format: "pcap-modified",
			want: want(microTS, modifiedOffsets, LinkTypeEthernet)},
		{name: "gzip", file: gzipped(t, microFile), format: "pcap+gzip", want: want(microTS, offsets, LinkTypeEthernet)},
		{name: "gzip multistream split inside a record", file: gzipped(t, microFile[:50], microFile[50:]), format: "pcap+gzip",
			want: want(microTS, offsets, LinkTypeEthernet)},
	}
	for i := range cases {
		cases[i].interfaces, cases[i].linkTypes = ether, etherCount
		cases[i].firstNs, cases[i].lastNs = cases[i].want[0].Timestamp, cases[i].want[2].Timestamp
	}

	// The upper 16 bits of the link type field are FCS flags (here: FCS of
	// 4 bytes present), not part of the link type.
	fcs := pcapFile{order: le, magic: magicMicros, snaplen: 262144, link: 0x4400_0000 | 113}
	cases = append(cases, readerCase{
		name: "link type with FCS bits", file: fcs.bytes(recs[0]), format: "pcap",
		want:       []Packet{{Data: recs[0].data, OrigLen: 60, Timestamp: microTS[0], LinkType: LinkTypeLinuxSLL, Offset: 24}},
		interfaces: []InterfaceInfo{{LinkType: LinkTypeLinuxSLL, Snaplen: 262144, Packets: 1}},
		linkTypes:  []LinkTypeCount{{LinkType: LinkTypeLinuxSLL, Name: "Linux SLL", Packets: 1}},
		firstNs:    microTS[0], lastNs: microTS[0],
	})
	// Some writers store a captured length above the original length: the
	// record holds caplen bytes, so caplen is what is read.
	cases = append(cases, readerCase{
		name: "caplen above origlen", file: micro.bytes(pcapRec{sec: 1, frac: 2, orig: 10, data: payload(60, 9)}), format: "pcap",
		want:       []Packet{{Data: payload(60, 9), OrigLen: 10, Timestamp: 1_000002000, LinkType: LinkTypeEthernet, Offset: 24}},
		interfaces: []InterfaceInfo{{LinkType: LinkTypeEthernet, Snaplen: 65535, Packets: 1}},
		linkTypes:  []LinkTypeCount{{LinkType: LinkTypeEthernet, Name: "Ethernet", Packets: 1}},
		firstNs:    1_000002000, lastNs: 1_000002000,
	})
	cases = append(cases, readerCase{
		name: "header only", file: micro.bytes(), format: "pcap",
		interfaces: []InterfaceInfo{{LinkType: LinkTypeEthernet, Snaplen: 65535}},
		linkTypes:  []LinkTypeCount{{LinkType: LinkTypeEthernet, Name: "Ethernet"}},
	})
	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
}

func TestPcapngVariants(t *testing.T) {
	var cases []readerCase

	for _, order := range []struct {
		name  string
		order byteOrder
	}{{"little-endian", le}, {"big-endian", be}} {
		w := &ngWriter{}
		w.shb(order.order, 1, 0)
		w.idb(uint16(LinkTypeEthernet), 65535)
		off0 := w.epb(0, 1700000000_123456, 60, payload(60, 1))
		off1 := w.epb(0, 1700000001_000001, 9000, payload(3, 2))
		cases = append(cases, readerCase{
			name: order.name, file: w.buf, format: "pcapng",
			want: []Packet{
				{Data: payload(60, 1), OrigLen: 60, Timestamp: 1700000000_123456000, LinkType: LinkTypeEthernet, Index: 0, Offset: off0},
				{Data: payload(3, 2), OrigLen: 9000, Timestamp: 1700000001_000001000, LinkType: LinkTypeEthernet, Index: 1, Offset: off1},
			},
			interfaces: []InterfaceInfo{{LinkType: LinkTypeEthernet, Snaplen: 65535, Packets: 2}},
			linkTypes:  []LinkTypeCount{{LinkType: LinkTypeEthernet, Name: "Ethernet", Packets: 2}},
			firstNs:    1700000000_123456000, lastNs: 1700000001_000001000,
		})
		if order.name == "little-endian" {
			gz := cases[len(cases)-1]
			gz.name, gz.file, gz.format = "gzip", gzipped(t, w.buf), "pcapng+gzip"
			cases = append(cases, gz)
		}
	}

	// Two sections, the second big-endian; interfaces with 10^-9 and 2^-20
	// resolutions and offsets; every packet block type; blocks to skip.
	w := &ngWriter{}
	w.shb(le, 1, 0)
	w.idb(uint16(LinkTypeEthernet), 0, w.opt(optionIfName, []byte("eth0")), w.opt(optionIfTsResol, []byte{9}))
	offset100 := le.AppendUint64(nil, 100)
	w.idb(uint16(LinkTypeRaw), 128, w.opt(optionIfTsResol, []byte{0x80 | 20}), w.opt(optionIfTsOffset, offset100))
	w.block(4, []byte{1, 0, 4, 0, 10, 0, 0, 1, 0, 0, 0, 0}) // name resolution
	offA := w.epb(0, 1700000000_123456789, 60, payload(60, 1))
	// 4e9 s + 2^19 units (half a second) at 2^-20 s: units·10^9 overflows
	// 64 bits, the conversion must not.
	offB := w.epb(1, 4_000_000_000<<20|1<<19, 40, payload(40, 2))
	w.block(5, make([]byte, 20))                  // interface statistics
	w.block(0x00000BAD, []byte("custom!!"))       // custom block
	w.block(0x0FEDCBA9, make([]byte, 300))        // unknown type, larger than the small buffer
	offC := w.epb(1, 1<<20|1, 40, payload(40, 3)) // 1 s + 953.67 ns, rounded down
	offD := w.pb(0, 1700000000_000000005, 1500, payload(100, 4))
	offE := w.spb(10, payload(10, 5))
	w.shb(be, 1, 2)
	offsetHourBack := be.AppendUint64(nil, uint64(0xffffffffffffffff-3600+1)) // -3600 s
	w.idb(uint16(LinkTypeLinuxSLL), 262144, w.opt(optionIfTsOffset, offsetHourBack))
	offF := w.epb(0, 7200_000001, 1000, payload(1000, 6)) // µs by default
	cases = append(cases, readerCase{
		name: "sections interfaces and block types", file: w.buf, format: "pcapng",
		want: []Packet{
			{Data: payload(60, 1), OrigLen: 60, Timestamp: 1700000000_123456789, LinkType: LinkTypeEthernet, Index: 0, Offset: offA},
			{Data: payload(40, 2), OrigLen: 40, Timestamp: 4_000_000_100_500000000, LinkType: LinkTypeRaw, Index: 1, Offset: offB},
			{Data: payload(40, 3), OrigLen: 40, Timestamp: 101_000000953, LinkType: LinkTypeRaw, Index: 2, Offset: offC},
			{Data: payload(100, 4), OrigLen: 1500, Timestamp: 1700000000_000000005, LinkType: LinkTypeEthernet, Index: 3, Offset: offD},
			{Data: payload(10, 5), OrigLen: 10, Timestamp: 0, LinkType: LinkTypeEthernet, Index: 4, Offset: offE},
			{Data: payload(1000, 6), OrigLen: 1000, Timestamp: 3600_000001000, LinkType: LinkTypeLinuxSLL, Index: 5, Offset: offF},
		},
		interfaces: []InterfaceInfo{
			{Section: 0, ID: 0, LinkType: LinkTypeEthernet, Snaplen: 0, Name: "eth0", Packets: 3},
			{Section: 0, ID: 1, LinkType: LinkTypeRaw, Snaplen: 128, Packets: 2},
			{Section: 1, ID: 0, LinkType: LinkTypeLinuxSLL, Snaplen: 262144, Packets: 1},
		},
		linkTypes: []LinkTypeCount{
			{LinkType: LinkTypeEthernet, Name: "Ethernet", Packets: 3},
			{LinkType: LinkTypeRaw, Name: "Raw", Packets: 2},
			{LinkType: LinkTypeLinuxSLL, Name: "Linux SLL", Packets: 1},
		},
		firstNs: 101_000000953, lastNs: 4_000_000_100_500000000,
	})

	// A Simple Packet Block's captured length is the least of its original
	// length, the interface's snaplen and the room in the block.
	w = &ngWriter{}
	w.shb(le, 1, 0)
	w.idb(uint16(LinkTypeEthernet), 4)
	offSnap := w.spb(60, payload(8, 1))
	w.shb(le, 1, 0)
	w.idb(uint16(LinkTypeEthernet), 0)
	offRoom := w.spb(60, payload(8, 2))
	offOrig := w.spb(3, payload(8, 3))
	cases = append(cases, readerCase{
		name: "simple packet caplen", file: w.buf, format: "pcapng",
		want: []Packet{
			{Data: payload(4, 1), OrigLen: 60, LinkType: LinkTypeEthernet, Index: 0, Offset: offSnap},
			{Data: payload(8, 2), OrigLen: 60, LinkType: LinkTypeEthernet, Index: 1, Offset: offRoom},
			{Data: payload(3, 3), OrigLen: 3, LinkType: LinkTypeEthernet, Index: 2, Offset: offOrig},
		},
		interfaces: []InterfaceInfo{
			{Section: 0, LinkType: LinkTypeEthernet, Snaplen: 4, Packets: 1},
			{Section: 1, LinkType: LinkTypeEthernet, Packets: 2},
		},
		linkTypes: []LinkTypeCount{{LinkType: LinkTypeEthernet, Name: "Ethernet", Packets: 3}},
	})

	// if_tsresol 10^-12 (picoseconds): rounded down to whole nanoseconds.
	w = &ngWriter{}
	w.shb(be, 1, 0)
	w.idb(uint16(LinkTypeEthernet), 0, w.opt(optionIfTsResol, []byte{12}))
	offPico := w.epb(0, 12_345_678901234_567, 1, payload(1, 1))
	cases = append(cases, readerCase{
		name: "picosecond resolution", file: w.buf, format: "pcapng",
		want:       []Packet{{Data: payload(1, 1), OrigLen: 1, Timestamp: 12_345_678901234, LinkType: LinkTypeEthernet, Offset: offPico}},
		interfaces: []InterfaceInfo{{LinkType: LinkTypeEthernet, Packets: 1}},
		linkTypes:  []LinkTypeCount{{LinkType: LinkTypeEthernet, Name: "Ethernet", Packets: 1}},
		firstNs:    12_345_678901234, lastNs: 12_345_678901234,
	})

	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
}

func TestTimestampConversion(t *testing.T) {
	cases := []struct {
		name    string
		tsresol byte
		offset  int64
		units   uint64
		want    int64
		ok      bool
	}{
		{"µs", 6, 0, 1_500000, 1_500000000, true},
		{"ns", 9, 0, 1_000000001, 1_000000001, true},
		{"centiseconds", 2, 0, 150, 1_500000000, true},
		{"seconds", 0, 0, 7, 7_000000000, true},
		{"2^0", 0x80, 0, 7, 7_000000000, true},
		{"2^-1", 0x81, 0, 3, 1_500000000, true},
		{"2^-63", 0x80 | 63, 0, 1<<63 | 1<<62, 1_500000000, true},
		{"10^-19", 19, 0, 1e19 + 1, 1_000000000, true},
		{"ns at the int64 limit", 9, 0, 1<<63 - 1, 1<<63 - 1, true},
		{"ns past the int64 limit", 9, 0, 1 << 63, 0, false},
		{"µs past the int64 limit", 6, 0, 1<<63 - 1, 0, false},
		{"2^-20 past the int64 limit", 0x80 | 20, 0, 1<<64 - 1, 0, false},
		{"offset pushes past the limit", 9, 1, 1<<63 - 1, 0, false},
		{"negative offset", 6, -10, 1_000000, -9_000000000, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var clock tsClock
			clock.offsetNs = tc.offset * 1e9
			if !clock.setResolution(tc.tsresol) {
				t.Fatalf("setResolution(0x%02x) refused", tc.tsresol)
			}
			got, ok := clock.nanos(tc.units)
			if got != tc.want || ok != tc.ok {
				t.Errorf("nanos(%d) = %d, %v; want %d, %v", tc.units, got, ok, tc.want, tc.ok)
			}
		})
	}
	var clock tsClock
	for _, v := range []byte{20, 0x7f, 0x80 | 64, 0xff} {
		if clock.setResolution(v) {
			t.Errorf("setResolution(0x%02x) accepted a resolution finer than 64 bits hold", v)
		}
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"pcap", benchPcap(1000)},
		{"pcapng", benchPcapng(1000)},
		{"pcap gzip", gzipped(t, benchPcap(1000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewReader(tc.name, bytes.NewReader(tc.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var p Packet
			allocs := testing.AllocsPerRun(500, func() {
				if err := c.Next(&p); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Next allocates %.1f times per packet, want 0", allocs)
			}
		})
	}
}

// TestGunzipCap: a gzip capture that expands beyond MaxGunzipBytes ends with
// ErrTooLarge at the cap, whatever its compressed size.
func TestGunzipCap(t *testing.T) {
	raw, err := os.ReadFile("../testdata/rec/http-v4.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	path := filepath.Join(t.TempDir(), "c.pcap.gz")
	os.WriteFile(path, gz.Bytes(), 0o644)
	for _, tt := range []struct {
		max     int64
		tooLong bool
	}{{0, false}, {int64(len(raw)), false}, {int64(len(raw)) - 1, true}, {1000, true}} {
		c, err := Open(path, Options{MaxGunzipBytes: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		for err = c.Next(&p); err == nil; err = c.Next(&p) {
		}
		c.Close()
		if got := errors.Is(err, ErrTooLarge); got != tt.tooLong || (!tt.tooLong && err != io.EOF) {
			t.Errorf("cap %d: %v", tt.max, err)
		}
	}
}

// TestNewSizedReader: a stream of a known length reports it, and one that
// gives another number of bytes fails Finish.
func TestNewSizedReader(t *testing.T) {
	data, err := os.ReadFile("../testdata/gen/tcp-sf.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		size int64
		ok   bool
	}{{"right size", int64(len(data)), true}, {"stated larger", int64(len(data)) + 1, false}} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewSizedReader("s3://caps/tcp-sf.pcap", bytes.NewReader(data), tt.size, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Size() != tt.size {
				t.Errorf("Size() = %d, want %d", c.Size(), tt.size)
			}
			var p Packet
			for c.Next(&p) == nil {
			}
			info, err := c.Finish()
			if (err == nil) != tt.ok || tt.ok && info.Size != int64(len(data)) {
				t.Errorf("Finish = %+v, %v; want ok %v", info, err, tt.ok)
			}
		})
	}
}
