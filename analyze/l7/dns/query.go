package dns

import (
	"encoding/binary"
	"strings"

	"github.com/flowproof/flowproof/analyze"
)

// Query is one DNS query and its response, with Zeek dns.log meanings. A
// response seen without its query is a row too (RTTNs null).
type Query struct {
	Flow      *analyze.L7Info
	TsNs      int64  // capture time of the query (of the response without query)
	Proto     string // "udp" or "tcp"
	FromResp  bool   // the query went from the flow's responder to its originator
	Retry     bool   // an earlier query with this id and question was still waiting: a retransmission
	TransID   uint16
	Query     string
	QClass    uint16
	QType     uint16
	QTypeName string
	Rcode     analyze.Opt // null when unanswered
	RcodeName string
	RTTNs     analyze.Opt // query -> response, null when unanswered
	Answered  bool
	AA, TC    bool // of the response
	RD        bool // of the query
	RA        bool // of the response
	Answers   []string
	TTLs      []int64
}

// Limits bound a tracker. Zero fields mean defaults.
type Limits struct {
	MaxPending int // queries waiting for responses per flow (default 256)
}

// DefaultMaxPending is the default of Limits.MaxPending.
const DefaultMaxPending = 256

// Stats counts what the trackers saw.
type Stats struct {
	Queries        int64
	Responses      int64
	Orphans        int64 // responses matching no query
	Malformed      int64 // messages that could not be parsed (counted, skipped)
	PendingDropped int64 // queries emitted unanswered early because MaxPending were waiting
	Lost           int64 // TCP streams given up after a gap or a bad length
}

// Tracker pairs the queries and responses of one flow (a UDP 5-tuple or a
// TCP connection): a response answers every waiting query with its
// transaction id and question, so retries stay rows of their own.
type Tracker struct {
	flow    *analyze.L7Info
	proto   string
	max     int
	stats   *Stats
	emit    func(*Query)
	pending []*Query
}

// NewTracker returns the tracker of one flow; proto is "udp" or "tcp".
func NewTracker(flow *analyze.L7Info, proto string, lim Limits, stats *Stats, emit func(*Query)) *Tracker {
	if lim.MaxPending <= 0 {
		lim.MaxPending = DefaultMaxPending
	}
	return &Tracker{flow: flow, proto: proto, max: lim.MaxPending, stats: stats, emit: emit}
}

// Message takes one message sent in direction dir (0 from the originator)
// at tsNs.
func (t *Tracker) Message(msg []byte, dir int, tsNs int64) {
	m, err := Parse(msg)
	if err != nil {
		t.stats.Malformed++
		return
	}
	if !m.Response {
		t.stats.Queries++
		if len(t.pending) >= t.max {
			t.stats.PendingDropped++
			t.emit(t.pending[0])
			t.pending[0] = nil
			t.pending = t.pending[1:]
		}
		q := &Query{
			Flow: t.flow, TsNs: tsNs, Proto: t.proto, FromResp: dir == 1, TransID: m.ID,
			Query: m.QName, QClass: m.QClass, QType: m.QType, QTypeName: TypeName(m.QType), RD: m.RD,
		}
		for _, p := range t.pending {
			q.Retry = q.Retry || p.matches(&m)
		}
		t.pending = append(t.pending, q)
		return
	}
	t.stats.Responses++
	matched := false
	kept := t.pending[:0]
	for _, q := range t.pending {
		if !q.matches(&m) {
			kept = append(kept, q)
			continue
		}
		matched = true
		t.answer(q, &m, tsNs)
		q.RTTNs = analyze.Some(tsNs - q.TsNs)
		t.emit(q)
	}
	clear(t.pending[len(kept):])
	t.pending = kept
	if !matched {
		t.stats.Orphans++
		q := &Query{Flow: t.flow, TsNs: tsNs, Proto: t.proto, FromResp: dir == 0, TransID: m.ID,
			Query: m.QName, QClass: m.QClass, QType: m.QType, QTypeName: TypeName(m.QType), RD: m.RD}
		t.answer(q, &m, tsNs)
		t.emit(q)
	}
}

// matches reports whether m has q's id and question. A response without
// question (mDNS answers, some errors) matches nothing: ids alone are too
// weak (mDNS uses 0 for everything).
func (q *Query) matches(m *Message) bool {
	return q.TransID == m.ID && m.Questions > 0 && q.QType == m.QType && strings.EqualFold(q.Query, m.QName)
}

func (t *Tracker) answer(q *Query, m *Message, tsNs int64) {
	q.Answered = true
	q.Rcode = analyze.Some(int64(m.Rcode))
	q.RcodeName = RcodeName(m.Rcode)
	q.AA, q.TC, q.RA = m.AA, m.TC, m.RA
	q.Answers, q.TTLs = m.Answers, m.TTLs
}

// End emits the queries still unanswered.
func (t *Tracker) End() {
	for _, q := range t.pending {
		t.emit(q)
	}
	t.pending = nil
}

// TCPHalf reads one direction of DNS over TCP: messages with a two-byte
// length in front (RFC 1035 4.2.2), several per stream. It is a
// stream.Sink; after a gap it waits for a segment that begins with a
// whole message.
type TCPHalf struct {
	t    *Tracker
	dir  int
	buf  []byte // a message being read, its length prefix included
	lost bool
}

// NewTCPHalf returns the sink of direction dir of a DNS-over-TCP flow.
func NewTCPHalf(t *Tracker, dir int) *TCPHalf { return &TCPHalf{t: t, dir: dir} }

// Data implements stream.Sink.
func (h *TCPHalf) Data(b []byte, tsNs int64) {
	if h.lost && startsMessage(b) {
		h.lost = false // a segment that begins with a whole message
	}
	for len(b) > 0 && !h.lost {
		if len(h.buf) < 2 {
			n := min(2-len(h.buf), len(b))
			h.buf, b = append(h.buf, b[:n]...), b[n:]
			continue
		}
		want := 2 + int(binary.BigEndian.Uint16(h.buf))
		if want < 2+headerLen {
			h.lost = true
			h.t.stats.Lost++
			return
		}
		n := min(want-len(h.buf), len(b))
		h.buf, b = append(h.buf, b[:n]...), b[n:]
		if len(h.buf) == want {
			h.t.Message(h.buf[2:], h.dir, tsNs)
			h.buf = h.buf[:0]
		}
	}
}

// startsMessage reports whether b begins with a length prefix and a whole
// message that parses: after a gap, the place to pick up again.
func startsMessage(b []byte) bool {
	if len(b) < 2+headerLen {
		return false
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < headerLen || 2+n > len(b) {
		return false
	}
	_, err := Parse(b[2 : 2+n])
	return err == nil
}

// Gap implements stream.Sink.
func (h *TCPHalf) Gap(n int64, tsNs int64) {
	if !h.lost {
		h.lost = true
		h.t.stats.Lost++
	}
	h.buf = nil
}
