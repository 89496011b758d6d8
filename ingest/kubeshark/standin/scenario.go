package standin

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/gopacket/gopacket/layers"
)

// The stand-in's cluster: five pods on three nodes, their services, and the
// conversations between them. The capture is what Kubeshark's raw capture
// would merge for the cluster (kubeshark-mcp.md §3): classic pcap with
// microsecond timestamps and LINKTYPE_RAW (101), bare IPv4 packets. It holds
// a TLS connection (frontend -> payments:443) together with the synthetic
// plaintext twin Kubeshark's tracer rebuilds from the decrypted stream: same
// 5-tuple, fake SYN/SYN-ACK/ACK, sequence numbers from 1, one packet per
// plaintext chunk followed by an empty ACK from the peer, interleaved in time
// with the ciphertext.

// Pod is a workload of the stand-in's cluster.
type Pod struct {
	Name, Namespace, Node, App string
	IP                         netip.Addr
	Service                    string // the service selecting it, if any
}

// Service is a ClusterIP service.
type Service struct {
	Name, Namespace string
	IP              netip.Addr
	Port            uint16
}

// The cluster.
var (
	Frontend = Pod{Name: "frontend-6b7c9d8f5-x2x4k", Namespace: "shop", Node: "worker-1", App: "frontend", IP: netip.MustParseAddr("10.244.1.15"), Service: "frontend"}
	Checkout = Pod{Name: "checkout-7f8d9c6b4-abcde", Namespace: "shop", Node: "worker-2", App: "checkout", IP: netip.MustParseAddr("10.244.2.20"), Service: "checkout"}
	Redis    = Pod{Name: "redis-0", Namespace: "shop", Node: "worker-2", App: "redis", IP: netip.MustParseAddr("10.244.2.21"), Service: "redis"}
	Payments = Pod{Name: "payments-5d4c3b2a1-qwert", Namespace: "payments", Node: "worker-3", App: "payments", IP: netip.MustParseAddr("10.244.3.30"), Service: "payments"}
	CoreDNS  = Pod{Name: "coredns-5d78c9869d-7xk2p", Namespace: "kube-system", Node: "worker-1", App: "kube-dns", IP: netip.MustParseAddr("10.244.0.10"), Service: "kube-dns"}

	Pods     = []Pod{Frontend, Checkout, Redis, Payments, CoreDNS}
	Services = []Service{
		{Name: "frontend", Namespace: "shop", IP: netip.MustParseAddr("10.96.10.5"), Port: 80},
		{Name: "checkout", Namespace: "shop", IP: netip.MustParseAddr("10.96.12.40"), Port: 8080},
		{Name: "redis", Namespace: "shop", IP: netip.MustParseAddr("10.96.30.7"), Port: 6379},
		{Name: "payments", Namespace: "payments", IP: netip.MustParseAddr("10.96.44.9"), Port: 443},
		{Name: "kube-dns", Namespace: "kube-system", IP: netip.MustParseAddr("10.96.0.10"), Port: 53},
	}
	// External is an address outside the cluster.
	External = netip.MustParseAddr("203.0.113.10")
	Nodes    = []string{"worker-1", "worker-2", "worker-3"}
)

// TLSClient and TLSServer are the 5-tuple of the TLS connection whose
// plaintext twin the capture also holds.
var (
	TLSClient = netip.AddrPortFrom(Frontend.IP, 51234)
	TLSServer = netip.AddrPortFrom(Payments.IP, 443)
)

// Epoch is the first packet's time; the capture spans less than a second.
var Epoch = capgen.Epoch

// IPAssigned is when the pods got their IPs (Unix ms), as list_workloads
// reports it: an hour before the capture.
var IPAssigned = Epoch.Add(-time.Hour).UnixMilli()

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
		cl, sv := netip.AddrPortFrom(Frontend.IP, 41000), netip.AddrPortFrom(CoreDNS.IP, 53)
		u := capgen.NewUDP(cl, sv, raw)
		u.Send(capgen.Orig, 0, 40)
		u.Send(capgen.Resp, 812*us, 56)
		convs = append(convs, conversation{proto: "udp", client: cl, server: sv, pkts: u.Packets()})
	}
	// HTTP: frontend -> checkout:8080.
	{
		cl, sv := netip.AddrPortFrom(Frontend.IP, 51000), netip.AddrPortFrom(Checkout.IP, 8080)
		c := capgen.NewTCP(cl, sv, capgen.Options{Link: capgen.RawIP, ClientISN: 0x3a2b1c0d, ServerISN: 0x7c6d5e4f})
		c.SYN(1000 * us)
		c.SYNACK(1350 * us)
		c.ACK(capgen.Orig, 1500*us)
		seg, _, _ := checkoutSegments() // three pipelined HTTP requests and their responses
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
		c := capgen.NewTCP(TLSClient, TLSServer, capgen.Options{Link: capgen.RawIP, ClientISN: 0x9e3779b9, ServerISN: 0x6a09e667})
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
		convs = append(convs, conversation{proto: "tcp", client: TLSClient, server: TLSServer, pkts: c.Packets()})
	}
	// ... and its synthetic plaintext twin, written when the TLS library
	// handed over the plaintext, just before each record went out.
	{
		tw := capgen.NewTCP(TLSClient, TLSServer, capgen.Options{Link: capgen.RawIP, ZeroISN: true})
		tw.SYN(5950 * us)
		tw.SYNACK(5951 * us)
		tw.ACK(capgen.Orig, 5952*us)
		req, resp, _, _ := twinSegments()
		tw.DataBytes(capgen.Orig, 5953*us, req) // the plaintext request
		tw.ACK(capgen.Resp, 5954*us)
		tw.DataBytes(capgen.Resp, 8990*us, resp) // the plaintext response
		tw.ACK(capgen.Orig, 8991*us)
		convs = append(convs, conversation{proto: "tcp", client: TLSClient, server: TLSServer, synthetic: true, pkts: tw.Packets()})
	}
	// Redis: checkout -> redis:6379, one response retransmitted.
	{
		cl, sv := netip.AddrPortFrom(Checkout.IP, 40000), netip.AddrPortFrom(Redis.IP, 6379)
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
		cl, sv := netip.AddrPortFrom(Checkout.IP, 40100), netip.AddrPortFrom(External, 443)
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

// Capture returns the stand-in's merged cluster capture, as stored in
// testdata/cluster.pcap.
func Capture() []byte { return bytes.Clone(clusterPcap) }

// L4Flows returns list_l4_flows' records (format full) matching the capture,
// as stored in testdata/l4flows.json.
func L4Flows() []byte { return bytes.Clone(l4FlowsJSON) }

//go:embed testdata/cluster.pcap
var clusterPcap []byte

//go:embed testdata/l4flows.json
var l4FlowsJSON []byte

// GenerateCapture builds the capture; keep wantTwin false to leave the
// synthetic twin out (the referee for the wire connection's numbers).
func GenerateCapture(withTwin bool) []byte {
	var all [][]capgen.Packet
	for _, c := range conversations() {
		if c.synthetic && !withTwin {
			continue
		}
		all = append(all, c.pkts)
	}
	var b bytes.Buffer
	if err := WritePcapMicro(&b, layers.LinkTypeRaw, capgen.Merge(all...)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// WritePcapMicro writes packets as classic little-endian pcap with
// microsecond timestamps (magic a1b2c3d4) and snaplen 65536, the way
// Kubeshark's tracer writes its raw capture files (pcapgo.NewWriter,
// WriteFileHeader(65536, LinkTypeRaw)). Times must be whole microseconds.
func WritePcapMicro(w io.Writer, lt layers.LinkType, pkts []capgen.Packet) error {
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

// L4 flow records, in the shape of Kubeshark's list_l4_flows format=full
// (kubeshark-mcp.md §4).

// L4Endpoint is a flow's client or server.
type L4Endpoint struct {
	IP          string `json:"ip"`
	Port        int    `json:"port,omitempty"` // the server's only
	Pod         string `json:"pod,omitempty"`
	NS          string `json:"ns,omitempty"`
	Svc         string `json:"svc,omitempty"`
	Node        string `json:"node,omitempty"`
	ContainerID string `json:"container_id,omitempty"`
	CgroupID    int64  `json:"cgroup_id,omitempty"`
}

// L4Stats are one side's socket counters.
type L4Stats struct {
	TxPkts  int64   `json:"tx_pkts"`
	RxPkts  int64   `json:"rx_pkts"`
	TxBytes int64   `json:"tx_bytes"`
	RxBytes int64   `json:"rx_bytes"`
	TxPps   float64 `json:"tx_pps"`
	RxPps   float64 `json:"rx_pps"`
	TxBps   float64 `json:"tx_bps"`
	RxBps   float64 `json:"rx_bps"`
	P50     int64   `json:"tcp_handshake_p50_us,omitempty"`
	P90     int64   `json:"tcp_handshake_p90_us,omitempty"`
	P99     int64   `json:"tcp_handshake_p99_us,omitempty"`
}

// L4Totals sum both sides.
type L4Totals struct {
	Pkts  int64   `json:"pkts"`
	Bytes int64   `json:"bytes"`
	Pps   float64 `json:"pps"`
	Bps   float64 `json:"bps"`
}

// L4Flow is one list_l4_flows record.
type L4Flow struct {
	Proto       string     `json:"proto"`
	Client      L4Endpoint `json:"client"`
	Server      L4Endpoint `json:"server"`
	ClientStats L4Stats    `json:"client_stats"`
	ServerStats L4Stats    `json:"server_stats"`
	Totals      L4Totals   `json:"totals"`
	Timestamp   string     `json:"timestamp"`
}

// GenerateL4Flows derives the records from the wire conversations (the
// twin is not a socket of its own): packets and payload bytes per side, the
// client's handshake RTT (SYN -> SYN/ACK) and the server's (SYN -> ACK), in
// microseconds.
func GenerateL4Flows() []byte {
	return marshalL4(l4Records(conversations()))
}

func marshalL4(flows []L4Flow) []byte {
	b, err := json.MarshalIndent(flows, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// l4Records derives one record per wire conversation.
func l4Records(convs []conversation) []L4Flow {
	var flows []L4Flow
	for i, c := range convs {
		if c.synthetic {
			continue
		}
		f := L4Flow{Proto: c.proto, Client: endpoint(c.client.Addr(), 0, i), Server: endpoint(c.server.Addr(), int(c.server.Port()), i)}
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
		for _, s := range []*L4Stats{&f.ClientStats, &f.ServerStats} {
			s.TxPps, s.RxPps = rate(s.TxPkts), rate(s.RxPkts)
			s.TxBps, s.RxBps = rate(8*s.TxBytes), rate(8*s.RxBytes)
		}
		f.Totals = L4Totals{Pkts: f.ClientStats.TxPkts + f.ServerStats.TxPkts, Bytes: f.ClientStats.TxBytes + f.ServerStats.TxBytes}
		f.Totals.Pps, f.Totals.Bps = rate(f.Totals.Pkts), rate(8*f.Totals.Bytes)
		f.Timestamp = last.UTC().Format("2006-01-02T15:04:05.000000Z")
		flows = append(flows, f)
	}
	return flows
}

func endpoint(ip netip.Addr, port, i int) L4Endpoint {
	e := L4Endpoint{IP: ip.String(), Port: port}
	for _, p := range Pods {
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

// The doubled capture (Options.Doubled): Kubeshark's eBPF capture records a
// packet between two targeted pods twice, at the sender's egress and at the
// receiver's ingress (kubeshark-mcp.md, "Every packet can be in the capture
// twice"). Every pod of the stand-in is targeted, so each conversation
// between two pods is recorded twice: same-node pairs SameNodeDelay apart on
// one clock, cross-node pairs CrossNodeDelay apart plus the difference of
// the two nodes' clocks (NodeClock), the receiver's copy with the TTL one
// lower. The external conversation (one pod) and the synthetic TLS twin
// (rebuilt by the client's tracer) are recorded once.
const (
	SameNodeDelay  = 3 * us
	CrossNodeDelay = 150 * us
)

// NodeClock is each node's clock minus worker-1's, in the doubled capture.
var NodeClock = map[string]time.Duration{"worker-1": 0, "worker-2": 40 * us, "worker-3": -70 * us}

// baseTTL is the TTL capgen gives every packet: the sender's copy has it.
const baseTTL = 64

// PodOf returns the pod with the address, if any.
func PodOf(ip netip.Addr) (Pod, bool) {
	for _, p := range Pods {
		if p.IP == ip {
			return p, true
		}
	}
	return Pod{}, false
}

// DoubledCapture returns the stand-in's merged capture as Kubeshark records
// it with every pod targeted (see SameNodeDelay): the cluster capture's
// packets, those between two pods twice.
func DoubledCapture() []byte {
	var all [][]capgen.Packet
	for _, c := range conversations() {
		cl, okc := PodOf(c.client.Addr())
		sv, oks := PodOf(c.server.Addr())
		if c.synthetic || !okc || !oks {
			all = append(all, c.pkts)
			continue
		}
		v := capgen.Vantage{Local: []netip.Addr{cl.IP}, Delay: SameNodeDelay}
		if cl.Node != sv.Node {
			v.Delay, v.Offset = CrossNodeDelay, NodeClock[sv.Node]-NodeClock[cl.Node]
		}
		_, doubled, err := capgen.Double(capgen.RawIP, c.pkts, v)
		if err != nil {
			panic(err)
		}
		all = append(all, doubled)
	}
	var b bytes.Buffer
	if err := WritePcapMicro(&b, layers.LinkTypeRaw, capgen.Merge(all...)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// RecordNode is the node whose capture holds a record of the stand-in's
// captures: the sender's copy (the TTL as sent) was recorded at the
// sender's egress, the receiver's copy (a lower TTL) at the receiver's
// ingress; a record whose recording end is no pod was recorded at the
// other end. A per-node export holds the records of its node, so that the
// nodes' exports merged by time are the merged capture, each record once.
func RecordNode(src, dst netip.Addr, ttl uint8) string {
	first, second := src, dst
	if ttl < baseTTL {
		first, second = dst, src
	}
	if p, ok := PodOf(first); ok {
		return p.Node
	}
	if p, ok := PodOf(second); ok {
		return p.Node
	}
	return ""
}
