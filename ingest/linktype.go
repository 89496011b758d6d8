package ingest

// LinkType is a capture's link-layer header type: the LINKTYPE_ number of
// the pcap file header or pcapng Interface Description Block (its low 16
// bits). The numbers are tcpdump.org's list and gopacket's layers.LinkType.
//
// It is ingest's own type, not gopacket's, because importing gopacket's
// layers package brings its metadata tables into the binary: 5 MiB of
// pointers that every garbage collection scans (and on some kernels
// faults in), for a few constants.
type LinkType uint16

// The link types the decoder reads (package analyze), and those tools
// commonly write.
const (
	LinkTypeNull      LinkType = 0   // BSD loopback, host byte order family
	LinkTypeEthernet  LinkType = 1   // Ethernet II / 802.3
	LinkTypePPP       LinkType = 9   // PPP
	LinkTypeFDDI      LinkType = 10  // FDDI
	LinkTypeRaw12     LinkType = 12  // raw IP: DLT_RAW's number on most systems, written by some tools
	LinkTypeRaw14     LinkType = 14  // raw IP: DLT_RAW's number on OpenBSD
	LinkTypePPPHDLC   LinkType = 50  // PPP in HDLC-like framing
	LinkTypeRaw       LinkType = 101 // raw IP (IPv4 or IPv6)
	LinkTypeCHDLC     LinkType = 104 // Cisco HDLC
	LinkTypeIEEE80211 LinkType = 105 // 802.11
	LinkTypeLoop      LinkType = 108 // OpenBSD loopback, network byte order family
	LinkTypeLinuxSLL  LinkType = 113 // Linux "any" cooked capture
	LinkTypePFLog     LinkType = 117 // OpenBSD pflog
	LinkTypePrism     LinkType = 119 // Prism 802.11
	LinkTypeRadioTap  LinkType = 127 // 802.11 with radiotap
	LinkTypeLinuxUSB  LinkType = 220 // Linux USB
	LinkTypeIPv4      LinkType = 228 // raw IPv4
	LinkTypeIPv6      LinkType = 229 // raw IPv6
	LinkTypeNFLOG     LinkType = 239 // Linux netfilter log
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// String is the link type's name as gopacket's layers.LinkType names it
// (the manifest's link_types counts have always used those names), or
// "UnknownLinkType" for a type gopacket does not name.
func (t LinkType) String() string {
	switch t {
	case LinkTypeNull:
		return "Null"
	case LinkTypeEthernet:
		return "Ethernet"
	case LinkTypePPP:
		return "PPP"
	case LinkTypeFDDI:
		return "FDDI"
	case LinkTypeRaw12, LinkTypeRaw:
		return "Raw"
	case LinkTypeIEEE80211:
		return "802.11"
	case LinkTypeLoop:
		return "Loop"
	case LinkTypeLinuxSLL:
		return "Linux SLL"
	case LinkTypePFLog:
		return "PFLog"
	case LinkTypePrism:
		return "Prism"
	case LinkTypeRadioTap:
		return "RadioTap"
	case LinkTypeLinuxUSB:
		return "USB"
	case LinkTypeLinuxSLL2:
		return "Linux SLL2"
	}
	return "UnknownLinkType"
}
