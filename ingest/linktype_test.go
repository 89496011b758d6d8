package ingest

import (
	"runtime"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// TestLinkTypeNames: every link type is named as gopacket names it (the
// manifest's link_types names stay what they were), and the constants are
// gopacket's numbers.
func TestLinkTypeNames(t *testing.T) {
	if runtime.GOOS == "openbsd" {
		t.Skip("gopacket names 14, not 12, Raw on OpenBSD")
	}
	for i := range 1 << 16 {
		if got, want := LinkType(i).String(), layers.LinkType(i).String(); got != want {
			t.Errorf("LinkType(%d).String() = %q, gopacket's %q", i, got, want)
		}
	}
	for _, c := range []struct {
		ours   LinkType
		theirs layers.LinkType
	}{
		{LinkTypeNull, layers.LinkTypeNull}, {LinkTypeEthernet, layers.LinkTypeEthernet},
		{LinkTypePPP, layers.LinkTypePPP}, {LinkTypeFDDI, layers.LinkTypeFDDI},
		{LinkTypePPPHDLC, layers.LinkTypePPP_HDLC}, {LinkTypeRaw, layers.LinkTypeRaw},
		{LinkTypeCHDLC, layers.LinkTypeC_HDLC}, {LinkTypeIEEE80211, layers.LinkTypeIEEE802_11},
		{LinkTypeLoop, layers.LinkTypeLoop}, {LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL},
		{LinkTypePFLog, layers.LinkTypePFLog}, {LinkTypePrism, layers.LinkTypePrismHeader},
		{LinkTypeRadioTap, layers.LinkTypeIEEE80211Radio}, {LinkTypeLinuxUSB, layers.LinkTypeLinuxUSB},
		{LinkTypeIPv4, layers.LinkTypeIPv4}, {LinkTypeIPv6, layers.LinkTypeIPv6},
		{LinkTypeLinuxSLL2, layers.LinkTypeLinuxSLL2},
	} {
		if uint16(c.ours) != uint16(c.theirs) {
			t.Errorf("%v is %d, gopacket's %d", c.ours, c.ours, c.theirs)
		}
	}
}
