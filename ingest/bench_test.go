package ingest

import (
	"bytes"
	"io"
	"testing"
)

const benchPackets = 100_000

// benchSizes cycles through small frames, the case where per-packet
// overhead dominates: bare TCP ACKs, small UDP, a DNS answer.
var benchSizes = [...]int{54, 60, 66, 74, 90, 128, 200}

func benchPcap(n int) []byte {
	f := pcapFile{order: le, magic: magicMicros, snaplen: 262144, link: uint32(LinkTypeEthernet)}
	b := f.header()
	for i := range n {
		b = append(b, f.record(pcapRec{sec: 1700000000 + uint32(i/1000), frac: uint32(i%1000) * 1000, data: payload(benchSizes[i%len(benchSizes)], byte(i))})...)
	}
	return b
}

func benchPcapng(n int) []byte {
	w := &ngWriter{}
	w.shb(le, 1, 0)
	w.idb(uint16(LinkTypeEthernet), 262144, w.opt(optionIfTsResol, []byte{9}))
	for i := range n {
		size := benchSizes[i%len(benchSizes)]
		w.epb(0, 1700000000_000000000+uint64(i)*1000, uint32(size), payload(size, byte(i)))
	}
	return w.buf
}

func benchmarkRead(b *testing.B, file []byte, packets int) {
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	var p Packet
	for b.Loop() {
		c, err := NewReader("bench", bytes.NewReader(file), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			if err = c.Next(&p); err != nil {
				break
			}
			n++
		}
		if err != io.EOF || n != packets {
			b.Fatalf("read %d packets, ended with %v", n, err)
		}
		if _, err := c.Finish(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packets), "ns/packet")
}

func BenchmarkReadPcap(b *testing.B) {
	benchmarkRead(b, benchPcap(benchPackets), benchPackets)
}

func BenchmarkReadPcapng(b *testing.B) {
	benchmarkRead(b, benchPcapng(benchPackets), benchPackets)
}

func BenchmarkReadPcapGzip(b *testing.B) {
	benchmarkRead(b, gzipped(b, benchPcap(benchPackets)), benchPackets)
}
