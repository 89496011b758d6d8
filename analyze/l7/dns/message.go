package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Header sizes and bounds from RFC 1035.
const (
	headerLen   = 12
	maxLabel    = 63
	maxName     = 255 // wire octets of a name
	maxPointers = 64  // compression jumps followed in one name
	maxAnswers  = 64  // answer records kept per message; more are counted
	maxTXT      = 512 // text kept from a TXT record
)

// FormatError says why and where a message could not be parsed.
type FormatError struct {
	Offset int // byte offset in the message
	Err    error
}

func (e *FormatError) Error() string { return fmt.Sprintf("dns: offset %d: %v", e.Offset, e.Err) }
func (e *FormatError) Unwrap() error { return e.Err }

// The errors a FormatError wraps.
var (
	ErrShort       = errors.New("message shorter than its contents")
	ErrLabelLength = errors.New("label longer than 63 bytes")
	ErrNameLength  = errors.New("name longer than 255 bytes")
	ErrPointer     = errors.New("compression pointer not backwards")
	ErrPointers    = errors.New("too many compression pointers")
	ErrLabelType   = errors.New("reserved label type")
)

// Message is what a row needs of a DNS message: the header, the first
// question and the answer section.
type Message struct {
	ID             uint16
	Response       bool
	Opcode         uint8
	AA, TC, RD, RA bool
	Rcode          uint8
	Questions      uint16 // QDCOUNT
	QName          string // first question, "" when none
	QType, QClass  uint16
	Answers        []string // answer records' data as text (A, AAAA, names, TXT; "<TYPE>" for others)
	TTLs           []int64  // seconds, one per answer
	MoreAnswers    int      // answer records beyond maxAnswers, not kept
}

// Parse parses msg. It never reads outside msg, follows only backward
// compression pointers (so no loop), and bounds names and answers; a
// message it cannot parse gives a *FormatError, with the header fields
// read so far.
func Parse(msg []byte) (Message, error) {
	var m Message
	if len(msg) < headerLen {
		return m, &FormatError{0, ErrShort}
	}
	m.ID = binary.BigEndian.Uint16(msg[0:])
	f := binary.BigEndian.Uint16(msg[2:])
	m.Response = f&0x8000 != 0
	m.Opcode = uint8(f>>11) & 0xf
	m.AA, m.TC, m.RD, m.RA = f&0x0400 != 0, f&0x0200 != 0, f&0x0100 != 0, f&0x0080 != 0
	m.Rcode = uint8(f & 0xf)
	m.Questions = binary.BigEndian.Uint16(msg[4:])
	an := int(binary.BigEndian.Uint16(msg[6:]))
	off := headerLen
	for i := range int(m.Questions) {
		name, next, err := readName(msg, off)
		if err != nil {
			return m, err
		}
		if next+4 > len(msg) {
			return m, &FormatError{next, ErrShort}
		}
		if i == 0 {
			m.QName = name
			m.QType = binary.BigEndian.Uint16(msg[next:])
			m.QClass = binary.BigEndian.Uint16(msg[next+2:])
		}
		off = next + 4
	}
	for range an {
		_, next, err := readName(msg, off)
		if err != nil {
			return m, err
		}
		if next+10 > len(msg) {
			return m, &FormatError{next, ErrShort}
		}
		typ := binary.BigEndian.Uint16(msg[next:])
		ttl := binary.BigEndian.Uint32(msg[next+4:])
		rdlen := int(binary.BigEndian.Uint16(msg[next+8:]))
		rd := next + 10
		if rd+rdlen > len(msg) {
			return m, &FormatError{rd, ErrShort}
		}
		off = rd + rdlen
		if len(m.Answers) >= maxAnswers {
			m.MoreAnswers++
			continue
		}
		text, err := rdata(msg, typ, rd, rdlen)
		if err != nil {
			return m, err
		}
		m.Answers = append(m.Answers, text)
		m.TTLs = append(m.TTLs, int64(ttl))
	}
	return m, nil
}

// rdata renders a record's data as Zeek's dns.log answers do.
func rdata(msg []byte, typ uint16, off, n int) (string, error) {
	b := msg[off : off+n]
	switch typ {
	case 1: // A
		if n == 4 {
			return netip.AddrFrom4([4]byte(b)).String(), nil
		}
	case 28: // AAAA
		if n == 16 {
			return netip.AddrFrom16([16]byte(b)).String(), nil
		}
	case 2, 5, 12: // NS, CNAME, PTR
		name, _, err := readName(msg, off)
		return name, err
	case 15: // MX: preference, exchange
		if n > 2 {
			name, _, err := readName(msg, off+2)
			return name, err
		}
	case 33: // SRV: priority, weight, port, target
		if n > 6 {
			name, _, err := readName(msg, off+6)
			return name, err
		}
	case 16: // TXT: character strings
		var sb strings.Builder
		for len(b) > 0 && sb.Len() < maxTXT {
			l := int(b[0])
			if 1+l > len(b) {
				return "", &FormatError{off, ErrShort}
			}
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.Write(b[1 : 1+l])
			b = b[1+l:]
		}
		return "TXT " + strconv.Itoa(n) + " " + sb.String(), nil
	}
	return "<" + TypeName(typ) + ">", nil
}

// readName reads the name at off; next is the offset after it in place
// (after its first pointer, when compressed).
func readName(msg []byte, off int) (name string, next int, err error) {
	var buf [maxName + 64]byte // text, escapes aside
	out := buf[:0]
	wire, jumps, next := 0, 0, -1
	for {
		if off >= len(msg) {
			return "", 0, &FormatError{off, ErrShort}
		}
		l := int(msg[off])
		switch l & 0xc0 {
		case 0x00:
		case 0xc0:
			if off+1 >= len(msg) {
				return "", 0, &FormatError{off, ErrShort}
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if ptr >= off {
				return "", 0, &FormatError{off, ErrPointer}
			}
			if jumps++; jumps > maxPointers {
				return "", 0, &FormatError{off, ErrPointers}
			}
			if next < 0 {
				next = off + 2
			}
			off = ptr
			continue
		default:
			return "", 0, &FormatError{off, ErrLabelType}
		}
		if l > maxLabel {
			return "", 0, &FormatError{off, ErrLabelLength}
		}
		if wire += l + 1; wire > maxName {
			return "", 0, &FormatError{off, ErrNameLength}
		}
		if l == 0 {
			if next < 0 {
				next = off + 1
			}
			if len(out) == 0 {
				return ".", next, nil
			}
			return string(out), next, nil
		}
		if off+1+l > len(msg) {
			return "", 0, &FormatError{off, ErrShort}
		}
		if len(out) > 0 {
			out = append(out, '.')
		}
		for _, ch := range msg[off+1 : off+1+l] {
			if ch > 0x20 && ch < 0x7f && ch != '.' && ch != '\\' {
				out = append(out, ch)
			} else {
				out = append(out, '\\', '0'+ch/100, '0'+ch/10%10, '0'+ch%10)
			}
		}
		off += 1 + l
	}
}

var typeNames = map[uint16]string{
	1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
	33: "SRV", 35: "NAPTR", 39: "DNAME", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
	50: "NSEC3", 52: "TLSA", 64: "SVCB", 65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "*", 257: "CAA",
}

// TypeName returns the mnemonic of a record type (Zeek's query type names;
// "TYPE<n>" for a number it has none for, as RFC 3597 writes them).
func TypeName(t uint16) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

// RcodeName returns the mnemonic of a response code.
func RcodeName(r uint8) string {
	if int(r) < len(rcodeNames) {
		return rcodeNames[r]
	}
	return "RCODE" + strconv.Itoa(int(r))
}
