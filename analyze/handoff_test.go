package analyze_test

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
)

// runConcurrent analyzes the capture at path with RunConcurrent; with
// dirty, each record is built in a slot (Table.SetRecordSlot) that holds
// another flow's values, as the receiver's batches do.
func runConcurrent(t *testing.T, path string, cfg analyze.Config, dirty bool) []analyze.Record {
	t.Helper()
	c, err := ingest.Open(path, ingest.Options{})
	if err != nil {
		return nil // not a capture this reader opens: no records either way
	}
	defer c.Close()
	var recs []analyze.Record
	var slot analyze.Record
	tbl := analyze.NewTable(cfg, filepath.Base(path), 1, func(r *analyze.Record) {
		if dirty && r != &slot {
			t.Fatalf("%s: emit got %p, not the slot", path, r)
		}
		recs = append(recs, *r)
	})
	if dirty {
		junk := junkRecord()
		tbl.SetRecordSlot(func() *analyze.Record {
			slot = junk
			return &slot
		})
	}
	_ = analyze.RunConcurrent(c, tbl) // on a read error, the records before it are compared
	tbl.Flush()
	return recs
}

// junkRecord returns a record with every field set.
func junkRecord() analyze.Record {
	some := analyze.Some(77)
	rtt := analyze.RTTStats{Samples: 3, MinNs: 1, P50Ns: 2, MaxNs: 3}
	return analyze.Record{FlowID: "junk", CommunityID: "junk", Capture: "junk", Proto: "junk", IPVersion: 9,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("2001:db8::1"), SrcPort: 7, DstPort: 7,
		VLAN: some, Tunnel: "junk", TunnelID: some, TsNs: 7, EndNs: 7, State: "junk", History: "junk",
		DirectionInferred: true, Synthetic: true, OrigPkts: 7, RespPkts: 7, OrigBytes: 7, RespBytes: 7,
		OrigIPBytes: 7, RespIPBytes: 7, OrigWireBytes: 7, RespWireBytes: 7, OrigRetransPkts: 7, RespRetransPkts: 7,
		OrigRetransBytes: 7, RespRetransBytes: 7, MissedBytes: 7, OutOfOrder: 7, DupAcks: 7, ZeroWindows: 7,
		RTTSynSynAck: some, RTTSynAckAck: some, RTTHandshake: some, RTTFirstReply: some, OrigRTT: rtt, RespRTT: rtt,
		TLSSNI: "junk", TLSALPN: "junk", TLSVersion: "junk", DupPkts: 7, Vantages: 7,
		OrigTransitP50Ns: some, RespTransitP50Ns: some, Origins: 7, CaptureNodes: "junk",
		SrcPod: "junk", SrcNamespace: "junk", SrcService: "junk", SrcNode: "junk",
		DstPod: "junk", DstNamespace: "junk", DstService: "junk", DstNode: "junk", CrossCheck: "junk"}
}

// TestRecordHandOff: records built in a receiver's slot that held another
// flow's values, with the index prefetched ahead of every packet and
// eviction (as on a flood's large index), are the records of a table
// building its own with no prefetching, on the recordings and the public
// corpus, with the table full (evictions) and not.
func TestRecordHandOff(t *testing.T) {
	if r := junkRecord(); r == (analyze.Record{}) {
		t.Fatal("the junk record is zero")
	}
	caps := refereeCaptures(t)
	flows := 0
	for _, capPath := range caps {
		for _, cfg := range []analyze.Config{{}, {MaxFlows: 4, NoDedup: true}} {
			restore := analyze.SetPrefetchMin(math.MaxInt)
			plain := runConcurrent(t, capPath, cfg, false)
			restore()
			restore = analyze.SetPrefetchMin(0)
			slotted := runConcurrent(t, capPath, cfg, true)
			restore()
			sameRecords(t, fmt.Sprintf("%s (%+v)", capPath, cfg), "in the table's record", plain, "in slots, prefetching", slotted)
			flows += len(plain)
		}
	}
	t.Logf("%d captures, %d records the same", len(caps), flows)
}
