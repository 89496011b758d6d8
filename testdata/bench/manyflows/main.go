// Command manyflows writes the many-live-flows capture of `make bench`: N TCP
// clients (distinct addresses and ports) each send a SYN to one server, all
// within a second, and then each sends an ACK a second later, so that all N
// flows are live at once (none closes, none idles out). It shows how memory
// follows the number of live flows.
//
//	go run ./testdata/bench/manyflows [-n 400000] OUT.pcap
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
)

func main() {
	n := flag.Int("n", 400000, "number of `flows`, at most 16,777,216")
	flag.Parse()
	if flag.NArg() != 1 || *n < 1 || *n > 1<<24 {
		fmt.Fprintln(os.Stderr, "usage: manyflows [-n FLOWS] OUT.pcap")
		os.Exit(2)
	}
	if err := write(flag.Arg(0), *n); err != nil {
		fmt.Fprintln(os.Stderr, "manyflows:", err)
		os.Exit(1)
	}
}

func write(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [24]byte // pcap, microseconds, Ethernet
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	w.Write(hdr[:])
	var rec [16 + 54]byte
	for round, flags := range []byte{0x02, 0x10} { // SYN, then ACK
		for i := range n {
			us := int64(round)*1_000_000 + int64(i)*1_000_000/int64(n)
			binary.LittleEndian.PutUint32(rec[0:], uint32(1_700_000_000+us/1_000_000))
			binary.LittleEndian.PutUint32(rec[4:], uint32(us%1_000_000))
			binary.LittleEndian.PutUint32(rec[8:], 54)
			binary.LittleEndian.PutUint32(rec[12:], 54)
			frame := rec[16:]
			clear(frame)
			binary.BigEndian.PutUint16(frame[12:], 0x0800)
			ip := frame[14:]
			ip[0], ip[8], ip[9] = 0x45, 64, 6
			binary.BigEndian.PutUint16(ip[2:], 40)
			copy(ip[12:16], []byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			copy(ip[16:20], []byte{192, 168, 0, 1})
			tcp := ip[20:]
			binary.BigEndian.PutUint16(tcp[0:], uint16(1024+i%60000))
			binary.BigEndian.PutUint16(tcp[2:], 443)
			binary.BigEndian.PutUint32(tcp[4:], uint32(i)*7919+1000+uint32(round))
			tcp[12], tcp[13] = 5<<4, flags
			binary.BigEndian.PutUint16(tcp[14:], 65535)
			if _, err := w.Write(rec[:]); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
