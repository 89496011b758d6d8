package analyze

import (
	"net/netip"
	"strconv"
	"unsafe"

	"github.com/flowproof/flowproof/analyze/communityid"
	"github.com/flowproof/flowproof/internal/prefault"
)

// Opt is an optional integer: Valid is false when the value is unknown
// (it becomes a Parquet null).
type Opt struct {
	V     int64
	Valid bool
}

// Some returns a valid Opt holding v.
func Some(v int64) Opt { return Opt{V: v, Valid: true} }

// Record is one finished flow: the columns of flows.parquet schema v1 (see
// ../shared/docs/design.md and the package documentation for each definition).
// Orig is the originator, Resp the responder.
type Record struct {
	FlowID      string
	CommunityID string
	Capture     string // input file name the flow came from
	Proto       string // "tcp" or "udp"
	IPVersion   int32
	SrcIP       netip.Addr
	DstIP       netip.Addr
	SrcPort     uint16
	DstPort     uint16
	VLAN        Opt // outermost 802.1Q id
	Tunnel      string
	TunnelID    Opt

	TsNs  int64 // first packet, epoch ns
	EndNs int64 // last packet, epoch ns

	State             string // Zeek conn_state
	History           string // Zeek history letters
	DirectionInferred bool
	Synthetic         bool

	OrigPkts, RespPkts                 int64
	OrigBytes, RespBytes               int64 // transport payload from IP lengths
	OrigIPBytes, RespIPBytes           int64
	OrigWireBytes, RespWireBytes       int64
	OrigRetransPkts, RespRetransPkts   int64
	OrigRetransBytes, RespRetransBytes int64
	MissedBytes                        int64
	OutOfOrder, DupAcks, ZeroWindows   int64

	RTTSynSynAck  Opt
	RTTSynAckAck  Opt
	RTTHandshake  Opt
	RTTFirstReply Opt

	OrigRTT, RespRTT RTTStats

	// What the TLS handshake's first messages say (package analyze/l7/tls):
	// the ClientHello's server name and offered ALPN list ("h2,http/1.1"),
	// the negotiated version ("TLSv13", Zeek's ssl.log names); empty (null) without a TLS
	// handshake or when L7 is off.
	TLSSNI, TLSALPN, TLSVersion string

	// Vantage copies (see the package documentation): DupPkts counts the
	// flow's records folded into another record of the same packet;
	// Vantages is 2 when any was, else 1. OrigTransitP50Ns
	// (RespTransitP50Ns) is the lower median, over the originator's
	// (responder's) packets recorded at both vantage points, of the
	// receiver's record time minus the sender's: the one-way transit between
	// the two points plus the clock offset between their nodes (the sum of
	// the two directions cancels the offset). Null without such pairs.
	DupPkts                            int64
	Vantages                           int32
	OrigTransitP50Ns, RespTransitP50Ns Opt

	// Origins has bit i set when the flow had a packet, or a folded copy of
	// one, from capture i+1 of a merged stream (Decoded.Origin; the first
	// MaxOrigins captures): which nodes' captures saw it, for per-node
	// pulls. 0 for a capture read alone. CaptureNodes is for the caller to
	// fill with those captures' node names (pipeline does).
	Origins      uint16
	CaptureNodes string

	// Kubernetes identity and the verdict of the flow's Kubeshark aggregate:
	// empty (null) unless Kubeshark data is given; see package analyze/crosscheck.
	SrcPod, SrcNamespace, SrcService, SrcNode string
	DstPod, DstNamespace, DstService, DstNode string
	CrossCheck                                string

	// What FlowID, CommunityID and History are made from, while they are
	// still to be made (Complete).
	pending pendingStrings
}

// pendingStrings is what the string columns of a Record are made from.
type pendingStrings struct {
	todo       bool
	ordinal    int
	firstIndex int64
	ipProto    uint8
	flipped    bool
	histLen    uint8
	hist       [maxHistory]byte
}

// Complete makes the string columns FlowID, CommunityID and History of a
// record from a table made with Config.DeferStrings. It does nothing to a
// record that has them. A Completer interns history strings; it is not safe
// for concurrent use, and its zero value is ready.
func (r *Record) Complete(c *Completer) {
	p := &r.pending
	if !p.todo {
		return
	}
	if c.ordinal != p.ordinal || len(c.prefix) == 0 {
		c.ordinal = p.ordinal
		c.prefix = append(strconv.AppendInt(c.prefix[:0], int64(p.ordinal), 10), '-')
	}
	// Both strings, flow_id then community_id, are carved from the
	// Completer's 64 KiB chunk: an allocation per flow was most of the writer's
	// garbage on a SYN flood. Bytes once in a string are never written
	// again; a string kept (a finding's example) keeps its chunk alive.
	if cap(c.chunk)-len(c.chunk) < maxStrings {
		c.chunk = make([]byte, 0, stringChunk)
		// New heap memory, mostly, while the heap grows: its pages in one
		// call, not a fault per 4 KiB as the strings reach them.
		prefault.Write(unsafe.Pointer(unsafe.SliceData(c.chunk)), stringChunk)
	}
	start := len(c.chunk)
	b := strconv.AppendInt(append(c.chunk, c.prefix...), p.firstIndex+1, 10)
	n := len(b) - start
	b = communityid.AppendID(b, 0, r.SrcIP, r.DstIP, p.ipProto, r.SrcPort, r.DstPort)
	c.chunk = b
	s := unsafe.String(&b[start], len(b)-start)
	r.FlowID, r.CommunityID = s[:n], s[n:]
	r.History = c.hist.intern(p.flipped, p.hist[:p.histLen])
	r.pending = pendingStrings{} // a complete record holds only its columns
}

// Completer holds what Complete reuses from record to record.
type Completer struct {
	hist    histories
	ordinal int    // the last record's capture ordinal
	prefix  []byte // its flow_id prefix: ordinal and '-'
	chunk   []byte // the strings made so far, then room for the next
}

// stringChunk is the size of a Completer's chunk of strings (about 1,500
// flows'; what the summary quotes it copies, so that a finding's example
// does not keep a chunk), and maxStrings the most one record takes: two decimal integers
// of at most 20 digits, '-', and the Community ID.
const (
	stringChunk = 64 << 10
	maxStrings  = 48 + communityid.Len
)

// histories interns history strings: a capture has few distinct ones, and a
// new string per flow was a large share of the table's garbage.
type histories struct {
	m    map[string]string
	buf  []byte
	last string // the last one returned: most flows repeat their neighbour's
}

// maxHistories bounds the interned strings; when full it starts again empty.
const maxHistories = 4096

// intern returns the history of letters, after '^' when flipped.
func (h *histories) intern(flipped bool, letters []byte) string {
	h.buf = h.buf[:0]
	if flipped {
		h.buf = append(h.buf, '^')
	}
	h.buf = append(h.buf, letters...)
	if h.last == string(h.buf) {
		return h.last
	}
	s, ok := h.m[string(h.buf)]
	if !ok {
		if h.m == nil || len(h.m) >= maxHistories {
			h.m = make(map[string]string)
		}
		s = string(h.buf)
		h.m[s] = s
	}
	h.last = s
	return s
}

// RTTStats summarises Karn-filtered data RTT samples of one direction.
// All fields are zero when Samples is 0 (they become nulls).
type RTTStats struct {
	Samples int64
	MinNs   int64
	P50Ns   int64
	MaxNs   int64
}
