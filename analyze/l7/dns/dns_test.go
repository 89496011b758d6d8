package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
)

// msg builds a message: header fields, then raw question and answer bytes.
func msg(id, flags, qd, an uint16, body ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, qd)
	b = binary.BigEndian.AppendUint16(b, an)
	b = append(b, 0, 0, 0, 0)
	for _, x := range body {
		b = append(b, x...)
	}
	return b
}

// name encodes a dotted name without compression.
func name(s string) []byte {
	if s == "" {
		return []byte{0}
	}
	var b []byte
	for _, l := range strings.Split(s, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func question(n string, qtype uint16) []byte {
	return append(name(n), byte(qtype>>8), byte(qtype), 0, 1)
}

// rr is an answer whose owner is a pointer to the question (offset 12).
func rr(typ uint16, ttl uint32, data []byte) []byte {
	b := []byte{0xc0, 12, byte(typ >> 8), byte(typ), 0, 1}
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

const (
	flagsQuery = 0x0100 // RD
	flagsResp  = 0x8180 // QR RD RA
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		msg     []byte
		want    string // QName QType answers ttls
		wantErr error
	}{
		{"query", msg(7, flagsQuery, 1, 0, question("www.example.com", 1)), "www.example.com 1 [] []", nil},
		{"A, AAAA, CNAME via pointers, TXT, MX, other", msg(7, flagsResp, 1, 6, question("a.b", 1),
			rr(5, 60, []byte{0xc0, 12}), rr(1, 30, []byte{192, 0, 2, 1}),
			rr(28, 30, []byte{0x20, 1, 0xd, 0xb8, 15: 1}), rr(16, 5, []byte("\x02hi\x03you")),
			rr(15, 5, append([]byte{0, 10}, 0xc0, 12)), rr(99, 1, []byte("x"))),
			"a.b 1 [a.b 192.0.2.1 2001:db8::1 TXT 7 hi you a.b <SPF>] [60 30 30 5 5 1]", nil},
		{"root name", msg(1, 0, 1, 0, question("", 2)), ". 2 [] []", nil},
		{"odd bytes escaped", msg(1, 0, 1, 0, append([]byte{3, 'a', '.', 0x01, 0}, 0, 1, 0, 1)), `a\046\001 1 [] []`, nil},
		{"short header", []byte{1, 2, 3}, "", ErrShort},
		{"question cut", msg(1, 0, 1, 0, name("abc")[:2]), "", ErrShort},
		{"label over 63: its length bits make a reserved type", msg(1, 0, 1, 0, append([]byte{64}, make([]byte, 70)...)), "", ErrLabelType},
		{"name over 255", msg(1, 0, 1, 0, []byte(strings.Repeat("\x3f"+strings.Repeat("a", 63), 5)+"\x00\x00\x01\x00\x01")), "", ErrNameLength},
		{"pointer to itself", msg(1, 0, 1, 0, []byte{0xc0, 12, 0, 1, 0, 1}), "", ErrPointer},
		{"pointer forward", msg(1, 0, 1, 0, []byte{0xc0, 14, 0, 0, 1, 0, 1}), "", ErrPointer},
		{"pointer out of bounds", msg(1, 0, 1, 0, []byte{0xff, 0xff}), "", ErrPointer},
		{"pointer loop through two names", msg(1, 0, 2, 0, []byte{1, 'a', 0xc0, 18, 0, 1, 0, 1, 1, 'b', 0xc0, 12, 0, 1, 0, 1}), "", ErrPointer},
		{"reserved label type", msg(1, 0, 1, 0, []byte{0x40, 0}), "", ErrLabelType},
		{"rdata past the end", msg(1, 0x8000, 1, 1, question("a", 1), []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 40, 1}), "", ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.msg)
			if tt.wantErr != nil {
				var fe *FormatError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err %v, want a FormatError wrapping %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%s %d %v %v", m.QName, m.QType, m.Answers, m.TTLs); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestManyPointers: a chain of backward pointers stops at maxPointers.
func TestManyPointers(t *testing.T) {
	b := msg(1, 0, 1, 0, []byte{1, 'a', 0})
	for i := range 100 {
		b = append(b, 0xc0|byte((12+2*i)>>8), byte(12+2*i)) // each points at the previous
		if i == 0 {
			b = b[:len(b)-2]
			b = append(b, 0xc0, 12)
		}
	}
	// The question is the last pointer: parse from there.
	q := len(b) - 2
	_, _, err := readName(b, q)
	if err != nil && !errors.Is(err, ErrPointers) && !errors.Is(err, ErrPointer) {
		t.Fatalf("err %v", err)
	}
}

type rows []string

func (r *rows) add(q *Query) {
	o := func(v analyze.Opt) string {
		if !v.Valid {
			return "-"
		}
		return fmt.Sprint(v.V)
	}
	*r = append(*r, fmt.Sprintf("%d %s ts=%d rcode=%s %s rtt=%s answered=%t retry=%t %v", q.TransID, q.Query, q.TsNs, o(q.Rcode), q.RcodeName, o(q.RTTNs), q.Answered, q.Retry, q.Answers))
}

func TestTracker(t *testing.T) {
	qA := msg(1, flagsQuery, 1, 0, question("x.test", 1))
	rA := msg(1, flagsResp, 1, 1, question("x.test", 1), rr(1, 9, []byte{10, 0, 0, 1}))
	qB := msg(2, flagsQuery, 1, 0, question("y.test", 28))
	nx := msg(2, flagsResp|3, 1, 0, question("y.test", 28))
	tests := []struct {
		name string
		msgs [][]byte
		ts   []int64
		want []string
	}{
		{"answered", [][]byte{qA, rA}, []int64{10, 25}, []string{"1 x.test ts=10 rcode=0 NOERROR rtt=15 answered=true retry=false [10.0.0.1]"}},
		{"nxdomain and unanswered", [][]byte{qB, nx, qA}, []int64{10, 20, 30}, []string{
			"2 y.test ts=10 rcode=3 NXDOMAIN rtt=10 answered=true retry=false []",
			"1 x.test ts=30 rcode=-  rtt=- answered=false retry=false []"}},
		{"a retry is its own row", [][]byte{qA, qA, rA}, []int64{10, 1010, 1015}, []string{
			"1 x.test ts=10 rcode=0 NOERROR rtt=1005 answered=true retry=false [10.0.0.1]",
			"1 x.test ts=1010 rcode=0 NOERROR rtt=5 answered=true retry=true [10.0.0.1]"}},
		{"same id, other question: not a match", [][]byte{qA, msg(1, flagsResp, 1, 0, question("z.test", 1))}, []int64{10, 20}, []string{
			"1 z.test ts=20 rcode=0 NOERROR rtt=- answered=true retry=false []",
			"1 x.test ts=10 rcode=-  rtt=- answered=false retry=false []"}},
		{"malformed skipped", [][]byte{qA, {1, 2, 3}, rA}, []int64{10, 11, 12}, []string{
			"1 x.test ts=10 rcode=0 NOERROR rtt=2 answered=true retry=false [10.0.0.1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got rows
			var st Stats
			tr := NewTracker(&analyze.L7Info{}, "udp", Limits{}, &st, got.add)
			for i, m := range tt.msgs {
				tr.Message(m, i%2, tt.ts[i])
			}
			tr.End()
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestTCP: length-prefixed messages, several per segment and split across
// segments; after a gap, the next segment that starts a message resumes.
func TestTCP(t *testing.T) {
	frame := func(m []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...) }
	q1 := frame(msg(1, flagsQuery, 1, 0, question("a.test", 1)))
	q2 := frame(msg(2, flagsQuery, 1, 0, question("b.test", 1)))
	q3 := frame(msg(3, flagsQuery, 1, 0, question("c.test", 1)))
	r1 := frame(msg(1, flagsResp, 1, 0, question("a.test", 1)))
	r3 := frame(msg(3, flagsResp, 1, 0, question("c.test", 1)))
	var got rows
	var st Stats
	tr := NewTracker(&analyze.L7Info{}, "tcp", Limits{}, &st, got.add)
	c, s := NewTCPHalf(tr, 0), NewTCPHalf(tr, 1)
	both := append(append([]byte{}, q1...), q2[:5]...)
	c.Data(both, 10)
	c.Data(q2[5:], 11)
	c.Gap(40, 12)
	c.Data(q3[1:], 13) // not a message start: skipped
	c.Data(q3, 14)
	s.Data(r1[:1], 20)
	s.Data(r1[1:], 21)
	s.Data(r3, 22)
	tr.End()
	want := []string{
		"1 a.test ts=10 rcode=0 NOERROR rtt=11 answered=true retry=false []",
		"3 c.test ts=14 rcode=0 NOERROR rtt=8 answered=true retry=false []",
		"2 b.test ts=11 rcode=-  rtt=- answered=false retry=false []",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	if st.Lost != 1 {
		t.Errorf("lost %d, want 1", st.Lost)
	}
}
