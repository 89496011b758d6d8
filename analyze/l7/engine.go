package l7

import (
	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7/dns"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/analyze/l7/stream"
	"github.com/flowproof/flowproof/analyze/l7/tls"
)

// Config chooses what the engine emits and bounds it. A nil callback
// turns its protocol off. Callbacks run on the goroutine of the table
// (Table.Add) and may keep what they get.
type Config struct {
	HTTP func(*http.Transaction)
	DNS  func(*dns.Query)
	TLS  func(*tls.Hello) // once per TLS connection, when its flow ends

	// Recycled, when set, gives the HTTP parsers transactions the HTTP
	// callback's consumer is done with (it puts them back on the table's
	// goroutine).
	Recycled *http.Recycled

	Stream     stream.Limits
	HTTPLimits http.Limits
	DNSLimits  dns.Limits
}

// Stats counts what the engine did.
type Stats struct {
	Flows  [numKinds]int64 // flows taken, by kind (see KindName)
	Stream stream.Stats
	HTTP   http.Stats
	DNS    dns.Stats
	TLS    tls.Stats
}

// Kinds of flows the engine takes.
const (
	KindHTTP = iota
	KindTLS
	KindDNSUDP
	KindDNSTCP
	numKinds
)

var kindNames = [numKinds]string{"http", "tls", "dns-udp", "dns-tcp"}

// KindName names a kind of Stats.Flows.
func KindName(k int) string { return kindNames[k] }

// Engine is an analyze.L7Factory: set it as Config.L7 of a table. It is
// not safe for concurrent use: tables that run at the same time need an
// engine each (their Stats add up).
type Engine struct {
	cfg    Config
	budget *stream.Budget
	http   http.Stats
	dns    dns.Stats
	tls    tls.Stats
	flows  [numKinds]int64

	strings http.Interner
	free    []*httpFlow // ended HTTP flows' state, for the next ones
}

// maxFreeHTTP bounds the ended HTTP flows' state kept for reuse.
const maxFreeHTTP = 1024

var _ analyze.L7Factory = (*Engine)(nil)

// New returns an engine.
func New(cfg Config) *Engine {
	return &Engine{cfg: cfg, budget: stream.NewBudget(cfg.Stream)}
}

// Stats returns the counters so far.
func (e *Engine) Stats() Stats {
	return Stats{Flows: e.flows, Stream: e.budget.Stats, HTTP: e.http, DNS: e.dns, TLS: e.tls}
}

// TCP flag bits, as Decoded.Flags holds them.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// DNS ports: a flow is taken as DNS by port and a parsable first message.
func dnsPort(p uint16) bool { return p == 53 || p == 5353 || p == 5355 }

// Open implements analyze.L7Factory: it recognises a flow by its first
// payload (HTTP, TLS) or by port and content (DNS).
func (e *Engine) Open(info *analyze.L7Info, dir int, d *analyze.Decoded, payload []byte) (analyze.L7Flow, bool) {
	dnsFlow := dnsPort(info.Orig.Port()) || dnsPort(info.Resp.Port())
	if info.IPProto == 17 {
		if !dnsFlow || e.cfg.DNS == nil {
			return nil, false
		}
		if _, err := dns.Parse(payload); err != nil {
			return nil, true // maybe the next datagram
		}
		e.flows[KindDNSUDP]++
		fl := *info
		return &udpFlow{t: dns.NewTracker(&fl, "udp", e.cfg.DNSLimits, &e.dns, e.cfg.DNS)}, false
	}
	if info.IPProto != 6 {
		return nil, false
	}
	var f *tcpFlow
	isReq := e.cfg.HTTP != nil && e.strings.LooksLikeRequest(payload)
	switch {
	case isReq || e.cfg.HTTP != nil && http.LooksLikeResponse(payload):
		// The client is whoever sends requests, even when the table
		// guessed the roles the other way round (no SYN seen).
		client := dir
		if !isReq {
			client = 1 - dir
		}
		e.flows[KindHTTP]++
		// The flow's state is reused from an ended flow (its transactions
		// carry their own copy of its L7Info); its Conn is zeroed by Init.
		var h *httpFlow
		if n := len(e.free); n > 0 {
			h, e.free = e.free[n-1], e.free[:n-1]
			h.tcpFlow = tcpFlow{}
		} else {
			h = new(httpFlow)
		}
		h.info, h.eng, h.self = *info, e, h
		f = &h.tcpFlow
		f.http = &h.conn
		f.http.Init(&f.info, e.cfg.HTTPLimits, &e.http, e.cfg.HTTP)
		f.http.ClientIsResp = client == 1
		f.http.Strings = &e.strings
		f.http.Recycled = e.cfg.Recycled
		f.dirs[client].Init(f.http.Requests(), e.budget)
		f.dirs[1-client].Init(f.http.Responses(), e.budget)
	case e.cfg.TLS != nil && tls.LooksLikeHello(payload):
		e.flows[KindTLS]++
		f = &tcpFlow{info: *info}
		f.tls, f.onTLS = tls.NewConn(&f.info, &e.tls), e.cfg.TLS
		f.dirs[0].Init(f.tls.Half(0), e.budget)
		f.dirs[1].Init(f.tls.Half(1), e.budget)
	case e.cfg.DNS != nil && dnsFlow && len(payload) >= 2:
		e.flows[KindDNSTCP]++
		f = &tcpFlow{info: *info}
		f.dns = dns.NewTracker(&f.info, "tcp", e.cfg.DNSLimits, &e.dns, e.cfg.DNS)
		f.dirs[0].Init(dns.NewTCPHalf(f.dns, 0), e.budget)
		f.dirs[1].Init(dns.NewTCPHalf(f.dns, 1), e.budget)
	default:
		return nil, true
	}
	// The accepted packet starts its direction; its ACK says where the
	// other one starts.
	f.dirs[dir].Start(d.Seq)
	if d.Flags&flagACK != 0 {
		f.dirs[1-dir].Start(d.Ack)
	}
	return f, false
}

type udpFlow struct{ t *dns.Tracker }

func (f *udpFlow) Packet(dir int, d *analyze.Decoded, payload []byte) bool {
	if len(payload) > 0 {
		f.t.Message(payload, dir, d.TsNs)
	}
	return false
}

func (f *udpFlow) End() { f.t.End() }

type tcpFlow struct {
	info   analyze.L7Info
	dirs   [2]stream.Dir
	http   *http.Conn
	tls    *tls.Conn
	onTLS  func(*tls.Hello)
	dns    *dns.Tracker
	lastNs int64
	eng    *Engine   // of an HTTP flow: takes self back at End
	self   *httpFlow // the httpFlow holding this tcpFlow, nil for others
}

func (f *tcpFlow) Packet(dir int, d *analyze.Decoded, payload []byte) bool {
	if f.tls != nil && f.tls.Done() || f.http != nil && f.http.Done() {
		// Both hellos read (the rest is ciphertext), or HTTP switched
		// protocol.
		return d.Flags&flagFIN != 0 && f.finished()
	}
	f.lastNs = d.TsNs
	s := &f.dirs[dir]
	if d.Flags&flagSYN != 0 {
		s.Start(d.Seq + 1)
	}
	// The ACK speaks of bytes received before this packet was sent: it
	// goes first (a request held behind a hole it declares lost is then
	// read before this packet's response).
	if d.Flags&flagACK != 0 && d.Flags&flagRST == 0 {
		f.dirs[1-dir].Ack(d.Ack, d.TsNs)
	}
	if d.Payload > 0 {
		s.Segment(d.Seq, payload, int(d.Payload), d.TsNs)
	}
	if d.Flags&flagFIN != 0 {
		s.Fin(d.Seq + uint32(d.Payload))
		return f.finished()
	}
	return false
}

// httpFlow is an HTTP flow's state in one allocation.
type httpFlow struct {
	tcpFlow
	conn http.Conn
}

// finished says an HTTP connection has delivered both directions up to
// their FINs: End can run now (the table then frees the state) and gives
// the same transactions as at the flow's end. TLS and DNS flows wait for
// the flow's end (a TLS hello goes with its flow's record).
func (f *tcpFlow) finished() bool {
	return f.http != nil && f.dirs[0].Finished() && f.dirs[1].Finished()
}

func (f *tcpFlow) End() {
	f.dirs[0].Close(f.lastNs)
	f.dirs[1].Close(f.lastNs)
	switch {
	case f.http != nil:
		f.http.End()
		if f.self != nil && len(f.eng.free) < maxFreeHTTP {
			f.eng.free = append(f.eng.free, f.self)
		}
	case f.dns != nil:
		f.dns.End()
	case f.tls != nil:
		if h := &f.tls.Hello; h.ClientHello || h.ServerHello {
			f.onTLS(h)
		}
	}
}
