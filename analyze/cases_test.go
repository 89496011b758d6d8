package analyze_test

import (
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/capgen"
)

// opt turns a capgen expectation (capgen.Null for none) into an analyze.Opt.
func opt(v int64) analyze.Opt {
	if v == capgen.Null {
		return analyze.Opt{}
	}
	return analyze.Some(v)
}

func rttStats(r capgen.RTT) analyze.RTTStats {
	if r.Samples == 0 {
		return analyze.RTTStats{}
	}
	return analyze.RTTStats{Samples: r.Samples, MinNs: r.MinNs, P50Ns: r.P50Ns, MaxNs: r.MaxNs}
}

// expectedRecord is the part of a Record that a capgen case predicts.
type expectedRecord struct {
	Proto, Src, Dst                    string
	DirectionInferred                  bool
	State, History                     string
	OrigPkts, RespPkts                 int64
	OrigBytes, RespBytes               int64
	OrigIPBytes, RespIPBytes           int64
	OrigWireBytes, RespWireBytes       int64
	OrigRetransPkts, RespRetransPkts   int64
	OrigRetransBytes, RespRetransBytes int64
	MissedBytes                        int64
	OutOfOrder, DupAcks, ZeroWindows   int64
	RTTSynSynAck, RTTSynAckAck         analyze.Opt
	RTTHandshake, RTTFirstReply        analyze.Opt
	OrigRTT, RespRTT                   analyze.RTTStats
}

func fromRecord(r *analyze.Record) expectedRecord {
	return expectedRecord{
		Proto: r.Proto, Src: netip.AddrPortFrom(r.SrcIP, r.SrcPort).String(), Dst: netip.AddrPortFrom(r.DstIP, r.DstPort).String(),
		DirectionInferred: r.DirectionInferred, State: r.State, History: r.History,
		OrigPkts: r.OrigPkts, RespPkts: r.RespPkts, OrigBytes: r.OrigBytes, RespBytes: r.RespBytes,
		OrigIPBytes: r.OrigIPBytes, RespIPBytes: r.RespIPBytes, OrigWireBytes: r.OrigWireBytes, RespWireBytes: r.RespWireBytes,
		OrigRetransPkts: r.OrigRetransPkts, RespRetransPkts: r.RespRetransPkts,
		OrigRetransBytes: r.OrigRetransBytes, RespRetransBytes: r.RespRetransBytes,
		MissedBytes: r.MissedBytes, OutOfOrder: r.OutOfOrder, DupAcks: r.DupAcks, ZeroWindows: r.ZeroWindows,
		RTTSynSynAck: r.RTTSynSynAck, RTTSynAckAck: r.RTTSynAckAck, RTTHandshake: r.RTTHandshake, RTTFirstReply: r.RTTFirstReply,
		OrigRTT: r.OrigRTT, RespRTT: r.RespRTT,
	}
}

func fromCase(f capgen.Flow) expectedRecord {
	return expectedRecord{
		Proto: f.Proto, Src: f.Src.String(), Dst: f.Dst.String(),
		DirectionInferred: f.DirectionInferred, State: f.State, History: f.History,
		OrigPkts: f.OrigPkts, RespPkts: f.RespPkts, OrigBytes: f.OrigBytes, RespBytes: f.RespBytes,
		OrigIPBytes: f.OrigIPBytes, RespIPBytes: f.RespIPBytes, OrigWireBytes: f.OrigWireBytes, RespWireBytes: f.RespWireBytes,
		OrigRetransPkts: f.OrigRetransPkts, RespRetransPkts: f.RespRetransPkts,
		OrigRetransBytes: f.OrigRetransBytes, RespRetransBytes: f.RespRetransBytes,
		MissedBytes: f.MissedBytes, OutOfOrder: f.OutOfOrder, DupAcks: f.DupAcks, ZeroWindows: f.ZeroWindows,
		RTTSynSynAck: opt(f.RTTSynSynAckNs), RTTSynAckAck: opt(f.RTTSynAckAckNs), RTTHandshake: opt(f.RTTHandshakeNs),
		RTTFirstReply: opt(f.RTTFirstReplyNs), OrigRTT: rttStats(f.OrigRTT), RespRTT: rttStats(f.RespRTT),
	}
}

// TestGeneratedCases runs every hand-built capture of internal/capgen through
// the decoder and the flow table and checks each flow against the values
// derived by hand from the definitions.
func TestGeneratedCases(t *testing.T) {
	for _, c := range capgen.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			var got []analyze.Record
			tbl := analyze.NewTable(analyze.Config{}, c.Name+".pcap", 1, func(r *analyze.Record) { got = append(got, *r) })
			var d analyze.Decoded
			for i, p := range c.Packets {
				pkt := ingest.Packet{Data: p.Data, OrigLen: p.Length, Timestamp: p.Time.UnixNano(), LinkType: c.Link.LinkType(), Index: int64(i)}
				analyze.Decode(&pkt, &d)
				tbl.Add(&d, pkt.Index)
			}
			tbl.Flush()
			if len(got) != len(c.Flows) {
				t.Fatalf("%d flows, want %d: %+v", len(got), len(c.Flows), got)
			}
			// Flows leave the table in the order they end; the case lists
			// them by first packet.
			sort.SliceStable(got, func(i, j int) bool { return got[i].TsNs < got[j].TsNs })
			for i, want := range c.Flows {
				if g, w := fromRecord(&got[i]), fromCase(want); g != w {
					t.Errorf("flow %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

// runPackets analyzes generated packets of one link type and returns the
// flows by first-packet time.
func runPackets(link capgen.Link, pkts []capgen.Packet) []analyze.Record {
	var got []analyze.Record
	tbl := analyze.NewTable(analyze.Config{}, "twin.pcap", 1, func(r *analyze.Record) { got = append(got, *r) })
	var d analyze.Decoded
	for i, p := range pkts {
		pkt := ingest.Packet{Data: p.Data, OrigLen: p.Length, Timestamp: p.Time.UnixNano(), LinkType: link.LinkType(), Index: int64(i)}
		analyze.Decode(&pkt, &d)
		tbl.Add(&d, pkt.Index)
	}
	tbl.Flush()
	sort.SliceStable(got, func(i, j int) bool { return got[i].TsNs < got[j].TsNs })
	return got
}

// TestSyntheticTwin: a Kubeshark merged capture holds a TLS connection and,
// under the same 5-tuple, its synthetic plaintext twin (fake handshake, ISNs
// 0), interleaved. The wire flow's numbers must be exactly those of the wire
// connection alone, and the twin a separate flow marked synthetic.
func TestSyntheticTwin(t *testing.T) {
	cl := netip.MustParseAddrPort("10.1.0.5:43210")
	sv := netip.MustParseAddrPort("10.2.0.9:443")
	wire := capgen.NewTCP(cl, sv, capgen.Options{Link: capgen.RawIP})
	wire.SYN(0)
	wire.SYNACK(1 * time.Millisecond)
	wire.ACK(capgen.Orig, 2*time.Millisecond)
	twin := capgen.NewTCP(cl, sv, capgen.Options{Link: capgen.RawIP, ZeroISN: true})
	twin.SYN(2500 * time.Microsecond)
	twin.SYNACK(2500 * time.Microsecond)
	twin.ACK(capgen.Orig, 2500*time.Microsecond)
	for i := range 5 {
		at := time.Duration(3+i) * time.Millisecond
		wire.Data(capgen.Orig, at, 517)                     // TLS records on the wire
		twin.Data(capgen.Orig, at+10*time.Microsecond, 480) // their plaintext
		wire.Data(capgen.Resp, at+400*time.Microsecond, 1400)
		twin.Data(capgen.Resp, at+410*time.Microsecond, 1350)
		wire.ACK(capgen.Orig, at+600*time.Microsecond)
	}
	wire.FIN(capgen.Orig, 20*time.Millisecond)
	wire.FIN(capgen.Resp, 21*time.Millisecond)
	wire.ACK(capgen.Orig, 22*time.Millisecond)
	twin.FIN(capgen.Orig, 20*time.Millisecond+5*time.Microsecond)
	twin.FIN(capgen.Resp, 21*time.Millisecond+5*time.Microsecond)

	alone := runPackets(capgen.RawIP, wire.Packets())
	merged := runPackets(capgen.RawIP, capgen.Merge(wire.Packets(), twin.Packets()))
	if len(alone) != 1 || len(merged) != 2 {
		t.Fatalf("%d flows alone, %d merged; want 1 and 2", len(alone), len(merged))
	}
	w, tw := merged[0], merged[1]
	want := alone[0]
	w.FlowID, want.FlowID = "", ""
	if w != want {
		t.Errorf("wire flow changed by the twin:\n got %+v\nwant %+v", w, want)
	}
	if w.Synthetic || !tw.Synthetic {
		t.Errorf("synthetic: wire %v, twin %v; want false, true", w.Synthetic, tw.Synthetic)
	}
	if tw.OrigBytes != 5*480 || tw.RespBytes != 5*1350 || tw.State != "SF" {
		t.Errorf("twin: %d/%d bytes, state %s; want 2400/6750 SF", tw.OrigBytes, tw.RespBytes, tw.State)
	}
}
