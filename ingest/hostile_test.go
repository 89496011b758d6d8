package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// hostileCase is a file that is good up to a point (the capture good) and
// bad after it.
type hostileCase struct {
	name     string
	good     []byte // nil when the file header itself is bad
	file     []byte
	opts     Options
	sentinel error
	packet   int64 // FormatError.Packet: -1 for the file header
	offset   int64 // FormatError.Offset: where the bad record starts
	msg      string
}

func (tc hostileCase) check(t *testing.T) {
	pkts, info, err := readAll(t, tc.file, tc.opts)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want a *FormatError", err, err)
	}
	if !errors.Is(err, tc.sentinel) || fe.File != "test.cap" || fe.Packet != tc.packet || fe.Offset != tc.offset {
		t.Errorf("got %#v (%v)\nwant Err %v, Packet %d, Offset %d", fe, err, tc.sentinel, tc.packet, tc.offset)
	}
	if !strings.Contains(err.Error(), tc.msg) {
		t.Errorf("message %q does not say %q", err, tc.msg)
	}
	if tc.good == nil {
		return
	}
	want, _, goodErr := readAll(t, tc.good, tc.opts)
	if goodErr != io.EOF {
		t.Fatalf("the good part does not read cleanly: %v", goodErr)
	}
	if !reflect.DeepEqual(pkts, want) {
		t.Errorf("packets before the error:\n got %+v\nwant %+v", pkts, want)
	}
	// Finish hashes the whole file even though reading stopped early.
	if sum := sha256.Sum256(tc.file); info.SHA256 != hex.EncodeToString(sum[:]) || info.Size != int64(len(tc.file)) {
		t.Errorf("FileInfo size %d sha256 %s does not cover the whole file", info.Size, info.SHA256)
	}
	if info.Packets != int64(len(want)) {
		t.Errorf("FileInfo.Packets = %d, want %d", info.Packets, len(want))
	}
}

func TestHostilePcap(t *testing.T) {
	f := pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}
	good := f.bytes(pcapRec{sec: 1, data: payload(60, 1)}, pcapRec{sec: 2, data: payload(1, 2)})
	const end = 24 + 16 + 60 + 16 + 1 // where the third record starts
	then := func(bad []byte) []byte { return append(bytes.Clone(good), bad...) }
	hugeCaplen := f.record(pcapRec{data: payload(4, 3)})
	le.PutUint32(hugeCaplen[8:], 0xffffff00)
	goodGzip := gzipped(t, good)
	badCRC := bytes.Clone(goodGzip)
	badCRC[len(badCRC)-8] ^= 0xff
	version1 := f.header()
	le.PutUint16(version1[4:], 1)

	for _, tc := range []hostileCase{
		{name: "zero-length file", file: nil, sentinel: ErrNotCapture, packet: -1, msg: "the file is empty"},
		{name: "three bytes", file: []byte{0xd4, 0xc3, 0xb2}, sentinel: ErrNotCapture, packet: -1, msg: "only 3 bytes"},
		{name: "text", file: []byte("GET / HTTP/1.1\r\n"), sentinel: ErrNotCapture, packet: -1,
			msg: `expected a pcap or pcapng capture (or a gzip of one); got magic 0x47455420: looks like text (starts with "GET ")`},
		{name: "zip archive", file: []byte("PK\x03\x04\x14\x00"), sentinel: ErrNotCapture, packet: -1, msg: "zip archive; extract"},
		{name: "unknown binary", file: []byte{0, 1, 2, 3, 4}, sentinel: ErrNotCapture, packet: -1, msg: "got magic 0x00010203"},
		{name: "gzip header cut short", file: goodGzip[:6], sentinel: ErrTruncated, packet: -1, msg: "the gzip header is cut short (the file has 6 bytes)"},
		{name: "gzip of nothing", file: gzipped(t, nil), sentinel: ErrNotCapture, packet: -1, msg: "empty inside the gzip stream"},
		{name: "truncated file header", file: good[:20], sentinel: ErrTruncated, packet: -1,
			msg: "pcap file header needs 24 bytes, the file ends after 20"},
		{name: "version 1", file: version1, sentinel: ErrUnsupported, packet: -1, msg: "pcap version 1.4"},
		{name: "truncated record header", good: good, file: then(f.record(pcapRec{data: payload(10, 3)})[:7]),
			sentinel: ErrTruncated, packet: 2, offset: end, msg: "record header needs 16 bytes, the file ends after 7"},
		{name: "truncated packet body", good: good, file: then(f.record(pcapRec{data: payload(100, 3)})[:16+50]),
			sentinel: ErrTruncated, packet: 2, offset: end, msg: "packet data needs 100 bytes, the file ends after 50"},
		{name: "huge caplen", good: good, file: then(hugeCaplen),
			sentinel: ErrTooLarge, packet: 2, offset: end, msg: "captured length 4294967040 is above the 262144-byte cap"},
		{name: "caplen one above the cap", opts: Options{MaxPacketBytes: 60}, good: good, file: then(f.record(pcapRec{data: payload(61, 3)})),
			sentinel: ErrTooLarge, packet: 2, offset: end, msg: "captured length 61 is above the 60-byte cap (Options.MaxPacketBytes)"},
		{name: "gzip with a bad checksum", good: good, file: badCRC,
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "gzip stream: gzip: invalid checksum"},
		{name: "gzip followed by garbage", good: good, file: append(bytes.Clone(goodGzip), "garbage, not gzip"...),
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "gzip stream: gzip: invalid header"},
	} {
		t.Run(tc.name, tc.check)
	}
}

func TestHostilePcapng(t *testing.T) {
	w := &ngWriter{}
	w.shb(le, 1, 0)
	w.idb(uint16(LinkTypeEthernet), 0)
	w.epb(0, 1, 60, payload(60, 1))
	w.epb(0, 2, 1, payload(1, 2))
	good := w.buf
	end := int64(len(good)) // 28 SHB + 20 IDB + 92 + 36
	then := func(build func(w *ngWriter)) []byte {
		w := &ngWriter{order: le, buf: bytes.Clone(good)}
		build(w)
		return w.buf
	}
	raw := func(words ...uint32) func(w *ngWriter) {
		return func(w *ngWriter) {
			for _, v := range words {
				w.buf = le.AppendUint32(w.buf, v)
			}
		}
	}
	badBOM := bytes.Clone(good)
	le.PutUint32(badBOM[8:], 0x1a2b3c4e)
	version2 := bytes.Clone(good)
	le.PutUint16(version2[12:], 2)
	badTrailer := then(func(w *ngWriter) { w.epb(0, 3, 4, payload(4, 3)) })
	le.PutUint32(badTrailer[len(badTrailer)-4:], 40)
	bigCaplen := then(func(w *ngWriter) { w.epb(0, 3, 4, payload(4, 3)) })
	le.PutUint32(bigCaplen[end+20:], 5)
	overrun := then(func(w *ngWriter) { w.idb(1, 0, w.opt(optionIfTsResol, []byte{9})) })
	le.PutUint16(overrun[end+18:], 200) // the option's length
	bigSkipped := then(func(w *ngWriter) { w.block(0xBAD, make([]byte, 200)) })
	le.PutUint32(bigSkipped[len(bigSkipped)-4:], 8)

	for _, tc := range []hostileCase{
		{name: "truncated section header", file: good[:20], sentinel: ErrTruncated, packet: -1,
			msg: "block needs 28 bytes, the file ends after 20"},
		{name: "bad byte-order magic", file: badBOM, sentinel: ErrCorrupt, packet: -1, msg: "byte-order magic is 0x4e3c2b1a"},
		{name: "version 2 section at the start", file: version2, sentinel: ErrUnsupported, packet: -1, msg: "pcapng section version 2.0"},
		{name: "version 2 section after packets", good: good, file: then(func(w *ngWriter) { w.shb(be, 2, 0) }),
			sentinel: ErrUnsupported, packet: 2, offset: end, msg: "pcapng section version 2.0"},
		{name: "truncated block header", good: good, file: then(raw(6))[:end+5],
			sentinel: ErrTruncated, packet: 2, offset: end, msg: "block header needs 8 bytes, the file ends after 5"},
		{name: "truncated block", good: good, file: then(func(w *ngWriter) { w.epb(0, 3, 60, payload(60, 3)) })[:end+50],
			sentinel: ErrTruncated, packet: 2, offset: end, msg: "block needs 92 bytes, the file ends after 50"},
		{name: "huge block length", good: good, file: then(raw(6, 0xfffffff0)),
			sentinel: ErrTooLarge, packet: 2, offset: end, msg: "block total length 4294967280 is above the 16842752-byte cap"},
		{name: "block one step above the cap", opts: Options{MaxBlockBytes: 92}, good: good, file: then(func(w *ngWriter) { w.epb(0, 3, 61, payload(61, 3)) }),
			sentinel: ErrTooLarge, packet: 2, offset: end, msg: "block total length 96 is above the 92-byte cap (Options.MaxBlockBytes)"},
		{name: "block length not a multiple of 4", good: good, file: then(raw(6, 33)),
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "block total length 33 is not a multiple of 4"},
		{name: "block length below 12", good: good, file: then(raw(6, 8)),
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "block total length 8 is not a multiple of 4 of at least 12"},
		{name: "mismatched trailing length", good: good, file: badTrailer,
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "block total length 40 at its end differs from 36 at its start"},
		{name: "packet on an unknown interface", good: good, file: then(func(w *ngWriter) { w.epb(1, 3, 4, payload(4, 3)) }),
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "packet names interface 1, but section 0 has declared 1 interface(s)"},
		{name: "captured length beyond its block", good: good, file: bigCaplen,
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "captured length 5 is more than the 4 bytes its block holds"},
		{name: "packet block below its minimum", good: good, file: then(func(w *ngWriter) { w.block(blockEnhancedPacket, make([]byte, 8)) }),
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "packet block of 20 bytes is shorter than its 32-byte minimum"},
		{name: "simple packet before any interface", file: func() []byte {
			w := &ngWriter{}
			w.shb(le, 1, 0)
			w.spb(4, payload(4, 1))
			return w.buf
		}(), sentinel: ErrCorrupt, packet: 0, offset: 28, msg: "simple packet block before any interface description block in section 0"},
		{name: "too many interfaces", opts: Options{MaxInterfaces: 1}, good: good, file: then(func(w *ngWriter) { w.idb(1, 0) }),
			sentinel: ErrTooLarge, packet: 2, offset: end, msg: "more than 1 interface description blocks"},
		{name: "resolution finer than 64 bits hold", good: good, file: then(func(w *ngWriter) { w.idb(1, 0, w.opt(optionIfTsResol, []byte{20})) }),
			sentinel: ErrUnsupported, packet: 2, offset: end, msg: "if_tsresol 0x14"},
		{name: "interface option overruns its block", good: good, file: overrun,
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "interface option 9 of 200 bytes overruns its block"},
		{name: "timestamp past 2262", good: good, file: then(func(w *ngWriter) {
			w.idb(1, 0, w.opt(optionIfTsResol, []byte{9}))
			w.epb(1, 1<<63, 4, payload(4, 3))
		}), sentinel: ErrCorrupt, packet: 2, offset: end + 32, msg: "timestamp 9223372036854775808 (interface 1 units) is past"},
		{name: "skipped block larger than the buffer, truncated", opts: Options{ReadBufferBytes: 64}, good: good,
			file:     then(func(w *ngWriter) { w.block(0xBAD, make([]byte, 200)) })[:end+150],
			sentinel: ErrTruncated, packet: 2, offset: end, msg: "block needs 212 bytes, the file ends after 150"},
		{name: "skipped block larger than the buffer, bad trailer", opts: Options{ReadBufferBytes: 64}, good: good, file: bigSkipped,
			sentinel: ErrCorrupt, packet: 2, offset: end, msg: "block total length 8 at its end differs from 212 at its start"},
	} {
		t.Run(tc.name, tc.check)
	}
}

// A gzip file cut in the middle gives the packets decompressed before the
// cut, then ErrTruncated at the first packet it cut.
func TestGzipCutShort(t *testing.T) {
	var recs []pcapRec
	for i := range 200 {
		recs = append(recs, pcapRec{sec: uint32(i), data: payload(100+i, byte(i))})
	}
	whole := pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}.bytes(recs...)
	all, _, err := readAll(t, whole, Options{})
	if err != io.EOF {
		t.Fatal(err)
	}
	gz := gzipped(t, whole)
	pkts, _, err := readAll(t, gz[:len(gz)/2], Options{})
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "gzip stream ends early") {
		t.Fatalf("got %v, want ErrTruncated saying the gzip stream ends early", err)
	}
	if len(pkts) == 0 || len(pkts) >= len(all) || !reflect.DeepEqual(pkts, all[:len(pkts)]) {
		t.Fatalf("got %d packets, want a non-empty proper prefix of the %d", len(pkts), len(all))
	}
	if fe.Packet != int64(len(pkts)) || fe.Offset != all[len(pkts)].Offset {
		t.Errorf("error at packet %d offset %d, want packet %d offset %d", fe.Packet, fe.Offset, len(pkts), all[len(pkts)].Offset)
	}
}

var errDisk = errors.New("input/output error")

// failingReader returns its data, then err instead of io.EOF.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadErrorKeepsTheCause(t *testing.T) {
	good := pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}.bytes(pcapRec{sec: 1, data: payload(60, 1)})
	c, err := NewReader("disk.pcap", &failingReader{data: good, err: errDisk}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := c.Next(&p); err != nil {
		t.Fatal(err)
	}
	err = c.Next(&p)
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrRead) || !errors.Is(err, errDisk) || fe.Packet != 1 || fe.Offset != 100 {
		t.Fatalf("got %v, want a FormatError at packet 1, offset 100, wrapping ErrRead and the cause", err)
	}
	if _, err := c.Finish(); !errors.Is(err, errDisk) {
		t.Errorf("Finish: got %v, want the read error", err)
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	file := pcapFile{order: be, magic: magicNanos, snaplen: 65535, link: 1}.bytes(
		pcapRec{sec: 1, frac: 1, data: payload(60, 1)}, pcapRec{sec: 2, frac: 2, data: payload(70, 2)})
	path := filepath.Join(dir, "capture.bin") // the name does not matter
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Size() != int64(len(file)) {
		t.Errorf("Size() = %d, want %d", c.Size(), len(file))
	}
	var p Packet
	if err := c.Next(&p); err != nil || p.Timestamp != 1_000000001 {
		t.Fatalf("Next: %v, timestamp %d", err, p.Timestamp)
	}
	if c.BytesRead() != int64(len(file)) {
		t.Errorf("BytesRead() = %d after the first read of a small file, want %d", c.BytesRead(), len(file))
	}
	// Finish before the end still hashes the whole file, and ends reading.
	info, err := c.Finish()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(file)
	if info.Path != path || info.Name != "capture.bin" || info.SHA256 != hex.EncodeToString(sum[:]) || info.Packets != 1 || info.Format != "pcap-ns" {
		t.Errorf("FileInfo %+v", info)
	}
	if err := c.Next(&p); err != errFinished {
		t.Errorf("Next after Finish: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Next after Close, without Finish, is an error too, not a panic.
	c2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if err := c2.Next(&p); err != errClosed {
		t.Errorf("Next after Close: %v", err)
	}
	if _, err := c2.Finish(); !errors.Is(err, errClosed) {
		t.Errorf("Finish after Close: %v", err)
	}

	empty := filepath.Join(dir, "empty.pcap")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var fe *FormatError
	if _, err := Open(empty, Options{}); !errors.As(err, &fe) || !errors.Is(err, ErrNotCapture) || fe.File != empty {
		t.Errorf("empty file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.pcap"), Options{}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.pcap") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
}

// Finish notices a file that grew after Open: its hash would not match the
// size recorded.
func TestFinishDetectsGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "growing.pcap")
	f := pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}
	if err := os.WriteFile(path, f.bytes(pcapRec{sec: 1, data: payload(60, 1)}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write(f.record(pcapRec{sec: 2, data: payload(10, 2)})); err != nil {
		t.Fatal(err)
	}
	out.Close()
	if _, err := c.Finish(); err == nil || !strings.Contains(err.Error(), "file size changed while it was read") {
		t.Errorf("Finish: %v, want a size-changed error", err)
	}
}

// BytesRead is for a progress display running in another goroutine.
func TestBytesReadWhileReading(t *testing.T) {
	file := benchPcap(5000)
	c, err := NewReader("progress.pcap", bytes.NewReader(file), Options{ReadBufferBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	progress := make(chan int64)
	go func() {
		var last int64
		for {
			select {
			case <-done:
				progress <- last
				return
			default:
				if n := c.BytesRead(); n < last {
					t.Errorf("BytesRead went back from %d to %d", last, n)
				} else {
					last = n
				}
			}
		}
	}()
	var p Packet
	for err == nil {
		err = c.Next(&p)
	}
	close(done)
	if last := <-progress; err != io.EOF || last > int64(len(file)) || c.BytesRead() != int64(len(file)) {
		t.Errorf("ended with %v; BytesRead %d (seen %d), want %d", err, c.BytesRead(), last, len(file))
	}
}

// TestGzipFinishEarly: Finish in the middle of a gzipped capture stops the
// decompressing goroutine before reading the rest of the file itself, and
// the digest still covers the whole file; Close alone stops it too.
func TestGzipFinishEarly(t *testing.T) {
	var recs []pcapRec
	for i := range 5000 {
		recs = append(recs, pcapRec{sec: uint32(i), data: payload(200+i%300, byte(i))})
	}
	gz := gzipped(t, pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}.bytes(recs...))
	want := sha256.Sum256(gz)
	for _, opts := range []Options{{}, {ReadBufferBytes: 4096}} { // small buffers: the goroutine is mid-file
		c, err := NewReader("early.pcap.gz", bytes.NewReader(gz), opts)
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		for range 10 {
			if err := c.Next(&p); err != nil {
				t.Fatal(err)
			}
		}
		info, err := c.Finish()
		if err != nil || info.SHA256 != hex.EncodeToString(want[:]) || info.Size != int64(len(gz)) {
			t.Errorf("buffers %d: Finish %v, sha256 %s size %d, want the whole file's", opts.ReadBufferBytes, err, info.SHA256, info.Size)
		}
		c.Close()

		c, err = NewReader("closed.pcap.gz", bytes.NewReader(gz), opts)
		if err != nil {
			t.Fatal(err)
		}
		c.Next(&p)
		c.Close()
	}
}
