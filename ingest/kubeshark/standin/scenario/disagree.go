package scenario

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/internal/capgen"
)

// The disagreeing scenario: a capture and Kubeshark records built with
// deliberate disagreements between the two witnesses, for the cross-check's
// known-answer tests. Serve it with Options{Capture: d.Capture, L4Flows:
// d.L4Flows, Workloads: d.Workloads}.

// Expect is the verdict a cross-check must give one aggregate.
type Expect struct {
	Proto          string
	Client, Server netip.Addr
	Port           uint16
	Verdict        string
}

// Disagreements is the disagreeing scenario.
type Disagreements struct {
	Capture   []byte // classic pcap, LINKTYPE_RAW
	L4Flows   []byte // list_l4_flows records (format full), a JSON array
	Workloads []byte // list_workloads' answer
	Want      []Expect
	// ReusedIP is a pod IP held by OldPod until ReuseNs, then by NewPod.
	// Its flows to checkout:8080 come from ports 45000 (old pod's time),
	// 45001 (new pod's) and 45002 (spanning the change: no identity).
	ReusedIP       netip.Addr
	OldPod, NewPod standin.Pod
	ReuseNs        int64
}

// DisagreeingScenario builds the scenario.
func DisagreeingScenario() *Disagreements {
	d := &Disagreements{
		ReusedIP: netip.MustParseAddr("10.244.2.50"),
		ReuseNs:  standin.Epoch.Add(100 * time.Millisecond).UnixNano(),
	}
	d.OldPod = standin.Pod{Name: "batch-job-old-1", Namespace: "batch", Node: "worker-2", IP: d.ReusedIP}
	d.NewPod = standin.Pod{Name: "api-new-7f9c-zz1", Namespace: "shop", Node: "worker-2", IP: d.ReusedIP}
	ms := time.Millisecond
	tcp := func(cl, sv netip.AddrPort, at time.Duration, synAck time.Duration, build func(c *capgen.TCP, at time.Duration)) conversation {
		c := capgen.NewTCP(cl, sv, capgen.Options{Link: capgen.RawIP, ClientISN: 0x1000 + uint32(cl.Port()), ServerISN: 0x9000 + uint32(cl.Port())})
		c.SYN(at)
		c.SYNACK(at + synAck)
		c.ACK(capgen.Orig, at+synAck+100*us)
		build(c, at+synAck+200*us)
		return conversation{proto: "tcp", client: cl, server: sv, pkts: c.Packets()}
	}
	reqResp := func(req, resp int) func(c *capgen.TCP, at time.Duration) {
		return func(c *capgen.TCP, at time.Duration) {
			c.Data(capgen.Orig, at, req)
			c.Data(capgen.Resp, at+2*ms, resp)
			c.ACK(capgen.Orig, at+2*ms+100*us)
			c.FIN(capgen.Orig, at+5*ms)
			c.FIN(capgen.Resp, at+5*ms+300*us)
			c.ACK(capgen.Orig, at+5*ms+400*us)
		}
	}
	checkout := netip.AddrPortFrom(standin.Checkout.IP, 8080)
	redis := netip.AddrPortFrom(standin.Redis.IP, 6379)
	payments := netip.AddrPortFrom(standin.Payments.IP, 443)

	// 1. match.
	match := tcp(netip.AddrPortFrom(standin.Frontend.IP, 51000), checkout, 1*ms, 350*us, reqResp(310, 1200))
	// 2. bytes_mismatch: the capture lost a 1200-byte response segment the
	// socket sent (and the peer acknowledged).
	lossy := tcp(netip.AddrPortFrom(standin.Checkout.IP, 40000), redis, 2*ms, 60*us, func(c *capgen.TCP, at time.Duration) {
		c.Data(capgen.Orig, at, 31)
		c.Skip(capgen.Resp, 1200)
		c.Data(capgen.Resp, at+1*ms, 9)
		c.ACK(capgen.Orig, at+1*ms+100*us)
		c.FIN(capgen.Orig, at+3*ms)
		c.FIN(capgen.Resp, at+3*ms+60*us)
		c.ACK(capgen.Orig, at+3*ms+100*us)
	})
	// 3. kubeshark_only: a connection the capture does not hold at all.
	unseen := tcp(netip.AddrPortFrom(standin.Frontend.IP, 52000), redis, 20*ms, 80*us, reqResp(27, 9))
	// 4. rtt_mismatch: Kubeshark's handshake p50 is 50 ms, the wire's 0.9 ms.
	slow := tcp(netip.AddrPortFrom(standin.Frontend.IP, 51234), payments, 3*ms, 900*us, reqResp(517, 1400))
	// 5. outside_window: a DNS exchange Kubeshark dates an hour later.
	dns := capgen.NewUDP(netip.AddrPortFrom(standin.Frontend.IP, 41000), netip.AddrPortFrom(standin.CoreDNS.IP, 53), raw)
	dns.Send(capgen.Orig, 30*ms, 40)
	dns.Send(capgen.Resp, 31*ms, 56)
	late := conversation{proto: "udp", client: netip.AddrPortFrom(standin.Frontend.IP, 41000), server: netip.AddrPortFrom(standin.CoreDNS.IP, 53), pkts: dns.Packets()}
	// 6. pcap_only: Kubeshark has no record of the external call.
	ext := tcp(netip.AddrPortFrom(standin.Checkout.IP, 40100), netip.AddrPortFrom(standin.External, 443), 10*ms, 12*ms, reqResp(230, 640))
	// 7. the reused pod IP: three connections to checkout, one aggregate.
	reuse := func(port uint16, at time.Duration, hold time.Duration) conversation {
		return tcp(netip.AddrPortFrom(d.ReusedIP, port), checkout, at, 300*us, func(c *capgen.TCP, at time.Duration) {
			c.Data(capgen.Orig, at, 100)
			c.Data(capgen.Resp, at+1*ms, 200)
			c.ACK(capgen.Orig, at+1*ms+100*us)
			c.FIN(capgen.Orig, at+hold)
			c.FIN(capgen.Resp, at+hold+100*us)
			c.ACK(capgen.Orig, at+hold+200*us)
		})
	}
	r1, r2, r3 := reuse(45000, 5*ms, 5*ms), reuse(45001, 200*ms, 5*ms), reuse(45002, 90*ms, 20*ms)

	captured := []conversation{match, lossy, slow, ext, r1, r2, r3}
	var all [][]capgen.Packet
	for _, c := range captured {
		all = append(all, c.pkts)
	}
	var b bytes.Buffer
	if err := WritePcapMicro(&b, ingest.LinkTypeRaw, capgen.Merge(all...)); err != nil {
		panic(err)
	}
	d.Capture = b.Bytes()

	recs := l4Records([]conversation{match, lossy, unseen, slow, late, r1, r2, r3})
	// The socket counted the segment the capture lost.
	recs[1].ServerStats.TxBytes += 1200
	recs[1].ClientStats.RxBytes += 1200
	recs[1].Totals.Bytes += 1200
	recs[3].ClientStats.P50, recs[3].ClientStats.P90, recs[3].ClientStats.P99 = 50000, 52000, 55000
	recs[4].Timestamp = standin.Epoch.Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z")
	// One aggregate per (proto, client ip, server ip, server port).
	agg := recs[5]
	for _, r := range recs[6:] {
		for _, p := range [][2]*standin.L4Stats{{&agg.ClientStats, &r.ClientStats}, {&agg.ServerStats, &r.ServerStats}} {
			p[0].TxPkts += p[1].TxPkts
			p[0].RxPkts += p[1].RxPkts
			p[0].TxBytes += p[1].TxBytes
			p[0].RxBytes += p[1].RxBytes
		}
		agg.Totals.Pkts += r.Totals.Pkts
		agg.Totals.Bytes += r.Totals.Bytes
		agg.Timestamp = max(agg.Timestamp, r.Timestamp)
	}
	agg.Client.Pod, agg.Client.NS = d.NewPod.Name, d.NewPod.Namespace // Kubeshark names today's holder
	recs = append(recs[:5], agg)
	d.L4Flows = marshalL4(recs)

	ip := func(a netip.Addr) string { return a.String() }
	d.Want = []Expect{
		{"tcp", standin.Frontend.IP, standin.Checkout.IP, 8080, "match"},
		{"tcp", standin.Checkout.IP, standin.Redis.IP, 6379, "bytes_mismatch"},
		{"tcp", standin.Frontend.IP, standin.Redis.IP, 6379, "kubeshark_only"},
		{"tcp", standin.Frontend.IP, standin.Payments.IP, 443, "rtt_mismatch"},
		{"udp", standin.Frontend.IP, standin.CoreDNS.IP, 53, "outside_window"},
		{"tcp", d.ReusedIP, standin.Checkout.IP, 8080, "match"},
		{"tcp", standin.Checkout.IP, standin.External, 443, "pcap_only"},
	}
	ws := standin.Workloads()
	ws = append(ws,
		standin.Workload{Name: d.OldPod.Name, Namespace: d.OldPod.Namespace, Kind: "pod", Labels: map[string]string{}, IPs: []map[string]any{{"ip": ip(d.ReusedIP), "timestamp": standin.IPAssigned}}},
		standin.Workload{Name: d.NewPod.Name, Namespace: d.NewPod.Namespace, Kind: "pod", Labels: map[string]string{}, IPs: []map[string]any{{"ip": ip(d.ReusedIP), "timestamp": d.ReuseNs / 1e6}}},
	)
	d.Workloads, _ = json.MarshalIndent(map[string]any{"workloads": ws, "total": len(ws)}, "", "  ")
	return d
}
