package l7_test

import (
	"cmp"
	"encoding/binary"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7"
	"github.com/flowproof/flowproof/analyze/l7/dns"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/analyze/l7/tls"
	"github.com/flowproof/flowproof/ingest"
)

// conv scripts a TCP conversation as raw IPv4 packets (link type 101):
// client 192.0.2.1:40000, server 192.0.2.2 on port. Sequence numbers are
// relative to ISNs 1000 (client) and 5000 (server).
type conv struct {
	t     *testing.T
	port  uint16
	cport uint16 // client port; 0 means 40000
	pkts  []ingest.Packet
}

const (
	cISN = 1000
	sISN = 5000
)

// send adds a packet from the client (fromClient) or the server at time
// ts (ns), with relative seq and ack, flags and payload.
func (c *conv) send(fromClient bool, ts int64, seq, ack uint32, flags string, payload string) {
	src, dst := net.IP{192, 0, 2, 1}, net.IP{192, 0, 2, 2}
	sp, dp := layers.TCPPort(cmp.Or(c.cport, 40000)), layers.TCPPort(c.port)
	seq0, ack0 := uint32(cISN), uint32(sISN)
	if !fromClient {
		src, dst, sp, dp = dst, src, dp, sp
		seq0, ack0 = sISN, cISN
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: sp, DstPort: dp, Seq: seq0 + seq, Window: 65535,
		SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"), FIN: strings.Contains(flags, "F"), PSH: payload != ""}
	if tcp.ACK {
		tcp.Ack = ack0 + ack
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload(payload)); err != nil {
		c.t.Fatal(err)
	}
	data := buf.Bytes()
	c.pkts = append(c.pkts, ingest.Packet{Data: data, OrigLen: len(data), Timestamp: ts, LinkType: 101, Index: int64(len(c.pkts))})
}

// handshake opens the connection at ts 0..2.
func (c *conv) handshake() {
	c.send(true, 0, 0, 0, "S", "")
	c.send(false, 1, 0, 1, "SA", "")
	c.send(true, 2, 1, 1, "A", "")
}

// run feeds the packets through a table with an engine.
func (c *conv) run() result {
	var r result
	eng := l7.New(l7.Config{
		HTTP: func(x *http.Transaction) { r.http = append(r.http, x) },
		DNS:  func(q *dns.Query) { r.dns = append(r.dns, q) },
		TLS:  func(h *tls.Hello) { r.tls = append(r.tls, h) },
	})
	tbl := analyze.NewTable(analyze.Config{L7: eng}, "t", 1, func(*analyze.Record) {})
	var d analyze.Decoded
	for i := range c.pkts {
		analyze.Decode(&c.pkts[i], &d)
		tbl.AddPayload(&d, c.pkts[i].Index, d.PayloadBytes(c.pkts[i].Data))
	}
	tbl.Flush()
	r.stats = eng.Stats()
	return r
}

func TestEngineHTTP(t *testing.T) {
	const (
		get  = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n" // 28 bytes
		head = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
	)
	tests := []struct {
		name   string
		port   uint16
		script func(c *conv)
		want   string // method uri status body req lat dur tags
		stream l7.Stats
	}{
		{"any port, in order", 31337, func(c *conv) {
			c.handshake()
			c.send(true, 10, 1, 1, "A", get)
			c.send(false, 30, 1, 29, "A", head+"body")
		}, "GET /x 200 4 10 20 20 []", l7.Stats{}},
		{"response head split, reordered, retransmitted", 8080, func(c *conv) {
			c.handshake()
			c.send(true, 10, 1, 1, "A", get)
			c.send(false, 30, 18, 29, "A", head[17:]+"body") // second half first
			c.send(false, 35, 1, 29, "A", head[:17])         // fills the hole
			c.send(false, 40, 1, 29, "A", head[:17])         // retransmission
		}, "GET /x 200 4 10 25 25 []", l7.Stats{}},
		{"capture lost the response head's start", 80, func(c *conv) {
			c.handshake()
			c.send(true, 10, 1, 1, "A", get)
			c.send(false, 30, 18, 29, "A", head[17:]+"body")
			c.send(true, 31, 29, uint32(len(head)+5), "A", "") // acks what the capture missed
		}, "GET /x - 0 10 - - [no_response gap]", l7.Stats{}},
		{"joined mid-response, next request pairs", 80, func(c *conv) {
			c.send(false, 5, 100, 50, "A", "tail of an earlier body")
			c.send(true, 10, 50, 123, "A", get)
			c.send(false, 30, 123, 78, "A", head+"body")
		}, "GET /x 200 4 10 20 20 []", l7.Stats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conv{t: t, port: tt.port}
			tt.script(c)
			r := c.run()
			if len(r.http) != 1 {
				t.Fatalf("%d transactions, want 1 (stats %+v)", len(r.http), r.stats)
			}
			x := r.http[0]
			o := func(v analyze.Opt) string {
				if !v.Valid {
					return "-"
				}
				return strconv.FormatInt(v.V, 10)
			}
			got := strings.Join([]string{x.Method, x.URI, o(x.StatusCode), strconv.FormatInt(x.ResponseBodyLen, 10), o(x.RequestNs), o(x.LatencyNs), o(x.DurationNs), "[" + strings.Join(x.Tags.Strings(), " ") + "]"}, " ")
			if got != tt.want {
				t.Errorf("got %q, want %q (stats %+v)", got, tt.want, r.stats)
			}
		})
	}
}

// TestEngineDNSOverTCP: two length-prefixed queries in one segment, the
// answers split across segments.
func TestEngineDNSOverTCP(t *testing.T) {
	q := func(id uint16, name string) []byte {
		m := []byte{byte(id >> 8), byte(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
		for _, l := range strings.Split(name, ".") {
			m = append(append(m, byte(len(l))), l...)
		}
		m = append(m, 0, 0, 1, 0, 1)
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...)
	}
	resp := func(b []byte) []byte {
		b = append([]byte(nil), b...)
		b[4] |= 0x80
		return b
	}
	q1, q2 := q(1, "a.test"), q(2, "b.test")
	c := &conv{t: t, port: 53}
	c.handshake()
	c.send(true, 10, 1, 1, "A", string(q1)+string(q2))
	both := string(resp(q1)) + string(resp(q2))
	c.send(false, 20, 1, uint32(1+len(q1)+len(q2)), "A", both[:7])
	c.send(false, 25, 8, uint32(1+len(q1)+len(q2)), "A", both[7:])
	r := c.run()
	if len(r.dns) != 2 || r.dns[0].Proto != "tcp" || r.dns[0].RTTNs.V != 15 || r.dns[1].RTTNs.V != 15 || r.dns[1].Query != "b.test" {
		t.Errorf("rows %+v %+v, stats %+v", r.dns[0], r.dns[1], r.stats)
	}
}

// TestEngineTLS: a ClientHello split over two segments, on a port that
// says nothing.
func TestEngineTLS(t *testing.T) {
	sni := "api.flowproof.test"
	ext := binary.BigEndian.AppendUint16(nil, 0)
	sn := append(append([]byte{0}, binary.BigEndian.AppendUint16(nil, uint16(len(sni)))...), sni...)
	sn = append(binary.BigEndian.AppendUint16(nil, uint16(len(sn))), sn...)
	ext = append(append(ext, binary.BigEndian.AppendUint16(nil, uint16(len(sn)))...), sn...)
	alpn := []byte{2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'}
	alpn = append(binary.BigEndian.AppendUint16(nil, uint16(len(alpn))), alpn...)
	ext = append(append(append(ext, 0, 16), binary.BigEndian.AppendUint16(nil, uint16(len(alpn)))...), alpn...)
	body := append([]byte{3, 3}, make([]byte, 32)...)
	body = append(body, 0, 0, 2, 0x13, 1, 1, 0)
	body = append(append(body, binary.BigEndian.AppendUint16(nil, uint16(len(ext)))...), ext...)
	hs := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	rec := append([]byte{22, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
	c := &conv{t: t, port: 9443}
	c.handshake()
	c.send(true, 10, 1, 1, "A", string(rec[:20]))
	c.send(true, 11, 21, 1, "A", string(rec[20:]))
	r := c.run()
	if len(r.tls) != 1 || r.tls[0].SNI != sni || r.tls[0].ALPNList() != "h2,http/1.1" || r.tls[0].Version() != "" {
		t.Fatalf("hellos %+v, stats %+v", r.tls, r.stats)
	}
}

// TestEngineDeclines: a flow that is none of HTTP, TLS or DNS gets no
// state, and is offered a bounded number of times.
func TestEngineDeclines(t *testing.T) {
	c := &conv{t: t, port: 5432}
	c.handshake()
	for i := range 20 {
		c.send(true, int64(10+i), uint32(1+4*i), 1, "A", "\x00\x01\x02\x03")
	}
	r := c.run()
	if r.stats.Flows != [4]int64{} || len(r.http)+len(r.dns)+len(r.tls) != 0 {
		t.Errorf("stats %+v", r.stats)
	}
}

// TestEngineRolesGuessedWrong: without a SYN, a client on a likely server
// port (8080) talking to a high port makes the table take the server for
// the originator; the requests still pair, marked FromResp.
func TestEngineRolesGuessedWrong(t *testing.T) {
	c := &conv{t: t, port: 45000, cport: 8080}
	c.send(true, 10, 1, 1, "A", "GET /r HTTP/1.1\r\n\r\n")
	c.send(false, 20, 1, 20, "A", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	r := c.run()
	if len(r.http) != 1 || !r.http[0].FromResp || r.http[0].LatencyNs.V != 10 || r.http[0].Flow.Resp.Port() != 8080 {
		t.Fatalf("rows %+v", r.http)
	}
}

// TestEngineBodyAllocs: once a response head is read, its body segments
// and the ACKs cost no allocation: memory follows transactions, not bytes.
func TestEngineBodyAllocs(t *testing.T) {
	c := &conv{t: t, port: 80}
	c.handshake()
	c.send(true, 10, 1, 1, "A", "GET /big HTTP/1.1\r\n\r\n")
	head := "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"
	c.send(false, 20, 1, 20, "A", head)
	body := strings.Repeat("x", 1400)
	seq := uint32(1 + len(head))
	c.send(false, 30, seq, 20, "A", body)
	c.send(true, 31, 20, seq+1400, "A", "")
	eng := l7.New(l7.Config{HTTP: func(*http.Transaction) {}})
	tbl := analyze.NewTable(analyze.Config{L7: eng}, "t", 1, func(*analyze.Record) {})
	var d analyze.Decoded
	add := func(i int) {
		analyze.Decode(&c.pkts[i], &d)
		tbl.AddPayload(&d, c.pkts[i].Index, d.PayloadBytes(c.pkts[i].Data))
	}
	for i := range c.pkts {
		add(i)
	}
	// Replay the body segment and its ACK with the sequence numbers moved on.
	bodyPkt, ackPkt := c.pkts[len(c.pkts)-2], c.pkts[len(c.pkts)-1]
	n := testing.AllocsPerRun(1000, func() {
		seq += 1400
		binary.BigEndian.PutUint32(bodyPkt.Data[24:], sISN+seq)
		binary.BigEndian.PutUint32(ackPkt.Data[28:], sISN+seq+1400)
		bodyPkt.Timestamp += 10
		ackPkt.Timestamp += 10
		analyze.Decode(&bodyPkt, &d)
		tbl.AddPayload(&d, 5, d.PayloadBytes(bodyPkt.Data))
		analyze.Decode(&ackPkt, &d)
		tbl.AddPayload(&d, 6, d.PayloadBytes(ackPkt.Data))
	})
	if n != 0 {
		t.Errorf("%.1f allocations per body segment and ACK, want 0", n)
	}
	if st := eng.Stats(); st.Stream.Bytes < 1000*1400 || st.Stream.Retransmitted != 0 || st.Stream.Gaps != 0 {
		t.Errorf("stream stats %+v: the replayed segments were not taken in order", st.Stream)
	}
}
