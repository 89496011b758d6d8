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
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"time"
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

// packet is one frame to write: time, addresses, ports, flags, sequence
// numbers and payload length.
type packet struct {
	us           int64
	src, dst     uint32
	sport, dport uint16
	flags        byte
	seq, ack     uint32
	payload      int
}

func write(path string, n, c int, d time.Duration) error {
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
	span := d.Microseconds()
	// The normal connections start at evenly spaced floods packets; each
	// takes 9 packets 100 µs apart, written in order with the flood.
	every := max(1, n/max(1, c))
	var pending []packet // of the connection in progress, in time order
	buf := make([]byte, 16+14+20+20+200)
	emit := func(p packet) error {
		frame := buf[16 : 16+54+p.payload]
		clear(frame)
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		ip := frame[14:]
		ip[0], ip[8], ip[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(ip[2:], uint16(40+p.payload))
		binary.BigEndian.PutUint32(ip[12:], p.src)
		binary.BigEndian.PutUint32(ip[16:], p.dst)
		tcp := ip[20:]
		binary.BigEndian.PutUint16(tcp[0:], p.sport)
		binary.BigEndian.PutUint16(tcp[2:], p.dport)
		binary.BigEndian.PutUint32(tcp[4:], p.seq)
		binary.BigEndian.PutUint32(tcp[8:], p.ack)
		tcp[12], tcp[13] = 5<<4, p.flags
		binary.BigEndian.PutUint16(tcp[14:], 65535)
		us := startUs + p.us
		binary.LittleEndian.PutUint32(buf[0:], uint32(us/1_000_000))
		binary.LittleEndian.PutUint32(buf[4:], uint32(us%1_000_000))
		binary.LittleEndian.PutUint32(buf[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(buf[12:], uint32(len(frame)))
		_, err := w.Write(buf[:16+len(frame)])
		return err
	}
	conns := 0
	for i := range n {
		us := int64(i) * span / int64(n)
		for len(pending) > 0 && pending[0].us <= us {
			if err := emit(pending[0]); err != nil {
				return err
			}
			pending = pending[1:]
		}
		src := 0x0b000000 | uint32(i) // 11.x.y.z
		sport := uint16(1024 + i%60000)
		isn := uint32(i)*2654435761 + 1
		if err := emit(packet{us: us, src: src, dst: server, sport: sport, dport: port, flags: 0x02, seq: isn}); err != nil {
			return err
		}
		if i%10 == 0 { // the server answers; the source never does
			pending = append(pending, packet{us: us + 50, src: server, dst: src, sport: port, dport: sport, flags: 0x12, seq: 7, ack: isn + 1})
		}
		if i%every == 0 && conns < c {
			conns++
			cli := 0x0a330000 | uint32(conns) // 10.51.0.x
			cp := uint16(40000 + conns)
			cs, ss := uint32(conns)*1000+1, uint32(conns)*5000+1
			t := us + 10
			for _, p := range []packet{
				{t, cli, server, cp, port, 0x02, cs, 0, 0},
				{t + 100, server, cli, port, cp, 0x12, ss, cs + 1, 0},
				{t + 200, cli, server, cp, port, 0x10, cs + 1, ss + 1, 0},
				{t + 300, cli, server, cp, port, 0x18, cs + 1, ss + 1, 100},
				{t + 400, server, cli, port, cp, 0x18, ss + 1, cs + 101, 200},
				{t + 500, cli, server, cp, port, 0x11, cs + 101, ss + 201, 0},
				{t + 600, server, cli, port, cp, 0x11, ss + 201, cs + 102, 0},
				{t + 700, cli, server, cp, port, 0x10, cs + 102, ss + 202, 0},
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
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// insert puts p into the time-ordered pending list.
func insert(ps []packet, p packet) []packet {
	i := len(ps)
	for i > 0 && ps[i-1].us > p.us {
		i--
	}
	ps = append(ps, packet{})
	copy(ps[i+1:], ps[i:])
	ps[i] = p
	return ps
}

// sortTail keeps the list ordered after an append at its end.
func sortTail(ps []packet) []packet {
	if n := len(ps); n > 1 && ps[n-1].us < ps[n-2].us {
		last := ps[n-1]
		return insert(ps[:n-1], last)
	}
	return ps
}
