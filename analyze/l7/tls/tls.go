package tls

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/flowproof/flowproof/analyze"
)

// Hello is what the handshake's first messages say about a connection:
// the flows.parquet columns tls_sni, tls_alpn and tls_version.
type Hello struct {
	Flow          *analyze.L7Info
	ClientHello   bool     // a ClientHello was parsed
	ServerHello   bool     // a ServerHello was parsed
	FromResp      bool     // the ClientHello came from the flow's responder (roles guessed the other way: no SYN seen)
	SNI           string   // server_name (host_name) of the ClientHello
	ALPN          []string // protocols the client offered, in its order
	ServerALPN    string   // the protocol the server chose (TLS 1.2: in the ServerHello; TLS 1.3 hides it)
	VersionNumber uint16   // negotiated: supported_versions of the ServerHello, else its legacy version
}

// ALPNList returns the offered protocols as tls_alpn writes them: "h2,http/1.1".
func (h *Hello) ALPNList() string { return strings.Join(h.ALPN, ",") }

// Version returns the negotiated version as Zeek's ssl.log writes it
// ("TLSv12", "TLSv13", ...), "" without ServerHello.
func (h *Hello) Version() string {
	if !h.ServerHello {
		return ""
	}
	return VersionName(h.VersionNumber)
}

// VersionName names a protocol version number as Zeek does.
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv10"
	case 0x0302:
		return "TLSv11"
	case 0x0303:
		return "TLSv12"
	case 0x0304:
		return "TLSv13"
	}
	return "unknown-" + string("0123456789abcdef"[v>>12]) + string("0123456789abcdef"[v>>8&15]) +
		string("0123456789abcdef"[v>>4&15]) + string("0123456789abcdef"[v&15])
}

// Bounds: handshake bytes read per direction, and names kept.
const (
	maxHandshake = 32 << 10
	maxName      = 255
	maxALPN      = 32 // protocols kept
)

// The errors Parse functions return.
var (
	ErrShort   = errors.New("tls: message shorter than its contents")
	ErrNotTLS  = errors.New("tls: not a handshake record")
	ErrTooLong = errors.New("tls: handshake message over the limit")
)

// LooksLikeHello reports whether b starts with a TLS handshake record
// holding a ClientHello or ServerHello.
func LooksLikeHello(b []byte) bool {
	return len(b) >= 6 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && (b[5] == 1 || b[5] == 2)
}

// Stats counts what the parsers saw.
type Stats struct {
	ClientHellos int64
	ServerHellos int64
	Malformed    int64 // hellos that could not be parsed, or streams that were not TLS records
}

// Conn reads the first handshake message of each direction of one
// connection from its reassembled bytes; then it ignores the rest.
type Conn struct {
	Hello Hello
	stats *Stats
	dirs  [2]half
}

// NewConn returns the reader of one connection.
func NewConn(flow *analyze.L7Info, stats *Stats) *Conn {
	c := &Conn{Hello: Hello{Flow: flow}, stats: stats}
	c.dirs[0].c, c.dirs[1].c = c, c
	return c
}

// Half returns the sink (stream.Sink) of direction dir (0 client).
func (c *Conn) Half(dir int) *Half { return (*Half)(&c.dirs[dir]) }

// Done reports whether both directions are finished with.
func (c *Conn) Done() bool { return c.dirs[0].done && c.dirs[1].done }

// Half is the sink of one direction.
type Half half

type half struct {
	c    *Conn
	rec  []byte // bytes of the current record header (5) while incomplete
	left int    // fragment bytes left in the current record
	hs   []byte // handshake bytes gathered from records
	done bool
}

// Data implements stream.Sink.
func (h *Half) Data(b []byte, tsNs int64) { (*half)(h).data(b) }

// Gap implements stream.Sink: the handshake cannot be read past a gap.
func (h *Half) Gap(n int64, tsNs int64) { (*half)(h).finish() }

func (h *half) finish() {
	h.done, h.rec, h.hs = true, nil, nil
}

func (h *half) data(b []byte) {
	for len(b) > 0 && !h.done {
		if h.left == 0 {
			n := min(5-len(h.rec), len(b))
			h.rec, b = append(h.rec, b[:n]...), b[n:]
			if len(h.rec) < 5 {
				return
			}
			if h.rec[0] != 22 || h.rec[1] != 3 {
				h.c.stats.Malformed++
				h.finish()
				return
			}
			h.left = int(binary.BigEndian.Uint16(h.rec[3:]))
			h.rec = h.rec[:0]
			if h.left == 0 {
				continue
			}
		}
		n := min(h.left, len(b))
		if len(h.hs)+n > maxHandshake {
			h.c.stats.Malformed++
			h.finish()
			return
		}
		h.hs, b, h.left = append(h.hs, b[:n]...), b[n:], h.left-n
		if len(h.hs) >= 4 {
			l := 4 + (int(h.hs[1])<<16 | int(h.hs[2])<<8 | int(h.hs[3]))
			if l > maxHandshake {
				h.c.stats.Malformed++
				h.finish()
				return
			}
			if len(h.hs) >= l {
				h.hello(h.hs[:l])
				h.finish()
			}
		}
	}
}

func (h *half) hello(msg []byte) {
	hl := &h.c.Hello
	var err error
	switch msg[0] {
	case 1:
		if err = ParseClientHello(msg[4:], hl); err == nil {
			hl.ClientHello = true
			hl.FromResp = h == &h.c.dirs[1]
			h.c.stats.ClientHellos++
		}
	case 2:
		if err = ParseServerHello(msg[4:], hl); err == nil {
			hl.ServerHello = true
			h.c.stats.ServerHellos++
		}
	default:
		err = ErrNotTLS
	}
	if err != nil {
		h.c.stats.Malformed++
	}
}

// reader reads big-endian fields, failing once and for all when short.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *reader) u16() int {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

// vec reads a vector with an n-byte length in front.
func (r *reader) vec(n int) *reader {
	l := r.u8()
	if n == 2 {
		l = l<<8 | r.u8()
	}
	return &reader{b: r.bytes(l), bad: r.bad}
}

// ParseClientHello reads the body of a ClientHello (after the 4-byte
// handshake header) into h: SNI and ALPN.
func ParseClientHello(body []byte, h *Hello) error {
	r := &reader{b: body}
	r.bytes(2 + 32) // legacy_version, random
	r.vec(1)        // session id
	r.vec(2)        // cipher suites
	r.vec(1)        // compression methods
	if r.bad {
		return ErrShort
	}
	if len(r.b) == 0 {
		return nil // no extensions (old clients)
	}
	exts := r.vec(2)
	for !exts.bad && len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec(2)
		switch typ {
		case 0: // server_name
			list := data.vec(2)
			for !list.bad && len(list.b) > 0 {
				kind := list.u8()
				name := list.vec(2)
				if kind == 0 && !name.bad && h.SNI == "" {
					h.SNI = string(name.b[:min(len(name.b), maxName)])
				}
			}
		case 16: // application_layer_protocol_negotiation
			list := data.vec(2)
			for !list.bad && len(list.b) > 0 {
				p := list.vec(1)
				if !p.bad && len(h.ALPN) < maxALPN {
					h.ALPN = append(h.ALPN, string(p.b))
				}
			}
		}
	}
	if exts.bad {
		return ErrShort
	}
	return nil
}

// ParseServerHello reads the body of a ServerHello into h: the version and
// the chosen ALPN protocol.
func ParseServerHello(body []byte, h *Hello) error {
	r := &reader{b: body}
	h.VersionNumber = uint16(r.u16())
	r.bytes(32) // random
	r.vec(1)    // session id
	r.bytes(3)  // cipher suite, compression method
	if r.bad {
		return ErrShort
	}
	if len(r.b) == 0 {
		return nil
	}
	exts := r.vec(2)
	for !exts.bad && len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec(2)
		switch typ {
		case 43: // supported_versions: the selected version
			if v := data.u16(); !data.bad {
				h.VersionNumber = uint16(v)
			}
		case 16:
			list := data.vec(2)
			if p := list.vec(1); !p.bad {
				h.ServerALPN = string(p.b)
			}
		}
	}
	if exts.bad {
		return ErrShort
	}
	return nil
}
