// Command manyflows writes the many-live-flows capture of `make bench`: N TCP
// clients (distinct addresses and ports) each send a SYN to one server, all
// within a second, and then each sends an ACK a second later, so that all N
// flows are live at once (none closes, none idles out). It shows how memory
// follows the number of live flows.
//
//	go run ./testdata/bench/manyflows [-n 400000] OUT.pcap
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/flowproof/flowproof/testdata/bench/rawpcap"
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
	w, err := rawpcap.Create(path)
	if err != nil {
		return err
	}
	for round, flags := range []byte{0x02, 0x10} { // SYN, then ACK
		for i := range n {
			err := w.Write(rawpcap.Segment{
				Us:      1_700_000_000_000_000 + int64(round)*1_000_000 + int64(i)*1_000_000/int64(n),
				Src:     0x0a000000 | uint32(i), // 10.x.y.z
				Dst:     0xc0a80001,             // 192.168.0.1
				SrcPort: uint16(1024 + i%60000),
				DstPort: 443,
				Flags:   flags,
				Seq:     uint32(i)*7919 + 1000 + uint32(round),
			})
			if err != nil {
				w.Close()
				return err
			}
		}
	}
	return w.Close()
}
