package http

import (
	"strings"
	"sync"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/internal/prefetch"
)

// Tag marks how a transaction was seen.
type Tag uint8

// Tags, as the tags column names them.
const (
	TagPipelined  Tag = 1 << iota // sent before the previous response on its connection had ended
	TagNoResponse                 // no response was seen
	TagPartial                    // the capture ended (or a limit cut parsing) inside a message
	TagGap                        // capture loss cut one of its messages
)

var tagNames = []string{"pipelined", "no_response", "partial", "gap"}

// Strings returns the tags set, in a fixed order.
func (t Tag) Strings() []string {
	var s []string
	for i, n := range tagNames {
		if t&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	return s
}

func (t Tag) String() string { return strings.Join(t.Strings(), ",") }

// transactions recycles Transactions a consumer gave back (Release).
var transactions sync.Pool

func newTransaction() *Transaction {
	if t, ok := transactions.Get().(*Transaction); ok {
		return t
	}
	return new(Transaction)
}

// tx returns a transaction of c's, zero but for its Flow: a recycled one
// when there is one.
func (c *Conn) tx() *Transaction {
	var t *Transaction
	if r := c.Recycled; r != nil && len(r.free) > 0 {
		t, r.free = r.free[len(r.free)-1], r.free[:len(r.free)-1]
		if n := len(r.free); n > 0 {
			// The writer read the next one on its core: start taking its
			// lines back, so that zeroing it does not wait for them.
			prefetch.Write(unsafe.Pointer(r.free[n-1]), unsafe.Sizeof(Transaction{}))
		}
	} else {
		t = newTransaction()
	}
	*t = Transaction{}
	t.flow = *c.flow
	t.Flow = &t.flow
	return t
}

// Recycled holds transactions a consumer is done with, for the next
// requests of the connections that share it (Conn.Recycled): a consumer
// on another goroutine hands them back in bulk, with the batches it
// returns anyway, instead of one sync.Pool round trip each (Release).
// It is not safe for concurrent use; its zero value is ready.
type Recycled struct{ free []*Transaction }

// maxRecycled bounds the transactions a Recycled keeps.
const maxRecycled = 4096

// Put keeps ts for reuse (the caller holds no reference to them, their
// Flow included); past maxRecycled they are left to the collector.
func (r *Recycled) Put(ts []*Transaction) {
	r.free = append(r.free, ts[:min(len(ts), maxRecycled-len(r.free))]...)
}

// Release gives t back for reuse by a later request. Call it only once done
// with t and holding no reference to it or to its Flow; a transaction never
// released is simply collected. Its strings are not reused: they may be
// kept.
func Release(t *Transaction) {
	*t = Transaction{}
	transactions.Put(t)
}

// Transaction is one request and its response, with Zeek http.log
// meanings. A response seen without its request is a transaction too (no
// method, RequestNs null).
type Transaction struct {
	Flow       *analyze.L7Info // the connection (flow_id, endpoints): the transaction's own copy
	FromResp   bool            // the client is the flow's responder (the table guessed the roles the other way: no SYN seen)
	TsNs       int64           // capture time of the request's first byte (the response's, without request)
	TransDepth int             // 1-based position on the connection
	Method     string
	Host       string
	URI        string
	Version    string // of the request, "1.0" or "1.1" (of the response without request)
	UserAgent  string
	StatusCode analyze.Opt // null when no response was seen
	StatusMsg  string
	// Body lengths are decoded lengths (chunked framing removed), counted,
	// never stored; bytes lost in a gap count as body when the framing
	// says they were.
	RequestBodyLen  int64
	ResponseBodyLen int64
	RequestNs       analyze.Opt // capture time of the packet completing the request headers
	LatencyNs       analyze.Opt // RequestNs -> the packet completing the response headers (tshark's http.time)
	DurationNs      analyze.Opt // TsNs -> the response's last byte
	Tags            Tag

	respDone bool // the response ended while the request body was still coming
	stand    bool // stands in for a request lost in a gap: a row only if a response pairs with it

	// What Flow points to. A copy per transaction, not one per connection
	// that its transactions share: a connection's state is reused when it
	// ends, while its transactions wait for the writer, and a pooled
	// transaction then costs no allocation at all.
	flow analyze.L7Info
}

// Limits bound what a connection keeps. Zero fields mean defaults.
type Limits struct {
	MaxHeaderBytes int // request or response line plus headers (default 64 KiB)
	MaxPending     int // requests waiting for their responses per connection (default 1024)
}

// Default limits.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxPending     = 1024
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxPending <= 0 {
		l.MaxPending = DefaultMaxPending
	}
	return l
}

// Stats counts what the parsers saw, over every connection sharing them.
type Stats struct {
	Requests       int64 // request heads parsed
	Responses      int64 // response heads parsed (1xx included)
	Orphans        int64 // responses with no request to pair
	HeaderTooLong  int64 // heads over MaxHeaderBytes
	Malformed      int64 // heads or chunk framing that could not be parsed
	PendingDropped int64 // requests given up because MaxPending were waiting
	Resyncs        int64 // times parsing picked up again at a message start after losing its place
	Opaque         int64 // connections that switched protocol (101, CONNECT)
	PartialHeads   int64 // heads the capture ended in the middle of (no row: nothing of them was parsed)
}

// Conn parses both directions of one HTTP/1.x connection. Feed the
// originator-to-responder bytes to Requests() and the others to
// Responses() (both are stream.Sink), then call End.
type Conn struct {
	// ClientIsResp says the requests come from the flow's responder; it is
	// copied to each Transaction's FromResp.
	ClientIsResp bool
	// Strings, when set, shares URI, Host and User-Agent strings between
	// transactions (of every connection using it).
	Strings *Interner
	// Recycled, when set, is where new transactions come from first.
	Recycled *Recycled

	flow    *analyze.L7Info
	lim     Limits
	stats   *Stats
	emit    func(*Transaction)
	req     half
	resp    half
	pending []*Transaction  // requests in order, waiting for their responses
	pend0   [2]*Transaction // pending's first backing array: most connections need no other
	depth   int
	skip    int // responses to consume without a row: their requests were dropped
	opaque  bool
	lastNs  int64
}

// NewConn returns the parser of one connection; emit gets each transaction
// once complete (or at End), and may keep it.
func NewConn(flow *analyze.L7Info, lim Limits, stats *Stats, emit func(*Transaction)) *Conn {
	c := new(Conn)
	c.Init(flow, lim, stats, emit)
	return c
}

// Init makes c a new connection, as NewConn does, for a Conn held by value
// (one allocation with its flow's other state).
func (c *Conn) Init(flow *analyze.L7Info, lim Limits, stats *Stats, emit func(*Transaction)) {
	// Zeroed in place, then filled: a composite literal with fields would
	// be built on the stack and copied.
	*c = Conn{}
	c.flow, c.lim, c.stats, c.emit = flow, lim.withDefaults(), stats, emit
	c.req.c, c.resp.c, c.resp.isResp = c, c, true
	c.pending = c.pend0[:0]
}

// Requests returns the sink of the originator's bytes.
func (c *Conn) Requests() *Half { return (*Half)(&c.req) }

// Responses returns the sink of the responder's bytes.
func (c *Conn) Responses() *Half { return (*Half)(&c.resp) }

// Half is one direction's sink (stream.Sink).
type Half half

// Data implements stream.Sink.
func (h *Half) Data(b []byte, tsNs int64) {
	// The work itself here, not in a call from here: the interface's call
	// is the only one per segment.
	q := (*half)(h)
	if q.c.opaque {
		return
	}
	q.lastNs = tsNs
	if q.state == stLost {
		// Only a segment that starts a message can put us back in step.
		if (q.isResp && !LooksLikeResponse(b)) || (!q.isResp && !LooksLikeRequest(b)) {
			return
		}
		q.c.stats.Resyncs++
		q.state = stHead
		q.hdr = q.hdr[:0]
	}
	for len(b) > 0 && !q.c.opaque && q.state != stLost {
		if q.state == stHead {
			b = q.head(b, tsNs) // step's most common case, without its call
		} else {
			b = q.step(b, tsNs)
		}
	}
}

// Gap implements stream.Sink.
func (h *Half) Gap(n int64, tsNs int64) { (*half)(h).gap(n, tsNs) }

// Done reports whether the connection carries no more HTTP (it switched
// protocol): its bytes need not be fed.
func (c *Conn) Done() bool { return c.opaque }

// End finishes the connection at the end of its flow: a close-delimited
// response body ends with its last byte; every other unfinished
// transaction is emitted as it is, tagged.
func (c *Conn) End() {
	if r := &c.resp; r.cur != nil {
		if r.state != stUntilClose {
			r.cur.Tags |= TagPartial
		}
		r.done(r.lastNs)
	}
	if q := &c.req; q.cur != nil {
		q.cur.Tags |= TagPartial
		q.done(q.lastNs)
	}
	for _, h := range []*half{&c.req, &c.resp} {
		if h.state == stHead && len(h.hdr) > 0 {
			c.stats.PartialHeads++
		}
	}
	for i, t := range c.pending {
		if t.stand {
			continue // a lost request nothing answered: no row
		}
		t.Tags |= TagNoResponse
		if i == 0 && len(c.resp.hdr) > 0 {
			t.Tags |= TagPartial
		}
		c.emit(t)
	}
	c.pending = nil
}

// Parsing states of a half.
const (
	stHead       = iota // reading a start line and headers
	stBody              // Content-Length body: remain bytes left
	stChunkSize         // a chunk-size line
	stChunkData         // chunk data: remain bytes left
	stChunkEnd          // the CRLF after chunk data
	stTrailer           // trailer lines after the last chunk
	stUntilClose        // a response body delimited by the connection's close
	stLost              // out of step (gap, malformed, limit): waiting for a message start
)

// maxLine bounds a chunk-size or trailer line.
const maxLine = 1024

type half struct {
	c       *Conn
	isResp  bool
	state   int
	hdr     []byte // the head read so far (bounded by MaxHeaderBytes)
	firstNs int64  // capture time of the current message's first byte
	remain  int64
	bodyLen int64
	lineLen int // bytes of the current chunk-size or trailer line
	line    [32]byte
	trailer int // trailer bytes so far
	cur     *Transaction
	lastNs  int64
}

// step consumes a prefix of b in the current state and returns the rest.
func (h *half) step(b []byte, tsNs int64) []byte {
	switch h.state {
	case stHead:
		return h.head(b, tsNs)
	case stBody, stChunkData:
		n := min(int64(len(b)), h.remain)
		h.body(n, tsNs)
		return b[n:]
	case stChunkEnd:
		// CRLF (or a bare LF) ends the chunk's data.
		for i, ch := range b {
			if ch == '\n' {
				h.state, h.lineLen = stChunkSize, 0
				return b[i+1:]
			}
			if h.lineLen++; ch != '\r' || h.lineLen > 1 {
				return h.lost(TagPartial, true)
			}
		}
		return nil
	case stChunkSize, stTrailer:
		return h.chunkLine(b, tsNs)
	case stUntilClose:
		h.bodyLen += int64(len(b))
		return nil
	}
	return nil
}

// body counts n bytes of the current body or chunk (n <= remain).
func (h *half) body(n int64, tsNs int64) {
	h.remain -= n
	h.bodyLen += n
	if h.remain > 0 {
		return
	}
	if h.state == stBody {
		h.done(tsNs)
	} else {
		h.state, h.lineLen = stChunkEnd, 0
	}
}

func (h *half) chunkLine(b []byte, tsNs int64) []byte {
	for i, ch := range b {
		if ch != '\n' {
			if h.lineLen < len(h.line) {
				h.line[h.lineLen] = ch
			}
			h.lineLen++
			if h.lineLen > maxLine {
				return h.lost(TagPartial, true)
			}
			continue
		}
		line := h.line[:min(h.lineLen, len(h.line))]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		full := h.lineLen
		h.lineLen = 0
		if h.state == stTrailer {
			if h.trailer += full + 1; h.trailer > h.c.lim.MaxHeaderBytes {
				return h.lost(TagPartial, true)
			}
			if len(line) == 0 {
				h.done(tsNs)
			}
			return b[i+1:]
		}
		size, ok := chunkSize(line, full > len(h.line))
		if !ok {
			return h.lost(TagPartial, true)
		}
		if size == 0 {
			h.state, h.trailer = stTrailer, 0
		} else {
			h.state, h.remain = stChunkData, size
		}
		return b[i+1:]
	}
	return nil
}

// lost puts the half out of step, tagging its current transaction.
func (h *half) lost(tag Tag, malformed bool) []byte {
	if malformed {
		h.c.stats.Malformed++
	}
	if h.cur != nil {
		h.cur.Tags |= tag
		h.done(h.lastNs)
	}
	h.state = stLost
	h.hdr = h.hdr[:0]
	return nil
}

func (h *half) gap(n int64, tsNs int64) {
	if h.c.opaque {
		return
	}
	switch h.state {
	case stBody, stChunkData:
		if h.cur != nil {
			h.cur.Tags |= TagGap
		}
		if n <= h.remain {
			h.body(n, tsNs) // the lost bytes count as body
			return
		}
		if h.state == stBody {
			// The gap ran past the body: the next message's start is lost.
			h.body(h.remain, tsNs)
		}
		h.lost(TagGap, false)
	case stUntilClose:
		h.bodyLen += n
		if h.cur != nil {
			h.cur.Tags |= TagGap
		}
	case stLost:
	default:
		if h.state == stHead && h.cur == nil {
			h.headLost(tsNs)
		}
		h.lost(TagGap, false)
	}
}

// headLost accounts a gap that cut a message's start. A lost response
// head was the answer to the oldest waiting request: it is emitted without
// status, so that the next response pairs with the next request. A lost
// request head still gets its response: a row without request stands in
// its place in the queue.
func (h *half) headLost(tsNs int64) {
	c := h.c
	if h.isResp {
		if t := c.firstPending(); t != nil && c.req.cur != t {
			c.pending[0] = nil
			c.pending = c.pending[1:]
			if !t.stand {
				t.Tags |= TagGap | TagNoResponse
				c.emit(t)
			}
		}
		return
	}
	c.depth++
	t := c.tx()
	t.FromResp, t.TsNs, t.TransDepth, t.Tags, t.stand = c.ClientIsResp, tsNs, c.depth, TagGap, true
	c.push(t)
}

func (c *Conn) firstPending() *Transaction {
	if len(c.pending) > 0 {
		return c.pending[0]
	}
	return nil
}
