package l7_test

import (
	"testing"
)

// FuzzEngine drives the engine through a real table with scripted TCP
// segments: fuzzed payloads, directions, sequence jitter (retransmissions,
// holes, reordering) and ports (HTTP on any, TLS, DNS on 53).
func FuzzEngine(f *testing.F) {
	f.Add([]byte("\x00\x00GET / HTTP/1.1\r\n\r\n\x01\x00HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), uint16(80))
	f.Add([]byte("\x00\x00\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03"), uint16(443))
	f.Add([]byte("\x00\x00\x00\x0c\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"), uint16(53))
	f.Fuzz(func(t *testing.T, script []byte, port uint16) {
		c := &conv{t: t, port: port}
		c.handshake()
		var next [2]uint32
		next[0], next[1] = 1, 1
		ts := int64(10)
		// Each step: a control byte (bit 0 direction, bits 1-2 jitter kind),
		// a length byte, then that many payload bytes.
		for len(script) >= 2 && len(c.pkts) < 64 {
			ctl, n := script[0], int(script[1])
			script = script[2:]
			n = min(n, len(script))
			dir := int(ctl & 1)
			seq := next[dir]
			switch ctl >> 1 & 3 {
			case 1:
				seq -= uint32(n / 2) // overlap: a retransmission
			case 2:
				seq += uint32(ctl) // a hole
			}
			c.send(dir == 0, ts, seq, next[1-dir], "A", string(script[:n]))
			next[dir] = seq + uint32(n)
			script = script[n:]
			ts += int64(ctl)
		}
		c.run()
	})
}
