package analyze

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/flowproof/flowproof/analyze/communityid"
)

// TestCompleteChunks: records completed across several of the Completer's
// string chunks keep their own strings (a new chunk never writes over the
// strings of the last), including the longest flow_ids.
func TestCompleteChunks(t *testing.T) {
	var c Completer
	recs := make([]Record, 3*stringChunk/40)
	for i := range recs {
		r := &recs[i]
		r.SrcIP = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		r.DstIP = netip.MustParseAddr("2001:db8::1")
		if i%3 == 0 {
			r.DstIP = netip.AddrFrom4([4]byte{10, 2, 0, 1})
		}
		r.SrcPort, r.DstPort = uint16(i), 443
		first := int64(i)
		if i%7 == 0 {
			first = 1<<63 - 2 // the longest index: 19 digits
		}
		r.pending = pendingStrings{todo: true, ordinal: i / 100, firstIndex: first, ipProto: 6, histLen: 1, hist: [maxHistory]byte{'S'}}
		if i%11 == 0 {
			r.pending.ordinal = -1 << 63 // the longest ordinal: 20 characters
		}
		r.Complete(&c)
	}
	for i := range recs {
		r := &recs[i]
		first, ord := int64(i), i/100
		if i%7 == 0 {
			first = 1<<63 - 2
		}
		if i%11 == 0 {
			ord = -1 << 63
		}
		wantID := strconv.Itoa(ord) + "-" + strconv.FormatInt(first+1, 10)
		wantCID := communityid.ID(0, r.SrcIP, r.DstIP, 6, r.SrcPort, r.DstPort)
		if r.FlowID != wantID || r.CommunityID != wantCID || r.History != "S" {
			t.Fatalf("record %d: %q %q %q, want %q %q \"S\"", i, r.FlowID, r.CommunityID, r.History, wantID, wantCID)
		}
	}
}
