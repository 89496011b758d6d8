package analyze_test

import (
	"cmp"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/capgen"
)

// benchPackets builds a workload like `make bench`'s capture: many short
// HTTP connections (handshake, request, response, FIN close), 64 at a time
// interleaved, as ingest.Packets ready for Decode.
func benchPackets(b *testing.B, conns int) []ingest.Packet {
	b.Helper()
	var pkts []ingest.Packet
	for i, p := range benchConversations(conns) {
		pkts = append(pkts, ingest.Packet{Data: p.Data, OrigLen: p.Length, Timestamp: p.Time.UnixNano(), LinkType: 1, Index: int64(i)})
	}
	return pkts
}

// benchConversations scripts the conversations of benchPackets.
func benchConversations(conns int) []capgen.Packet {
	var convs [][]capgen.Packet
	for i := range conns {
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 78, byte(i >> 16), 1}), uint16(1024+i%60000))
		sv := netip.MustParseAddrPort("10.78.0.2:80")
		c := capgen.NewTCP(cl, sv, capgen.Options{})
		at := time.Duration(i/64) * time.Millisecond
		c.SYN(at)
		c.SYNACK(at + 50*time.Microsecond)
		c.ACK(capgen.Orig, at+100*time.Microsecond)
		c.Data(capgen.Orig, at+110*time.Microsecond, 90)
		c.ACK(capgen.Resp, at+150*time.Microsecond)
		c.Data(capgen.Resp, at+200*time.Microsecond, 1264)
		c.FIN(capgen.Resp, at+210*time.Microsecond)
		c.ACK(capgen.Orig, at+250*time.Microsecond)
		c.FIN(capgen.Orig, at+260*time.Microsecond)
		c.ACK(capgen.Resp, at+300*time.Microsecond)
		convs = append(convs, c.Packets())
	}
	return capgen.Merge(convs...)
}

// decodeAndFlow decodes pkts into a new table, flows emitted and
// discarded, and returns the table.
func decodeAndFlow(pkts []ingest.Packet) *analyze.Table {
	var d analyze.Decoded
	tbl := analyze.NewTable(analyze.Config{}, "bench", 1, func(*analyze.Record) {})
	for i := range pkts {
		analyze.Decode(&pkts[i], &d)
		tbl.Add(&d, pkts[i].Index)
	}
	tbl.Flush()
	return tbl
}

// BenchmarkDecodeAndFlow measures the per-packet hot path: decode plus flow
// table update, flows emitted and discarded (no Parquet).
func BenchmarkDecodeAndFlow(b *testing.B) {
	pkts := benchPackets(b, 20000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		decodeAndFlow(pkts)
	}
	perPacket := float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(pkts))
	b.ReportMetric(perPacket, "ns/packet")
	b.ReportMetric(1e3/perPacket, "Mpackets/s")
}

// BenchmarkTableRecorded measures the flow table alone on the first
// packets of `make bench`'s recorded capture, decoded beforehand: real port
// reuse, real interleaving and real flow lifetimes, which the synthetic
// workload above lacks. It skips when the capture has not been recorded.
func BenchmarkTableRecorded(b *testing.B) {
	dir := cmp.Or(os.Getenv("FLOWPROOF_BENCH_DIR"), "/var/tmp/flowproof-bench")
	c, err := ingest.Open(filepath.Join(dir, "bench.pcap"), ingest.Options{})
	if err != nil {
		b.Skipf("no recorded bench capture (make bench records it): %v", err)
	}
	defer c.Close()
	const packets = 400_000
	ds := make([]analyze.Decoded, 0, packets)
	var p ingest.Packet
	for len(ds) < packets && c.Next(&p) == nil {
		ds = ds[:len(ds)+1]
		analyze.Decode(&p, &ds[len(ds)-1])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		// As the CLI runs it: strings are made on the sink's goroutine.
		tbl := analyze.NewTable(analyze.Config{DeferStrings: true}, "bench", 1, func(*analyze.Record) {})
		for i := range ds {
			tbl.Add(&ds[i], int64(i))
		}
		tbl.Flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds)), "ns/packet")
}

// BenchmarkDecodeAndFlowDoubled is BenchmarkDecodeAndFlow on the same
// traffic recorded at both ends (raw IP, same node, 20 µs apart): the cost
// of folding where there are copies, per record.
func BenchmarkDecodeAndFlowDoubled(b *testing.B) {
	_, doubled, err := capgen.Double(capgen.Ethernet, benchConversations(20000),
		capgen.Vantage{Local: []netip.Addr{netip.MustParseAddr("10.78.0.2")}, Delay: 20 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	pkts := make([]ingest.Packet, len(doubled))
	for i, p := range doubled {
		pkts[i] = ingest.Packet{Data: p.Data, OrigLen: p.Length, Timestamp: p.Time.UnixNano(), LinkType: capgen.RawIP.LinkType(), Index: int64(i)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var folded int64
	for b.Loop() {
		folded = decodeAndFlow(pkts).DupFolded
	}
	if folded != int64(len(pkts)/2) {
		b.Fatalf("folded %d of %d records", folded, len(pkts))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/record")
}

// BenchmarkTableFlood is the flow table alone on a SYN flood like
// testdata/bench/flood's: 200,000 spoofed sources, one SYN each, to one
// server, every tenth answered by a SYN/ACK; every flow is live at the end.
// B/flow is the heap the live flows take (the flow store, their TCP state
// and the index).
func BenchmarkTableFlood(b *testing.B) {
	const sources = 200_000
	var ds []analyze.Decoded
	server := netip.AddrFrom4([4]byte{10, 50, 0, 1})
	for i := range sources {
		src := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		syn := analyze.Decoded{Kind: analyze.KindTCP, IPProto: 6, TsNs: int64(i) * 10_000, WireLen: 60, VLAN: -1,
			IPVersion: 4, Src: src, Dst: server, SrcPort: uint16(1024 + i%60000), DstPort: 80, IPLen: 40,
			Seq: uint32(i) * 7919, Flags: 0x02, Window: 64240, TTL: 64, TunnelID: -1}
		ds = append(ds, syn)
		if i%10 == 0 {
			ack := syn
			ack.TsNs += 1000
			ack.Src, ack.Dst, ack.SrcPort, ack.DstPort = syn.Dst, syn.Src, syn.DstPort, syn.SrcPort
			ack.Seq, ack.Ack, ack.Flags = 1, syn.Seq+1, 0x12
			ds = append(ds, ack)
		}
	}
	b.ReportAllocs()
	var perFlow float64
	var took time.Duration
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		tbl := analyze.NewTable(analyze.Config{DeferStrings: true, NoDedup: true}, "flood", 1, func(*analyze.Record) {})
		for i := range ds {
			tbl.Add(&ds[i], int64(i))
		}
		took += time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perFlow = float64(after.HeapAlloc-before.HeapAlloc) / sources
		start = time.Now()
		tbl.Flush()
		took += time.Since(start)
	}
	// Per packet without the collections made to measure the heap.
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N*len(ds)), "ns/packet")
	b.ReportMetric(perFlow, "B/flow")
}
