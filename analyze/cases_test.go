package analyze_test

import (
	"net/netip"
	"sort"
	"testing"

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
