package http

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"unicode/utf8"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
)

// Caps on the strings kept from a head: longer values are cut.
const (
	maxURI    = 8 << 10
	maxField  = 1 << 10
	maxMethod = 20
)

// head reads a start line and headers; when they are complete it parses
// them and moves to the body.
func (h *half) head(b []byte, tsNs int64) []byte {
	old := len(h.hdr)
	if old == 0 {
		// Blank lines between messages are allowed (RFC 9112 2.2).
		i := 0
		for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
			i++
		}
		if b = b[i:]; len(b) == 0 {
			return nil
		}
		h.firstNs = tsNs
		// The same head as the last one parsed in place: what it says is
		// known (its bytes decide it all).
		var last *lastHead
		if in := h.c.Strings; in != nil {
			last = &in.heads[b2i(h.isResp)]
			if (in.opened(h.isResp, b) || last.starts(b)) && len(last.head) <= h.c.lim.MaxHeaderBytes {
				h.take(&last.p, tsNs)
				return b[len(last.head):]
			}
		}
		// The whole head in one piece: parse it in place, finding its end
		// and its fields in one pass.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			var m message
			if n := scanFields(b[i+1:], true, &m); n >= 0 && i+1+n <= h.c.lim.MaxHeaderBytes {
				n += i + 1
				var p head
				h.read(&p, trimCR(b[:i]), &m)
				if last != nil && n <= maxLastHead {
					last.head = append(last.head[:0], b[:n]...)
					last.p = p
				}
				h.take(&p, tsNs)
				return b[n:]
			}
		}
	}
	take := b[:min(len(b), h.c.lim.MaxHeaderBytes-old)]
	h.hdr = append(h.hdr, take...)
	start := max(0, old-3)
	end := headEnd(h.hdr[start:])
	if end < 0 {
		if len(h.hdr) >= h.c.lim.MaxHeaderBytes {
			h.c.stats.HeaderTooLong++
			if t := h.c.firstPending(); h.isResp && t != nil {
				t.Tags |= TagPartial
			}
			return h.lost(TagPartial, false)
		}
		return nil
	}
	end += start
	h.parseHead(h.hdr[:end], tsNs)
	rest := b[end-old:]
	if cap(h.hdr) > 4<<10 {
		h.hdr = nil // a rare long head: do not keep its buffer
	} else {
		h.hdr = h.hdr[:0]
	}
	return rest
}

// headEnd returns the length of the head at the start of b (through the
// blank line), or -1 when b does not hold it all.
func headEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
	return -1
}

// message is what a head says about its body and identity. It goes from
// function to function by pointer: copied by value, it was loaded in
// 16-byte words just after being stored field by field, which the CPU
// cannot forward from its store buffer (a stall per copy, most of
// scanFields' time).
type message struct {
	chunked   bool
	length    int64 // Content-Length, -1 none
	badLength bool
	host, ua  []byte
}

// trimCR is line without its final '\r', if any (bytes.TrimSuffix without
// its call to compare one byte).
func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

// line0 is the first byte of line, 0 when it is empty.
func line0(line []byte) byte {
	if len(line) == 0 {
		return 0
	}
	return line[0]
}

func parseFields(lines []byte) message {
	var m message
	scanFields(lines, false, &m)
	return m
}

// scanFields reads header fields line by line into *m. With head, it stops
// at the first empty line (the blank line that ends a head) and returns the
// length of lines through it, or -1 when there is none; without, it reads
// every line and returns -1.
func scanFields(lines []byte, head bool, m *message) int {
	*m = message{length: -1}
	all := len(lines)
	for len(lines) > 0 {
		var line []byte
		if i := bytes.IndexByte(lines, '\n'); i >= 0 {
			line, lines = lines[:i], lines[i+1:]
		} else {
			line, lines = lines, nil
			if head {
				break // no line ends the head
			}
		}
		line = trimCR(line)
		if head && len(line) == 0 {
			m.finish()
			return all - len(lines)
		}
		// Most fields are none of these: skip them by their first letter
		// and the place their colon must be, without looking for it (a name
		// that matches has no colon of its own, so it is the first).
		var colon int
		switch line0(line) | 0x20 {
		case 'c':
			colon = len("content-length")
		case 't':
			colon = len("transfer-encoding")
		case 'h':
			colon = len("host")
		case 'u':
			colon = len("user-agent")
		default:
			continue
		}
		if len(line) <= colon || line[colon] != ':' {
			continue
		}
		m.field(line[:colon], trimSpace(line[colon+1:]))
	}
	m.finish()
	return -1
}

// trimSpace is bytes.TrimSpace, without its loops in the common case: the
// spaces and tabs that start b (a field value's) are skipped here, and b is
// returned as is when it then neither starts nor ends with a byte
// bytes.TrimSpace could trim (ASCII space or a non-ASCII byte).
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	if n := len(b); n > 0 && b[0] > ' ' && b[0] < utf8.RuneSelf && b[n-1] > ' ' && b[n-1] < utf8.RuneSelf {
		return b
	}
	return bytes.TrimSpace(b)
}

// field takes a header field's name and value into m, when it is one of
// those m keeps.
func (m *message) field(name, value []byte) {
	// The names differ in length: one comparison at most.
	switch len(name) {
	case len("content-length"):
		if !equalFold(name, "content-length") {
			return
		}
		n, ok := parseDecimal(value)
		switch {
		case !ok:
			m.badLength = true
		case m.length >= 0 && m.length != n:
			m.badLength = true // conflicting lengths (RFC 9112 6.3)
		default:
			m.length = n
		}
	case len("transfer-encoding"):
		if equalFold(name, "transfer-encoding") {
			// chunked must be the final coding (RFC 9112 6.1).
			v := bytes.TrimSpace(value[bytes.LastIndexByte(value, ',')+1:])
			m.chunked = equalFold(v, "chunked")
		}
	case len("host"):
		if equalFold(name, "host") {
			m.host = value
		}
	case len("user-agent"):
		if equalFold(name, "user-agent") {
			m.ua = value
		}
	}
}

// finish settles m once its fields are read.
func (m *message) finish() {
	if m.chunked {
		m.length = -1 // Transfer-Encoding overrides Content-Length
		m.badLength = false
	}
}

func (h *half) parseHead(head []byte, tsNs int64) {
	line := head
	var rest []byte
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line, rest = head[:i], head[i+1:]
	}
	m := parseFields(rest)
	h.parsed(trimCR(line), &m, tsNs)
}

// parsed takes a head: its start line (without the line end) and what its
// fields say.
func (h *half) parsed(line []byte, m *message, tsNs int64) {
	var p head
	h.read(&p, line, m)
	h.take(&p, tsNs)
}

// head is what a request or response head says, as a transaction keeps
// it: a function of the head's bytes alone (lastHead reuses it).
type head struct {
	ok                         bool // the start line parsed and the length is not malformed
	method, uri, version, host string
	ua, msg                    string
	code                       int
	m                          message // host and ua nil: the strings above hold them
}

// read makes *p of a head's start line (without the line end) and fields.
func (h *half) read(p *head, line []byte, m *message) {
	in := h.c.Strings
	if h.isResp {
		version, code, msg, ok := statusLine(line)
		*p = head{ok: ok && !m.badLength, code: code, m: *m}
		if p.ok {
			p.version, p.msg = intern(version, versions), intern(msg[:min(len(msg), maxField)], reasons)
		}
	} else {
		method, uri, version, ok := requestLine(line)
		*p = head{ok: ok && !m.badLength, m: *m}
		if p.ok {
			p.method, p.uri, p.version = intern(method, methods), in.get(uri, maxURI), intern(version, versions)
			p.host, p.ua = in.get(m.host, maxField), in.get(m.ua, maxField)
		}
	}
	p.m.host, p.m.ua = nil, nil
}

// take acts on a head read.
func (h *half) take(p *head, tsNs int64) {
	if h.isResp {
		h.response(p, tsNs)
	} else {
		h.request(p, tsNs)
	}
}

func (h *half) request(p *head, tsNs int64) {
	c := h.c
	if !p.ok {
		h.lost(0, true)
		return
	}
	c.stats.Requests++
	c.depth++
	t := c.tx()
	t.FromResp, t.TsNs, t.TransDepth = c.ClientIsResp, h.firstNs, c.depth
	t.Method, t.URI, t.Version, t.Host, t.UserAgent = p.method, p.uri, p.version, p.host, p.ua
	t.RequestNs = analyze.Some(tsNs)
	if len(c.pending) > 0 || c.resp.cur != nil {
		t.Tags |= TagPipelined
	}
	c.push(t)
	h.cur = t
	h.body0(&p.m, false, tsNs)
}

// push queues a request for its response, within MaxPending.
func (c *Conn) push(t *Transaction) {
	if len(c.pending) >= c.lim.MaxPending {
		// Give the oldest up, and skip the response that will answer it
		// so that the rest still pair in order.
		old := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		old.Tags |= TagNoResponse | TagPartial
		c.stats.PendingDropped++
		c.skip++
		if c.req.cur != old && !old.stand {
			c.emit(old)
		} else {
			old.respDone = true // emitted when its body ends
		}
	}
	if len(c.pending) == 0 {
		// Popping moves the front forward: start again at pend0's, so
		// that a keep-alive connection's requests one at a time do not
		// grow a new array every other request.
		c.pending = c.pend0[:0]
	}
	c.pending = append(c.pending, t)
}

func (h *half) response(p *head, tsNs int64) {
	c := h.c
	if !p.ok {
		h.lost(0, true)
		return
	}
	code := p.code
	c.stats.Responses++
	if code >= 100 && code < 200 && code != 101 {
		return // interim: the final response is still to come
	}
	var t *Transaction
	switch {
	case c.skip > 0:
		c.skip-- // its request was given up: read it, make no row
	case len(c.pending) > 0:
		t = c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
	default:
		c.stats.Orphans++
		c.depth++
		t = c.tx()
		t.FromResp, t.TsNs, t.TransDepth, t.Version = c.ClientIsResp, h.firstNs, c.depth, p.version
	}
	noBody, opaque := code == 204 || code == 304 || code == 101, code == 101
	if t != nil {
		t.StatusCode = analyze.Some(int64(code))
		t.StatusMsg = p.msg
		if t.RequestNs.Valid {
			t.LatencyNs = analyze.Some(tsNs - t.RequestNs.V)
		}
		switch {
		case t.Method == "HEAD":
			noBody = true
		case t.Method == "CONNECT" && code >= 200 && code < 300:
			noBody, opaque = true, true
		}
	}
	h.cur = t
	h.body0(&p.m, noBody, tsNs)
	if opaque {
		c.stats.Opaque++
		c.opaque = true
		// What follows is another protocol: the requests still waiting
		// will never be answered in HTTP.
	}
}

// body0 starts the body a head announced.
func (h *half) body0(m *message, noBody bool, tsNs int64) {
	h.bodyLen, h.remain = 0, 0
	switch {
	case noBody:
		h.done(tsNs)
	case m.chunked:
		h.state, h.lineLen = stChunkSize, 0
	case m.length > 0:
		h.state, h.remain = stBody, m.length
	case m.length == 0 || !h.isResp:
		h.done(tsNs) // a request without length has no body (RFC 9112 6.3)
	default:
		h.state = stUntilClose
	}
}

// done ends the current message at tsNs (the capture time of its last byte).
func (h *half) done(tsNs int64) {
	t := h.cur
	body := h.bodyLen
	h.cur, h.state, h.bodyLen, h.remain = nil, stHead, 0, 0
	if t == nil {
		return
	}
	if !h.isResp {
		t.RequestBodyLen = body
		if t.respDone {
			h.c.emit(t)
		}
		return
	}
	t.ResponseBodyLen = body
	t.DurationNs = analyze.Some(tsNs - t.TsNs)
	if h.c.req.cur == t {
		t.respDone = true // emitted when its request body ends
		return
	}
	h.c.emit(t)
}

// requestLine splits "METHOD SP target SP HTTP/x.y".
func requestLine(line []byte) (method, uri, version []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > maxMethod || !isToken(line[:sp]) {
		return nil, nil, nil, false
	}
	method, line = line[:sp], line[sp+1:]
	// The version is the last 8 bytes: look for the space before them
	// first (a space among them fails httpVersion either way).
	if sp = len(line) - 9; sp < 0 || line[sp] != ' ' {
		sp = bytes.LastIndexByte(line, ' ')
	}
	if sp <= 0 {
		return nil, nil, nil, false
	}
	uri, version = trimSpace(line[:sp]), line[sp+1:]
	version, ok = httpVersion(version)
	return method, uri, version, ok && len(uri) > 0
}

// statusLine splits "HTTP/x.y SP 3DIGIT [SP reason]".
func statusLine(line []byte) (version []byte, code int, msg []byte, ok bool) {
	if len(line) < 12 || line[8] != ' ' {
		return nil, 0, nil, false
	}
	if version, ok = httpVersion(line[:8]); !ok {
		return nil, 0, nil, false
	}
	for _, ch := range line[9:12] {
		if ch < '0' || ch > '9' {
			return nil, 0, nil, false
		}
		code = code*10 + int(ch-'0')
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return nil, 0, nil, false
		}
		msg = line[13:]
	}
	return version, code, msg, true
}

// httpVersion returns "x.y" of "HTTP/x.y".
func httpVersion(b []byte) ([]byte, bool) {
	if len(b) != 8 || string(b[:5]) != "HTTP/" || b[6] != '.' || b[5] < '0' || b[5] > '9' || b[7] < '0' || b[7] > '9' {
		return nil, false
	}
	return b[5:], true
}

func isToken(b []byte) bool {
	for _, ch := range b {
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// parseDecimal parses a Content-Length: digits only, at most 18 of them
// (no overflow; a larger length is absurd anyway).
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int64(ch-'0')
	}
	return n, true
}

// chunkSize parses a chunk-size line: hex digits, then optional extensions
// after ';'. cut says the line was longer than what was kept.
func chunkSize(line []byte, cut bool) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line, cut = line[:i], false
	}
	line = bytes.TrimSpace(line)
	if cut || len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, ch := range line {
		var v byte
		switch {
		case ch >= '0' && ch <= '9':
			v = ch - '0'
		case ch >= 'a' && ch <= 'f':
			v = ch - 'a' + 10
		case ch >= 'A' && ch <= 'F':
			v = ch - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(v)
	}
	return n, true
}

// equalFold reports whether b is lower but for the case of its letters;
// lower is lowercase letters and '-' (a header name). Eight or four bytes
// at a time, the last load overlapping the one before: a byte of lower with
// bit 0x40 (a letter) matches b's byte with 0x20 set, that is itself or its
// uppercase; '-' matches only itself.
func equalFold(b []byte, lower string) bool {
	n := len(b)
	if n != len(lower) {
		return false
	}
	const letters, letters32 = 0x4040404040404040, 0x40404040
	switch {
	case n >= 8:
		for i := 0; i < n-8; i += 8 {
			if y := load64(lower[i:]); binary.LittleEndian.Uint64(b[i:])|(y&letters)>>1 != y {
				return false
			}
		}
		y := load64(lower[n-8:])
		return binary.LittleEndian.Uint64(b[n-8:])|(y&letters)>>1 == y
	case n >= 4:
		y, z := load32(lower), load32(lower[n-4:])
		return binary.LittleEndian.Uint32(b)|(y&letters32)>>1 == y && binary.LittleEndian.Uint32(b[n-4:])|(z&letters32)>>1 == z
	}
	return equalFoldBytes(b, lower)
}

// equalFoldBytes is equalFold a byte at a time (b and lower of one length):
// its short names, and the referee of its words (TestEqualFold).
func equalFoldBytes(b []byte, lower string) bool {
	for i := range b {
		ch := b[i]
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
}

// same reports whether b and s are the same bytes, comparing words in
// place: the strings a head is compared with (methods, versions, reason
// phrases, recent values) are short, and a call to memequal per comparison
// was a tenth of what --l7 added.
func same(b []byte, s string) bool {
	n := len(b)
	switch {
	case n != len(s):
		return false
	case n >= 8:
		for i := 0; i < n-8; i += 8 {
			if binary.LittleEndian.Uint64(b[i:]) != load64(s[i:]) {
				return false
			}
		}
		return binary.LittleEndian.Uint64(b[n-8:]) == load64(s[n-8:])
	case n >= 4:
		return binary.LittleEndian.Uint32(b) == load32(s) && binary.LittleEndian.Uint32(b[n-4:]) == load32(s[n-4:])
	}
	for i := range b {
		if b[i] != s[i] {
			return false
		}
	}
	return true
}

// load32 is binary.LittleEndian.Uint32 of a string's first 4 bytes.
func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// load64 is binary.LittleEndian.Uint64 of a string's first 8 bytes.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func cut(b []byte, n int) string { return string(b[:min(len(b), n)]) }

// Interner shares the strings that repeat from transaction to transaction
// (a client's User-Agent, a server's Host, popular URIs), so that each is
// allocated once. It holds at most maxInterned strings in a table that
// never grows: a string hashed to a slot replaces the one there, so that
// values that never repeat (ids in URIs, a request id in a header) cost an
// allocation each, as without interning, and no map's growth and rehashing
// (which had cost as much as parsing the heads when every URI differed).
// A slot keeps its string's hash: a string is read, a cache miss when it
// was made long ago, only when the hashes agree. Its zero value is ready;
// it is not safe for concurrent use.
type Interner struct {
	seed  maphash.Seed
	table []interned  // maxInterned slots by hash, made at the first use
	heads [2]lastHead // of requests, of responses
	// match is what LooksLikeRequest last found to start with the last
	// request head: the connection it opens reads those same bytes as its
	// first head next, which need not be compared again (opened).
	match []byte
}

// interned is a slot of an Interner's table.
type interned struct {
	hash uint64
	s    string
}

// lastHead is the last head of its kind parsed in place, its bytes and
// what they said. A client repeating a request, or a server its response
// headers within the same second (the Date field), sends the same bytes
// again: comparing them costs less than parsing them (the parse was most
// of what --l7 added to the table's goroutine).
type lastHead struct {
	head []byte
	p    head
}

// starts reports whether b starts with the head l keeps.
func (l *lastHead) starts(b []byte) bool {
	n := len(l.head)
	return n > 0 && n <= len(b) && string(b[:n]) == string(l.head)
}

// maxLastHead bounds the head a lastHead keeps.
const maxLastHead = 1 << 10

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

const (
	maxInterned    = 4096 // slots of the table (a power of 2)
	maxInternedLen = 256  // longer strings are not kept
)

// get returns b (cut to n bytes) as a string, interned when in is not nil.
func (in *Interner) get(b []byte, n int) string {
	b = b[:min(len(b), n)]
	if in == nil || len(b) > maxInternedLen {
		return string(b)
	}
	if len(b) == 0 {
		return ""
	}
	if in.table == nil {
		in.seed, in.table = maphash.MakeSeed(), make([]interned, maxInterned)
	}
	h := maphash.Bytes(in.seed, b)
	t := &in.table[h%maxInterned]
	if t.hash != h || !same(b, t.s) {
		*t = interned{h, string(b)}
	}
	return t.s
}

// intern returns b as a string, without allocating when it is in common:
// most methods, versions and reason phrases are a handful of values.
func intern(b []byte, common []string) string {
	for _, s := range common {
		if same(b, s) {
			return s
		}
	}
	return string(b)
}

var (
	versions = []string{"1.1", "1.0"}
	reasons  = []string{"OK", "Not Found", "Found", "No Content", "Not Modified", "Moved Permanently", "Created",
		"Bad Request", "Unauthorized", "Forbidden", "Internal Server Error", "Bad Gateway", "Service Unavailable",
		"Gateway Timeout", "Switching Protocols", "Partial Content", "See Other", "Temporary Redirect", "Too Many Requests"}
)

// methods are the request methods LooksLikeRequest accepts on a first line
// cut before its end.
var methods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "PURGE"}

// LooksLikeRequest reports whether b starts like an HTTP/1.x request: a
// request line ending in HTTP/x.y, or, when b ends before the line does, a
// known method and a space.
func LooksLikeRequest(b []byte) bool {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		_, _, _, ok := requestLine(trimCR(b[:i]))
		return ok
	}
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 {
		return false
	}
	for _, m := range methods {
		if string(b[:sp]) == m {
			return true
		}
	}
	return false
}

// LooksLikeRequest is the package's LooksLikeRequest, answered without a
// parse when b starts with the last request head parsed in place (a new
// connection's first request, the same as the last connection's).
func (in *Interner) LooksLikeRequest(b []byte) bool {
	if l := &in.heads[0]; l.p.ok && l.starts(b) {
		in.match = b
		return true
	}
	in.match = nil
	return LooksLikeRequest(b)
}

// opened reports whether b, the start of a request head, is the bytes
// LooksLikeRequest last found to start with the last request head (the
// same slice: the bytes cannot have changed). Whatever the answer, the
// match is used up by a request head.
func (in *Interner) opened(isResp bool, b []byte) bool {
	if isResp || in.match == nil {
		return false
	}
	m := in.match
	in.match = nil
	return unsafe.SliceData(m) == unsafe.SliceData(b) && len(m) == len(b)
}

// LooksLikeResponse reports whether b starts with an HTTP/1.x status line.
func LooksLikeResponse(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	_, _, _, ok := statusLine(b[:12])
	return ok
}
