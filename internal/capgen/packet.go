package capgen

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowproof/flowproof/ingest"
)

// Epoch is the time every scripted conversation counts from: 2024-01-01T00:00:00Z.
// Script times are offsets from it, so every timestamp is an exact nanosecond value.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// EpochNs is Epoch in nanoseconds since the Unix epoch.
const EpochNs int64 = 1_704_067_200_000_000_000

// Fixed link-layer addresses: locally administered, one per side.
var (
	ClientMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	ServerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// Packet is one captured frame.
type Packet struct {
	Time   time.Time // capture time (UTC, nanosecond precision)
	Data   []byte    // captured bytes; shorter than Length when truncated by a snaplen
	Length int       // original length of the frame on the wire
}

// Link is the link-layer framing of generated packets.
type Link uint8

const (
	// Ethernet II frames (optionally 802.1Q tagged), padded to the 60-byte minimum
	// as gopacket does (and as they appear on a wire), so a frame can be longer
	// than its IP packet plus 14.
	Ethernet Link = iota
	// SLL2 is the Linux "cooked" v2 header (LINKTYPE_LINUX_SLL2, 276) that
	// libpcap writes for captures on the "any" device. No padding.
	SLL2
	// RawIP is a bare IPv4 or IPv6 packet (LINKTYPE_RAW, 101). No padding.
	RawIP
)

// LinkType returns the pcap link type of l.
func (l Link) LinkType() ingest.LinkType {
	switch l {
	case SLL2:
		return ingest.LinkTypeLinuxSLL2
	case RawIP:
		return ingest.LinkTypeRaw
	default:
		return ingest.LinkTypeEthernet
	}
}

func (l Link) String() string {
	switch l {
	case SLL2:
		return "sll2"
	case RawIP:
		return "raw"
	default:
		return "ethernet"
	}
}

// Options shape the packets of one scripted conversation. The zero value means
// untagged Ethernet, no truncation, the default ISNs and a 64240-byte window.
type Options struct {
	Link      Link
	VLAN      uint16 // 802.1Q VLAN id (Ethernet only); 0 means untagged
	Snaplen   int    // keep at most this many bytes of each frame; 0 keeps all
	ClientISN uint32 // TCP initial sequence numbers; 0 means DefaultClientISN
	ServerISN uint32 // ... and DefaultServerISN
	Window    uint16 // initial advertised window of both sides; 0 means DefaultWindow
	// ZeroISN makes both ISNs 0, so data starts at sequence number 1, as in
	// the synthetic plaintext twin Kubeshark writes for a decrypted TLS
	// connection (design.md); ClientISN and ServerISN are then ignored.
	ZeroISN bool
}

// Defaults used when Options leaves a field zero.
const (
	DefaultClientISN uint32 = 0x10000000
	DefaultServerISN uint32 = 0x20000000
	DefaultWindow    uint16 = 64240
	// DefaultSnaplen is the pcap header snaplen when no packet is truncated
	// (tcpdump's maximum).
	DefaultSnaplen = 262144
)

// Dir is the sender of a packet: the client (Orig, the first address given to
// NewTCP or NewUDP) or the server (Resp).
type Dir uint8

const (
	Orig Dir = 0
	Resp Dir = 1
)

func (d Dir) peer() Dir { return 1 - d }

func (d Dir) String() string {
	if d == Orig {
		return "orig"
	}
	return "resp"
}

// wire holds what both TCP and UDP conversations need to frame packets.
type wire struct {
	opts  Options
	addr  [2]netip.AddrPort
	mac   [2]net.HardwareAddr
	ipID  [2]uint16
	last  time.Duration
	any   bool
	pkts  []Packet
	proto layers.IPProtocol
}

func newWire(client, server netip.AddrPort, opts Options, proto layers.IPProtocol) wire {
	if client.Addr().Is4() != server.Addr().Is4() {
		panic(fmt.Sprintf("capgen: mixed address families %v and %v", client, server))
	}
	if opts.VLAN > 0xfff {
		panic(fmt.Sprintf("capgen: VLAN id %d out of range", opts.VLAN))
	}
	if opts.VLAN != 0 && opts.Link != Ethernet {
		panic("capgen: a VLAN tag needs Ethernet framing")
	}
	return wire{
		opts:  opts,
		addr:  [2]netip.AddrPort{client, server},
		mac:   [2]net.HardwareAddr{ClientMAC, ServerMAC},
		ipID:  [2]uint16{0x1000, 0x2000},
		proto: proto,
	}
}

// tick checks that a script runs forward in time.
func (w *wire) tick(at time.Duration) {
	if w.any && at < w.last {
		panic(fmt.Sprintf("capgen: packet at %v is earlier than the previous one at %v", at, w.last))
	}
	w.any, w.last = true, at
}

// l4 is a transport layer whose checksum covers an IP pseudo-header.
type l4 interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}

// emit frames one packet sent by dir at offset at and appends it to w.pkts.
func (w *wire) emit(dir Dir, at time.Duration, t l4, payload []byte) {
	src, dst := w.addr[dir].Addr(), w.addr[dir.peer()].Addr()
	var ipLayer gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	etype := layers.EthernetTypeIPv4
	if src.Is4() {
		ip := &layers.IPv4{
			Version:  4,
			IHL:      5,
			Id:       w.ipID[dir],
			Flags:    layers.IPv4DontFragment,
			TTL:      64,
			Protocol: w.proto,
			SrcIP:    src.AsSlice(),
			DstIP:    dst.AsSlice(),
		}
		w.ipID[dir]++
		ipLayer, netLayer = ip, ip
	} else {
		ip := &layers.IPv6{
			Version:    6,
			NextHeader: w.proto,
			HopLimit:   64,
			SrcIP:      src.AsSlice(),
			DstIP:      dst.AsSlice(),
		}
		ipLayer, netLayer = ip, ip
		etype = layers.EthernetTypeIPv6
	}
	if err := t.SetNetworkLayerForChecksum(netLayer); err != nil {
		panic(err)
	}
	var ls []gopacket.SerializableLayer
	if w.opts.Link == Ethernet {
		eth := &layers.Ethernet{SrcMAC: w.mac[dir], DstMAC: w.mac[dir.peer()], EthernetType: etype}
		ls = append(ls, eth)
		if w.opts.VLAN != 0 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: w.opts.VLAN, Type: etype})
		}
	}
	ls = append(ls, ipLayer, t, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		panic(err)
	}
	frame := slices.Clone(buf.Bytes())
	if w.opts.Link == SLL2 {
		frame = append(w.sll2Header(dir, etype), frame...)
	}
	data := frame
	if w.opts.Snaplen > 0 && len(data) > w.opts.Snaplen {
		data = data[:w.opts.Snaplen]
	}
	w.pkts = append(w.pkts, Packet{Time: Epoch.Add(at), Data: data, Length: len(frame)})
}

// sll2Header builds the 20-byte LINUX_SLL2 header as seen by a capture on the
// client host: the client's packets are outgoing, the server's are to us.
func (w *wire) sll2Header(dir Dir, etype layers.EthernetType) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], uint16(etype))
	binary.BigEndian.PutUint32(h[4:], 2) // interface index
	binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
	if dir == Orig {
		h[10] = byte(layers.LinuxSLL2PacketTypeOutgoing)
	} else {
		h[10] = byte(layers.LinuxSLL2PacketTypeHost)
	}
	h[11] = 6
	copy(h[12:], w.mac[dir])
	return h
}

// fill returns n deterministic payload bytes ("abc...zabc...").
func fill(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// Merge interleaves the packets of several conversations by capture time; packets
// with equal times keep the order of the arguments.
func Merge(convs ...[]Packet) []Packet {
	var all []Packet
	for _, c := range convs {
		all = append(all, c...)
	}
	slices.SortStableFunc(all, func(a, b Packet) int { return a.Time.Compare(b.Time) })
	return all
}
