package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fuzzOptions keeps the caps small so that the fuzzer reaches them, and the
// buffer tiny so that most records take the copy path.
var fuzzOptions = Options{MaxPacketBytes: 4096, MaxBlockBytes: 8192, MaxInterfaces: 16, ReadBufferBytes: 64}

func fuzzSeeds(t testing.TB) [][]byte {
	recs := []pcapRec{{sec: 1, frac: 2, data: payload(60, 1)}, {sec: 3, frac: 4, orig: 9000, data: payload(100, 2)}}
	seeds := [][]byte{
		pcapFile{order: le, magic: magicMicros, snaplen: 65535, link: 1}.bytes(recs...),
		pcapFile{order: be, magic: magicNanos, snaplen: 65535, link: 113}.bytes(recs...),
		pcapFile{order: le, magic: magicModified, snaplen: 65535, link: 1}.bytes(recs...),
	}
	w := &ngWriter{}
	w.shb(le, 1, 0)
	w.idb(uint16(LinkTypeEthernet), 0, w.opt(optionIfName, []byte("eth0")), w.opt(optionIfTsResol, []byte{9}))
	w.idb(uint16(LinkTypeRaw), 128, w.opt(optionIfTsResol, []byte{0x80 | 20}), w.opt(optionIfTsOffset, le.AppendUint64(nil, 100)))
	w.block(4, []byte{1, 0, 4, 0, 10, 0, 0, 1, 0, 0, 0, 0})
	w.epb(0, 1700000000_123456789, 60, payload(60, 1))
	w.epb(1, 1<<40, 40, payload(40, 2))
	w.block(0xBAD, []byte("custom!!"))
	w.pb(0, 5, 1500, payload(100, 4))
	w.spb(10, payload(10, 5))
	w.shb(be, 1, 0)
	w.idb(uint16(LinkTypeLinuxSLL), 4)
	w.epb(0, 7200_000001, 1000, payload(100, 6))
	w.spb(60, payload(8, 7))
	seeds = append(seeds, w.buf)
	for _, s := range seeds[:len(seeds):len(seeds)] {
		seeds = append(seeds, gzipped(t, s))
	}
	return seeds
}

// FuzzReader feeds arbitrary bytes to the reader twice, with a tiny and a
// large read buffer: it must never panic, never hand out more than the caps,
// hash exactly the input, and give the same packets and error either way.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	// Small public captures, when the corpus is there, are good seeds too.
	if dir, err := publicCorpusDir(); err == nil {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.Contains(path, "reference") {
				if b, err := os.ReadFile(path); err == nil && len(b) <= 8<<10 {
					f.Add(b)
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		small := fuzzRead(t, data, fuzzOptions)
		large := fuzzOptions
		large.ReadBufferBytes = 64 << 10
		if big := fuzzRead(t, data, large); !slices.Equal(small, big) {
			t.Fatalf("buffer size changes the result:\n64 B:   %q\n64 KiB: %q", small, big)
		}
	})
}

// fuzzRead reads data to its end, checks the reader's invariants, and
// summarises what it read.
func fuzzRead(t *testing.T, data []byte, opts Options) []string {
	c, err := NewReader("fuzz", bytes.NewReader(data), opts)
	var summary []string
	if err == nil {
		var p Packet
		for err = c.Next(&p); err == nil; err = c.Next(&p) {
			if p.Index != int64(len(summary)) || len(p.Data) > max(opts.MaxPacketBytes, opts.MaxBlockBytes) {
				t.Fatalf("packet %d: index %d, %d bytes", len(summary), p.Index, len(p.Data))
			}
			sum := sha256.Sum256(p.Data)
			summary = append(summary, fmt.Sprintf("%x %d %d %d %d", sum[:8], p.OrigLen, p.Timestamp, p.LinkType, p.Offset))
		}
		if cap(c.scratch) > max(opts.MaxPacketBytes, opts.MaxBlockBytes) {
			t.Fatalf("scratch buffer grew to %d bytes, above the caps", cap(c.scratch))
		}
		info, ferr := c.Finish()
		sum := sha256.Sum256(data)
		if ferr != nil || info.Size != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) || info.Packets != int64(len(summary)) {
			t.Fatalf("Finish: %v, %+v", ferr, info)
		}
	}
	if err != io.EOF {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "fuzz" {
			t.Fatalf("error %v (%T) is not a *FormatError naming the input", err, err)
		}
		if !slices.ContainsFunc([]error{ErrNotCapture, ErrTruncated, ErrCorrupt, ErrTooLarge, ErrUnsupported}, func(s error) bool { return errors.Is(err, s) }) {
			t.Fatalf("error %v wraps none of the format sentinels", err)
		}
		if want := int64(len(summary)); c == nil && fe.Packet != -1 || c != nil && fe.Packet != want {
			t.Fatalf("error names packet %d after %d packets (Open failed: %v)", fe.Packet, want, c == nil)
		}
	}
	return append(summary, fmt.Sprint(err))
}

// TestFuzzSeedsRead keeps the seeds honest: each must read to a clean end,
// or the fuzzer starts from broken files.
func TestFuzzSeedsRead(t *testing.T) {
	for i, s := range fuzzSeeds(t) {
		if _, _, err := readAll(t, s, fuzzOptions); err != io.EOF {
			t.Errorf("seed %d: %v", i, err)
		}
	}
}
