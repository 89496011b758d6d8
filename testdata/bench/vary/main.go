// Command vary writes the bench capture of `make bench` again with every
// HTTP head distinct, as a service with ids in its paths and a request id
// per call sends them: ab's URI (/small.txt -> /s/NNNNNNN) and User-Agent
// (ApacheBench/2.3 -> ab/NNNNNNNNNNNN), wrk's URI (/tiny.txt -> /t/NNNNNN)
// and nginx's ETag value carry a counter. Every field keeps its length, so
// sequence numbers, lengths and times stay those of the recording (the
// checksums are left stale: flowproof does not check them). The bench
// capture's heads otherwise repeat, and the parser's shortcut for a head
// equal to the last one (analyze/l7/http, Interner) would be all --l7 is
// measured on.
//
//	go run ./testdata/bench/vary IN.pcap OUT.pcap
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// field is a value to rewrite: where pattern is found in a frame's first
// bytes, the width bytes at offset from it get the counter, in digits after prefix.
type field struct {
	pattern       []byte
	offset, width int
	prefix        string
	hex           bool
}

var fields = []field{
	{[]byte("GET /small.txt HTTP/1.0"), 4, 10, "/s/", false},
	{[]byte("User-Agent: ApacheBench/2.3"), 12, 15, "ab/", false},
	{[]byte("GET /tiny.txt HTTP/1.1"), 4, 9, "/t/", false},
	{[]byte(`ETag: "6b127780-400"`), 7, 8, "", true},
}

// maxFrame bounds a record's length, as a snapshot length would.
const maxFrame = 1 << 18

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: vary IN.pcap OUT.pcap")
		os.Exit(2)
	}
	n, err := rewrite(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vary:", err)
		os.Exit(1)
	}
	fmt.Printf("%d fields rewritten\n", n)
}

func rewrite(in, out string) (int, error) {
	f, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("%s: read header: %w", in, err)
	}
	if m := binary.LittleEndian.Uint32(hdr[:]); m != 0xa1b2c3d4 && m != 0xa1b23c4d {
		return 0, fmt.Errorf("%s: not a little-endian classic pcap (magic %#x)", in, m)
	}
	o, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(o, 1<<20)
	w.Write(hdr[:])
	n := 0
	frame := make([]byte, maxFrame)
	for index := 0; ; index++ {
		var rec [16]byte
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			o.Close()
			return n, fmt.Errorf("%s: record %d: %w", in, index, err)
		}
		incl := binary.LittleEndian.Uint32(rec[8:])
		if incl > maxFrame {
			o.Close()
			return n, fmt.Errorf("%s: record %d: %d bytes, more than %d", in, index, incl, maxFrame)
		}
		b := frame[:incl]
		if _, err := io.ReadFull(r, b); err != nil {
			o.Close()
			return n, fmt.Errorf("%s: record %d: %w", in, index, err)
		}
		head := b[:min(len(b), 512)]
		for _, fl := range fields {
			i := bytes.Index(head, fl.pattern)
			if i < 0 {
				continue
			}
			n++
			v := fl.prefix
			digits := fl.width - len(v)
			if fl.hex {
				v += fmt.Sprintf("%0*x", digits, uint64(n)&(1<<(4*digits)-1))
			} else {
				s := strconv.Itoa(n)
				if len(s) > digits {
					s = s[len(s)-digits:]
				}
				v += fmt.Sprintf("%0*s", digits, s)
			}
			copy(b[i+fl.offset:i+fl.offset+fl.width], v)
		}
		w.Write(rec[:])
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		o.Close()
		return n, err
	}
	return n, o.Close()
}
