package analyze

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/flowproof/flowproof/internal/prefetch"
)

// TestPrefetchAllocs: prefetching a packet's index slot and a record's
// lines allocates nothing (it runs per packet on a flood).
func TestPrefetchAllocs(t *testing.T) {
	tbl := NewTable(Config{}, "t", 1, func(*Record) {})
	d := Decoded{Kind: KindTCP, IPProto: 6, IPVersion: 4, VLAN: -1, TunnelID: -1,
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SrcPort: 1234, DstPort: 80}
	var r Record
	if n := testing.AllocsPerRun(1000, func() {
		tbl.prefetchFlow(&d)
		prefetch.Write(unsafe.Pointer(&r), unsafe.Sizeof(r))
	}); n != 0 {
		t.Errorf("%v allocations per prefetch", n)
	}
}
