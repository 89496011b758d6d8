package standin

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// A small BPF capture-filter evaluator, enough for the stand-in to apply
// export_snapshot_pcap's bpf_filter the way the Hub would: host, src host,
// dst host, net, port, src port, dst port, tcp, udp, ip, ip6, combined with
// and/or/not (&&, ||, !) and parentheses.

type pktInfo struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        byte // 6 tcp, 17 udp
	ttl          uint8
	v6           bool
}

// parseRawIP reads the addresses, ports and protocol of a bare IP packet.
func parseRawIP(b []byte) (pktInfo, bool) {
	var p pktInfo
	if len(b) < 1 {
		return p, false
	}
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return p, false
		}
		ihl := int(b[0]&0x0f) * 4
		p.src, p.dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		p.proto, p.ttl = b[9], b[8]
		if len(b) >= ihl {
			l4 = b[ihl:]
		}
	case 6:
		if len(b) < 40 {
			return p, false
		}
		p.v6 = true
		p.src, p.dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		p.proto, p.ttl = b[6], b[7]
		l4 = b[40:]
	default:
		return p, false
	}
	if (p.proto == 6 || p.proto == 17) && len(l4) >= 4 {
		p.sport, p.dport = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	}
	return p, true
}

type filter func(pktInfo) bool

// compileBPF compiles a filter; "" matches everything.
func compileBPF(expr string) (filter, error) {
	toks := tokenize(expr)
	if len(toks) == 0 {
		return func(pktInfo) bool { return true }, nil
	}
	ps := &bpfParser{toks: toks}
	f, err := ps.or()
	if err != nil {
		return nil, err
	}
	if ps.i != len(ps.toks) {
		return nil, fmt.Errorf("unexpected %q", ps.toks[ps.i])
	}
	return f, nil
}

func tokenize(s string) []string {
	var out []string
	cur := ""
	flush := func() {
		if cur != "" {
			out = append(out, cur)
			cur = ""
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '(' || c == ')' || c == '!':
			flush()
			out = append(out, string(c))
		case (c == '&' || c == '|') && i+1 < len(s) && s[i+1] == c:
			flush()
			out = append(out, s[i:i+2])
			i++
		default:
			cur += string(c)
		}
	}
	flush()
	return out
}

type bpfParser struct {
	toks []string
	i    int
}

func (p *bpfParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *bpfParser) next() string { t := p.peek(); p.i++; return t }

func (p *bpfParser) or() (filter, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" || p.peek() == "||" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x pktInfo) bool { return a(x) || b(x) }
	}
	return l, nil
}

func (p *bpfParser) and() (filter, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" || p.peek() == "&&" {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x pktInfo) bool { return a(x) && b(x) }
	}
	return l, nil
}

func (p *bpfParser) not() (filter, error) {
	if p.peek() == "not" || p.peek() == "!" {
		p.next()
		f, err := p.not()
		if err != nil {
			return nil, err
		}
		return func(x pktInfo) bool { return !f(x) }, nil
	}
	return p.primary()
}

func (p *bpfParser) primary() (filter, error) {
	t := p.next()
	switch t {
	case "(":
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		return f, nil
	case "tcp":
		return func(x pktInfo) bool { return x.proto == 6 }, nil
	case "udp":
		return func(x pktInfo) bool { return x.proto == 17 }, nil
	case "ip":
		return func(x pktInfo) bool { return !x.v6 }, nil
	case "ip6":
		return func(x pktInfo) bool { return x.v6 }, nil
	case "src", "dst":
		kind := p.next()
		return p.term(t, kind)
	case "host", "port", "net":
		return p.term("", t)
	case "":
		return nil, fmt.Errorf("unexpected end of filter")
	}
	return nil, fmt.Errorf("unknown primitive %q", t)
}

func (p *bpfParser) term(dir, kind string) (filter, error) {
	arg := p.next()
	src, dst := dir != "dst", dir != "src"
	switch kind {
	case "host":
		a, err := netip.ParseAddr(arg)
		if err != nil {
			return nil, fmt.Errorf("bad host %q", arg)
		}
		return func(x pktInfo) bool { return (src && x.src == a) || (dst && x.dst == a) }, nil
	case "net":
		n, err := netip.ParsePrefix(arg)
		if err != nil {
			return nil, fmt.Errorf("bad net %q", arg)
		}
		return func(x pktInfo) bool { return (src && n.Contains(x.src)) || (dst && n.Contains(x.dst)) }, nil
	case "port":
		v, err := strconv.ParseUint(arg, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bad port %q", arg)
		}
		port := uint16(v)
		return func(x pktInfo) bool {
			return (x.proto == 6 || x.proto == 17) && ((src && x.sport == port) || (dst && x.dport == port))
		}, nil
	}
	return nil, fmt.Errorf("unknown primitive %q", strings.TrimSpace(dir+" "+kind))
}
