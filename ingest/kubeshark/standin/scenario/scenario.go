package scenario

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/internal/capgen"
)

const us = time.Microsecond

// conversation is one connection of the scenario, with its packets.
type conversation struct {
	proto     string // tcp or udp
	client    netip.AddrPort
	server    netip.AddrPort
	synthetic bool // the TLS plaintext twin: in the capture, not in the L4 flows
	pkts      []capgen.Packet
}

var raw = capgen.Options{Link: capgen.RawIP}

func conversations() []conversation {
	var convs []conversation

	// DNS: frontend asks kube-dns.
	{
		cl, sv := netip.AddrPortFrom(standin.Frontend.IP, 41000), netip.AddrPortFrom(standin.CoreDNS.IP, 53)
		u := capgen.NewUDP(cl, sv, raw)
		u.Send(capgen.Orig, 0, 40)
		u.Send(capgen.Resp, 812*us, 56)
		convs = append(convs, conversation{proto: "udp", client: cl, server: sv, pkts: u.Packets()})
	}
	// HTTP: frontend -> checkout:8080.
	{
		cl, sv := netip.AddrPortFrom(standin.Frontend.IP, 51000), netip.AddrPortFrom(standin.Checkout.IP, 8080)
		c := capgen.NewTCP(cl, sv, capgen.Options{Link: capgen.RawIP, ClientISN: 0x3a2b1c0d, ServerISN: 0x7c6d5e4f})
		c.SYN(1000 * us)
		c.SYNACK(1350 * us)
		c.ACK(capgen.Orig, 1500*us)
		seg, _, _ := standin.CheckoutSegments() // three pipelined HTTP requests and their responses
		c.DataBytes(capgen.Orig, 2000*us, seg[0])
		c.ACK(capgen.Resp, 2100*us)
		c.DataBytes(capgen.Resp, 14000*us, seg[1])
		c.ACK(capgen.Orig, 14200*us)
		c.FIN(capgen.Orig, 20000*us)
		c.FIN(capgen.Resp, 20300*us)
		c.ACK(capgen.Orig, 20400*us)
		convs = append(convs, conversation{proto: "tcp", client: cl, server: sv, pkts: c.Packets()})
	}
	// TLS: frontend -> payments:443, ciphertext on the wire ...
	{
		c := capgen.NewTCP(standin.TLSClient, standin.TLSServer, capgen.Options{Link: capgen.RawIP, ClientISN: 0x9e3779b9, ServerISN: 0x6a09e667})
		c.SYN(3000 * us)
		c.SYNACK(3900 * us)
		c.ACK(capgen.Orig, 4000*us)
		c.Data(capgen.Orig, 4100*us, 517)  // ClientHello
		c.Data(capgen.Resp, 5200*us, 1400) // ServerHello .. Finished
		c.Data(capgen.Orig, 5600*us, 80)   // client Finished
		c.Data(capgen.Orig, 6000*us, 412)  // application data: the request
		c.ACK(capgen.Resp, 6100*us)
		c.Data(capgen.Resp, 9000*us, 1173) // application data: the response
		c.ACK(capgen.Orig, 9100*us)
		c.FIN(capgen.Orig, 30000*us)
		c.FIN(capgen.Resp, 30400*us)
		c.ACK(capgen.Orig, 30500*us)
		convs = append(convs, conversation{proto: "tcp", client: standin.TLSClient, server: standin.TLSServer, pkts: c.Packets()})
	}
	// ... and its synthetic plaintext twin, written when the TLS library
	// handed over the plaintext, just before each record went out.
	{
		tw := capgen.NewTCP(standin.TLSClient, standin.TLSServer, capgen.Options{Link: capgen.RawIP, ZeroISN: true})
		tw.SYN(5950 * us)
		tw.SYNACK(5951 * us)
		tw.ACK(capgen.Orig, 5952*us)
		req, resp, _, _ := standin.TwinSegments()
		tw.DataBytes(capgen.Orig, 5953*us, req) // the plaintext request
		tw.ACK(capgen.Resp, 5954*us)
		tw.DataBytes(capgen.Resp, 8990*us, resp) // the plaintext response
		tw.ACK(capgen.Orig, 8991*us)
		convs = append(convs, conversation{proto: "tcp", client: standin.TLSClient, server: standin.TLSServer, synthetic: true, pkts: tw.Packets()})
	}
	// Redis: checkout -> redis:6379, one response retransmitted.
	{
		cl, sv := netip.AddrPortFrom(standin.Checkout.IP, 40000), netip.AddrPortFrom(standin.Redis.IP, 6379)
		c := capgen.NewTCP(cl, sv, capgen.Options{Link: capgen.RawIP, ClientISN: 0x11223344, ServerISN: 0x55667788})
		c.SYN(2500 * us)
		c.SYNACK(2560 * us)
		c.ACK(capgen.Orig, 2600*us)
		c.Data(capgen.Orig, 3000*us, 31)
		c.Lost(capgen.Resp, 3100*us, 12)
		c.Retransmit(capgen.Resp, 3500*us, 1, 12)
		c.ACK(capgen.Orig, 3550*us)
		c.Data(capgen.Orig, 4000*us, 27)
		c.Data(capgen.Resp, 4080*us, 9)
		c.ACK(capgen.Orig, 4150*us)
		c.FIN(capgen.Orig, 25000*us)
		c.FIN(capgen.Resp, 25060*us)
		c.ACK(capgen.Orig, 25100*us)
		convs = append(convs, conversation{proto: "tcp", client: cl, server: sv, pkts: c.Packets()})
	}
	// checkout -> an external API (no Kubernetes identity on the server).
	{
		cl, sv := netip.AddrPortFrom(standin.Checkout.IP, 40100), netip.AddrPortFrom(standin.External, 443)
		c := capgen.NewTCP(cl, sv, capgen.Options{Link: capgen.RawIP, ClientISN: 0x0badcafe, ServerISN: 0x0defaced})
		c.SYN(10000 * us)
		c.SYNACK(22000 * us)
		c.ACK(capgen.Orig, 22100*us)
		c.Data(capgen.Orig, 22200*us, 230)
		c.Data(capgen.Resp, 35000*us, 640)
		c.ACK(capgen.Orig, 35100*us)
		c.FIN(capgen.Orig, 36000*us)
		c.FIN(capgen.Resp, 48000*us)
		c.ACK(capgen.Orig, 48100*us)
		convs = append(convs, conversation{proto: "tcp", client: cl, server: sv, pkts: c.Packets()})
	}
	return convs
}

// Capture builds the cluster capture (testdata/cluster.pcap); withTwin false leaves to leave the
// synthetic twin out (the referee for the wire connection's numbers).
func Capture(withTwin bool) []byte {
	var all [][]capgen.Packet
	for _, c := range conversations() {
		if c.synthetic && !withTwin {
			continue
		}
		all = append(all, c.pkts)
	}
	var b bytes.Buffer
	if err := WritePcapMicro(&b, ingest.LinkTypeRaw, capgen.Merge(all...)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// WritePcapMicro writes packets as classic little-endian pcap with
// microsecond timestamps (magic a1b2c3d4) and snaplen 65536, the way
// Kubeshark's tracer writes its raw capture files (pcapgo.NewWriter,
// WriteFileHeader(65536, LinkTypeRaw)). Times must be whole microseconds.
func WritePcapMicro(w io.Writer, lt ingest.LinkType, pkts []capgen.Packet) error {
	le := binary.LittleEndian
	b := make([]byte, 0, 24)
	b = le.AppendUint32(b, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65536)
	b = le.AppendUint32(b, uint32(lt))
	if _, err := w.Write(b); err != nil {
		return err
	}
	for i, p := range pkts {
		ns := p.Time.UnixNano()
		if ns%1000 != 0 {
			return fmt.Errorf("packet %d: time %v is not a whole microsecond", i, p.Time)
		}
		b = b[:0]
		b = le.AppendUint32(b, uint32(ns/1e9))
		b = le.AppendUint32(b, uint32(ns%1e9/1e3))
		b = le.AppendUint32(b, uint32(len(p.Data)))
		b = le.AppendUint32(b, uint32(p.Length))
		b = append(b, p.Data...)
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// L4Flows derives list_l4_flows' records (testdata/l4flows.json) from the wire conversations (the
// twin is not a socket of its own): packets and payload bytes per side, the
// client's handshake RTT (SYN -> SYN/ACK) and the server's (SYN -> ACK), in
// microseconds.
func L4Flows() []byte {
	return marshalL4(l4Records(conversations()))
}

func marshalL4(flows []standin.L4Flow) []byte {
	b, err := json.MarshalIndent(flows, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// l4Records derives one record per wire conversation.
func l4Records(convs []conversation) []standin.L4Flow {
	var flows []standin.L4Flow
	for i, c := range convs {
		if c.synthetic {
			continue
		}
		f := standin.L4Flow{Proto: c.proto, Client: endpoint(c.client.Addr(), 0, i), Server: endpoint(c.server.Addr(), int(c.server.Port()), i)}
		var synT, synAckT, ackT time.Time
		first, last := c.pkts[0].Time, c.pkts[len(c.pkts)-1].Time
		next := map[bool]uint32{} // per direction (from the client or not): the next new sequence number
		for _, p := range c.pkts {
			src, payload, flags := decodeRaw(p.Data)
			fromClient := src == c.client.Addr()
			if c.proto == "tcp" {
				// A socket counts application bytes once: a retransmission
				// adds only the bytes beyond what was already sent.
				seq := tcpSeq(p.Data)
				if strings.Contains(flags, "S") {
					next[fromClient] = seq + 1
				} else if n, ok := next[fromClient]; ok && payload > 0 {
					end := seq + uint32(payload)
					if int32(end-n) <= 0 {
						payload = 0
					} else if int32(seq-n) < 0 {
						payload = int(end - n)
					}
					if int32(end-n) > 0 {
						next[fromClient] = end
					}
				}
			}
			if fromClient {
				f.ClientStats.TxPkts++
				f.ClientStats.TxBytes += int64(payload)
				f.ServerStats.RxPkts++
				f.ServerStats.RxBytes += int64(payload)
			} else {
				f.ServerStats.TxPkts++
				f.ServerStats.TxBytes += int64(payload)
				f.ClientStats.RxPkts++
				f.ClientStats.RxBytes += int64(payload)
			}
			switch {
			case flags == "S" && synT.IsZero():
				synT = p.Time
			case flags == "SA" && synAckT.IsZero():
				synAckT = p.Time
			case flags == "A" && fromClient && ackT.IsZero() && !synAckT.IsZero():
				ackT = p.Time
			}
		}
		if c.proto == "tcp" && !synAckT.IsZero() {
			cl := synAckT.Sub(synT).Microseconds()
			f.ClientStats.P50, f.ClientStats.P90, f.ClientStats.P99 = cl, cl, cl
			if !ackT.IsZero() {
				sv := ackT.Sub(synT).Microseconds()
				f.ServerStats.P50, f.ServerStats.P90, f.ServerStats.P99 = sv, sv, sv
			}
		}
		secs := last.Sub(first).Seconds()
		if secs <= 0 {
			secs = 1e-6
		}
		rate := func(n int64) float64 { return float64(int64(float64(n)/secs*100+0.5)) / 100 }
		for _, s := range []*standin.L4Stats{&f.ClientStats, &f.ServerStats} {
			s.TxPps, s.RxPps = rate(s.TxPkts), rate(s.RxPkts)
			s.TxBps, s.RxBps = rate(8*s.TxBytes), rate(8*s.RxBytes)
		}
		f.Totals = standin.L4Totals{Pkts: f.ClientStats.TxPkts + f.ServerStats.TxPkts, Bytes: f.ClientStats.TxBytes + f.ServerStats.TxBytes}
		f.Totals.Pps, f.Totals.Bps = rate(f.Totals.Pkts), rate(8*f.Totals.Bytes)
		f.Timestamp = last.UTC().Format("2006-01-02T15:04:05.000000Z")
		flows = append(flows, f)
	}
	return flows
}

func endpoint(ip netip.Addr, port, i int) standin.L4Endpoint {
	e := standin.L4Endpoint{IP: ip.String(), Port: port}
	for _, p := range standin.Pods {
		if p.IP == ip {
			e.Pod, e.NS, e.Svc, e.Node = p.Name, p.Namespace, p.Service, p.Node
			e.ContainerID = fmt.Sprintf("containerd://%012x", int64(0x5eed000000)+int64(i*2+port%2))
			e.CgroupID = 4026531000 + int64(i*10+port%7)
		}
	}
	return e
}

// tcpSeq returns the sequence number of a bare IPv4 TCP packet.
func tcpSeq(b []byte) uint32 {
	ihl := int(b[0]&0x0f) * 4
	return binary.BigEndian.Uint32(b[ihl+4 : ihl+8])
}

// decodeRaw reads a bare IPv4 packet: source address, L4 payload length
// and TCP flags ("S", "SA", "A", "PA", "FA", ...; "" for UDP).
func decodeRaw(b []byte) (src netip.Addr, payload int, flags string) {
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	src = netip.AddrFrom4([4]byte(b[12:16]))
	switch b[9] {
	case 17:
		return src, total - ihl - 8, ""
	case 6:
		t := b[ihl:]
		off := int(t[12]>>4) * 4
		fl := t[13]
		for _, f := range []struct {
			bit byte
			s   string
		}{{0x02, "S"}, {0x01, "F"}, {0x04, "R"}, {0x08, "P"}, {0x10, "A"}} {
			if fl&f.bit != 0 {
				flags += f.s
			}
		}
		return src, total - ihl - off, flags
	}
	return src, 0, ""
}

// DoubledCapture returns the stand-in's merged capture as Kubeshark records
// it with every pod targeted (see standin.SameNodeDelay): the cluster capture's
// packets, those between two pods twice.
func DoubledCapture() []byte {
	var all [][]capgen.Packet
	for _, c := range conversations() {
		cl, okc := standin.PodOf(c.client.Addr())
		sv, oks := standin.PodOf(c.server.Addr())
		if c.synthetic || !okc || !oks {
			all = append(all, c.pkts)
			continue
		}
		v := capgen.Vantage{Local: []netip.Addr{cl.IP}, Delay: standin.SameNodeDelay}
		if cl.Node != sv.Node {
			v.Delay, v.Offset = standin.CrossNodeDelay, standin.NodeClock[sv.Node]-standin.NodeClock[cl.Node]
		}
		_, doubled, err := capgen.Double(capgen.RawIP, c.pkts, v)
		if err != nil {
			panic(err)
		}
		all = append(all, doubled)
	}
	var b bytes.Buffer
	if err := WritePcapMicro(&b, ingest.LinkTypeRaw, capgen.Merge(all...)); err != nil {
		panic(err)
	}
	return b.Bytes()
}
