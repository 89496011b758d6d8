package analyze_test

import (
	"fmt"
	"net/netip"

	"github.com/flowproof/flowproof/analyze"
)

// With DeferStrings the table leaves FlowID, CommunityID and History to the
// receiver of its records, which can build them on another goroutine.
func ExampleRecord_Complete() {
	var got []analyze.Record
	t := analyze.NewTable(analyze.Config{DeferStrings: true}, "dns.pcap", 1, func(r *analyze.Record) {
		got = append(got, *r)
	})
	query := analyze.Decoded{Kind: analyze.KindUDP, IPProto: 17, TsNs: 1e9, VLAN: -1, IPVersion: 4,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.53"), SrcPort: 40000, DstPort: 53,
		IPLen: 60, Payload: 32, WireLen: 74, TunnelID: -1}
	t.Add(&query, 0)
	t.Flush()

	r := got[0]
	fmt.Printf("before: %q %q %q\n", r.FlowID, r.CommunityID, r.History)
	var strs analyze.Completer
	r.Complete(&strs)
	fmt.Printf("after: %q %q %q\n", r.FlowID, r.CommunityID, r.History)
	// The Community ID, checked with Python's hashlib: SHA-1 of seed 0,
	// 10.0.0.1, 10.0.0.53, proto 17, padding, ports 40000 and 53.

	// Output:
	// before: "" "" ""
	// after: "1-1" "1:tsRYCl/+BxiF7NoYw7+legBUvt0=" "D"
}
