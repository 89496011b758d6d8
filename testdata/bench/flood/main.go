// Command flood writes the SYN-flood capture of `make bench`: N spoofed
// sources (distinct addresses and ports) each send one SYN to one server,
// 10.50.0.1:80, evenly over D seconds; the server answers every tenth with a
// SYN/ACK that is never acknowledged. Beside them, C normal clients open,
// use and close a connection each (SYN, SYN/ACK, ACK, a request, a response,
// FIN both ways: 9 packets), spread over the flood. The bytes are the same on
// every run.
//
//	go run ./testdata/bench/flood [-n 2000000] [-c 200] [-d 20s] OUT.pcap
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/flowproof/flowproof/testdata/bench/rawpcap"
)

func main() {
	n := flag.Int("n", 2_000_000, "spoofed `sources`, one SYN each (at most 16,777,216)")
	c := flag.Int("c", 200, "normal `connections` among them")
	d := flag.Duration("d", 20*time.Second, "how long the flood lasts")
	flag.Parse()
	if flag.NArg() != 1 || *n < 1 || *n > 1<<24 || *c < 0 || *c > 60000 || *d <= 0 {
		fmt.Fprintln(os.Stderr, "usage: flood [-n SOURCES] [-c CONNECTIONS] [-d DURATION] OUT.pcap")
		os.Exit(2)
	}
	if err := write(flag.Arg(0), *n, *c, *d); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

const (
	server  = 0x0a320001 // 10.50.0.1
	port    = 80
	startUs = 1_700_000_000_000_000
)

// packet is one frame of the capture.
type packet = rawpcap.Segment

func write(path string, n, c int, d time.Duration) error {
	w, err := rawpcap.Create(path)
	if err != nil {
		return err
	}
	span := d.Microseconds()
	// The normal connections start at evenly spaced floods packets; each
	// takes 9 packets 100 µs apart, written in order with the flood.
	every := max(1, n/max(1, c))
	var pending []packet // of the connection in progress, in time order
	emit := func(p packet) error {
		p.Us += startUs
		return w.Write(p)
	}
	conns := 0
	for i := range n {
		us := int64(i) * span / int64(n)
		for len(pending) > 0 && pending[0].Us <= us {
			if err := emit(pending[0]); err != nil {
				w.Close()
				return err
			}
			pending = pending[1:]
		}
		src := 0x0b000000 | uint32(i) // 11.x.y.z
		sport := uint16(1024 + i%60000)
		isn := uint32(i)*2654435761 + 1
		if err := emit(packet{Us: us, Src: src, Dst: server, SrcPort: sport, DstPort: port, Flags: 0x02, Seq: isn}); err != nil {
			w.Close()
			return err
		}
		if i%10 == 0 { // the server answers; the source never does
			pending = append(pending, packet{Us: us + 50, Src: server, Dst: src, SrcPort: port, DstPort: sport, Flags: 0x12, Seq: 7, Ack: isn + 1})
		}
		if i%every == 0 && conns < c {
			conns++
			cli := 0x0a330000 | uint32(conns) // 10.51.0.x
			cp := uint16(40000 + conns)
			cs, ss := uint32(conns)*1000+1, uint32(conns)*5000+1
			t := us + 10
			for _, p := range []packet{
				seg(t, cli, server, cp, port, 0x02, cs, 0, 0),
				seg(t+100, server, cli, port, cp, 0x12, ss, cs+1, 0),
				seg(t+200, cli, server, cp, port, 0x10, cs+1, ss+1, 0),
				seg(t+300, cli, server, cp, port, 0x18, cs+1, ss+1, 100),
				seg(t+400, server, cli, port, cp, 0x18, ss+1, cs+101, 200),
				seg(t+500, cli, server, cp, port, 0x11, cs+101, ss+201, 0),
				seg(t+600, server, cli, port, cp, 0x11, ss+201, cs+102, 0),
				seg(t+700, cli, server, cp, port, 0x10, cs+102, ss+202, 0),
			} {
				pending = insert(pending, p)
			}
		}
		if i%10 == 0 {
			pending = sortTail(pending)
		}
	}
	for _, p := range pending {
		if err := emit(p); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// seg is a packet of a normal connection.
func seg(us int64, src, dst uint32, sport, dport uint16, flags byte, seq, ack uint32, payload int) packet {
	return packet{Us: us, Src: src, Dst: dst, SrcPort: sport, DstPort: dport, Flags: flags, Seq: seq, Ack: ack, Payload: payload}
}

// insert puts p into the time-ordered pending list.
func insert(ps []packet, p packet) []packet {
	i := len(ps)
	for i > 0 && ps[i-1].Us > p.Us {
		i--
	}
	ps = append(ps, packet{})
	copy(ps[i+1:], ps[i:])
	ps[i] = p
	return ps
}

// sortTail keeps the list ordered after an append at its end.
func sortTail(ps []packet) []packet {
	if n := len(ps); n > 1 && ps[n-1].Us < ps[n-2].Us {
		last := ps[n-1]
		return insert(ps[:n-1], last)
	}
	return ps
}
