package communityid_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowproof/flowproof/analyze/communityid"
)

// Official vectors: corelight/community-id-spec baseline/README.md and
// baseline/baseline_deflt.json (see shared/docs/flow-semantics.md §4).
var vectors = []struct {
	name         string
	seed         uint16
	src, dst     string
	proto        uint8
	sport, dport uint16
	want         string
	oneWay       bool // ICMP message without a counterpart type
}{
	{"tcp/v4/seed0", 0, "1.2.3.4", "5.6.7.8", 6, 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=", false},
	{"tcp/v4/seed1", 1, "1.2.3.4", "5.6.7.8", 6, 1122, 3344, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", false},
	{"udp/v4/seed0", 0, "1.2.3.4", "5.6.7.8", 17, 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", false},
	{"sctp/v4/seed0", 0, "1.2.3.4", "5.6.7.8", 132, 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", false},
	{"rsvp/v4/seed0", 0, "1.2.3.4", "5.6.7.8", 46, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=", false},
	{"rsvp/v6/seed0", 0, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 46, 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", false},
	{"udp/v4/dns", 0, "192.168.1.52", "8.8.8.8", 17, 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", false},
	{"tcp/v4/http", 0, "128.232.110.120", "66.35.250.204", 6, 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", false},
	{"tcp/v6/smtp", 0, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 6, 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", false},

	// ICMP: sport = type, dport = code.
	{"icmp/v4/echo-request", 0, "1.2.3.4", "5.6.7.8", 1, 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", false},
	{"icmp/v4/echo-reply", 0, "5.6.7.8", "1.2.3.4", 1, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", false},
	{"icmp/v4/echo-baseline-json", 0, "192.168.0.89", "192.168.0.1", 1, 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", false},
	{"icmp/v4/time-exceeded", 0, "1.2.3.4", "5.6.7.8", 1, 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=", true},
	{"icmp/v4/time-exceeded-2", 0, "10.0.0.1", "10.0.0.2", 1, 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM=", true},
	{"icmp6/echo-request", 0, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 58, 128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", false},
	{"icmp6/echo-reply", 0, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 58, 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", false},
	{"icmp6/one-way-146", 0, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 58, 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10=", true},
}

func TestID(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			src, dst := netip.MustParseAddr(v.src), netip.MustParseAddr(v.dst)
			if got := communityid.ID(v.seed, src, dst, v.proto, v.sport, v.dport); got != v.want {
				t.Errorf("ID(%d, %s:%d -> %s:%d, proto %d) = %q, want %q", v.seed, src, v.sport, dst, v.dport, v.proto, got, v.want)
			}
			// ICMP's reverse direction is a different message (the reply
			// rows cover it); one-way messages are never reordered.
			if v.oneWay || v.proto == communityid.ProtoICMP || v.proto == communityid.ProtoICMPv6 {
				return
			}
			rs, rd := v.dport, v.sport
			if got := communityid.ID(v.seed, dst, src, v.proto, rs, rd); got != v.want {
				t.Errorf("reverse ID(%d, %s:%d -> %s:%d, proto %d) = %q, want %q", v.seed, dst, rs, src, rd, v.proto, got, v.want)
			}
		})
	}
}

func TestIDRules(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"invalid src", communityid.ID(0, netip.Addr{}, b, 6, 1, 2), ""},
		{"invalid dst", communityid.ID(0, a, netip.Addr{}, 6, 1, 2), ""},
		{"mixed families", communityid.ID(0, a, v6, 6, 1, 2), ""},
		{"no-port proto ignores ports", communityid.ID(0, a, b, 46, 1, 2), communityid.ID(0, a, b, 46, 0, 0)},
		{"no-port proto, same address", communityid.ID(0, a, a, 47, 9, 1), communityid.ID(0, a, a, 47, 1, 9)},
		{"same address, ports decide", communityid.ID(0, a, a, 6, 80, 1234), communityid.ID(0, a, a, 6, 1234, 80)},
		{"zone ignored", communityid.ID(0, netip.MustParseAddr("fe80::1%eth0"), v6, 6, 1, 2), communityid.ID(0, netip.MustParseAddr("fe80::1"), v6, 6, 1, 2)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if x, y := communityid.ID(0, a, a, 6, 80, 1234), communityid.ID(0, a, a, 17, 80, 1234); x == y {
		t.Errorf("TCP and UDP IDs are equal: %q", x)
	}
}

func TestIDAllocs(t *testing.T) {
	src := netip.MustParseAddr("2001:470:e5bf:dead:4957:2174:e82c:4887")
	dst := netip.MustParseAddr("2607:f8b0:400c:c03::1a")
	var sink string
	n := testing.AllocsPerRun(100, func() {
		sink = communityid.ID(0, src, dst, 6, 63943, 25)
	})
	if n > 1 {
		t.Errorf("ID allocates %v times per call, want at most 1 (the result)", n)
	}
	_ = sink
}

func FuzzIDSymmetric(f *testing.F) {
	f.Add(uint16(0), []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8}, uint8(6), uint16(1122), uint16(3344))
	f.Add(uint16(1), []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}, uint8(17), uint16(53), uint16(53))
	f.Add(uint16(0), make([]byte, 16), []byte("0123456789abcdef"), uint8(46), uint16(0), uint16(7))
	f.Add(uint16(0), []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}, uint8(1), uint16(8), uint16(0))
	f.Fuzz(func(t *testing.T, seed uint16, sb, db []byte, proto uint8, sport, dport uint16) {
		src, ok1 := netip.AddrFromSlice(sb)
		dst, ok2 := netip.AddrFromSlice(db)
		if !ok1 || !ok2 || src.Is4() != dst.Is4() {
			t.Skip()
		}
		if proto == communityid.ProtoICMP || proto == communityid.ProtoICMPv6 {
			t.Skip() // ICMP is not symmetric in (type, code); the vectors cover it
		}
		fwd := communityid.ID(seed, src, dst, proto, sport, dport)
		rev := communityid.ID(seed, dst, src, proto, dport, sport)
		if fwd != rev {
			t.Fatalf("ID not symmetric: %s:%d -> %s:%d proto %d: %q vs %q", src, sport, dst, dport, proto, fwd, rev)
		}
		if len(fwd) != 30 || fwd[:2] != "1:" {
			t.Fatalf("malformed ID %q", fwd)
		}
		if want := refID(seed, src, dst, proto, sport, dport); fwd != want {
			t.Fatalf("ID %q, the reference %q", fwd, want)
		}
		if got := communityid.AppendID([]byte("x"), seed, src, dst, proto, sport, dport); string(got) != "x"+fwd {
			t.Fatalf("AppendID = %q, want %q", got, "x"+fwd)
		}
	})
}

func BenchmarkID(b *testing.B) {
	src := netip.MustParseAddr("128.232.110.120")
	dst := netip.MustParseAddr("66.35.250.204")
	b.ReportAllocs()
	for b.Loop() {
		_ = communityid.ID(0, src, dst, 6, 34855, 80)
	}
}

// refID is the spec's algorithm written plainly (addresses compared with
// bytes.Compare), for protocols other than ICMP: the referee of AppendID's
// integer comparison.
func refID(seed uint16, src, dst netip.Addr, proto uint8, sport, dport uint16) string {
	s, d := src.AsSlice(), dst.AsSlice()
	hasPorts := proto == 6 || proto == 17 || proto == 132
	if c := bytes.Compare(s, d); c > 0 || (c == 0 && hasPorts && sport > dport) {
		s, d, sport, dport = d, s, dport, sport
	}
	in := binary.BigEndian.AppendUint16(nil, seed)
	in = append(append(append(in, s...), d...), proto, 0)
	if hasPorts {
		in = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(in, sport), dport)
	}
	sum := sha1.Sum(in)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestAppendIDAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addr := func(v6 bool) netip.Addr {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(4)) // few values: equal prefixes and equal addresses are common
		}
		if v6 {
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	for i := range 20000 {
		v6 := i%2 == 1
		src, dst := addr(v6), addr(v6)
		proto := []uint8{6, 17, 132, 46}[(i/2)%4] // every protocol with both families
		sport, dport := uint16(rng.IntN(3)), uint16(rng.IntN(3))
		want := refID(uint16(i%3), src, dst, proto, sport, dport)
		got := communityid.AppendID([]byte("x-"), uint16(i%3), src, dst, proto, sport, dport)
		if string(got) != "x-"+want {
			t.Fatalf("AppendID(%s:%d -> %s:%d, proto %d) = %q, want %q", src, sport, dst, dport, proto, got, "x-"+want)
		}
		if id := communityid.ID(uint16(i%3), src, dst, proto, sport, dport); id != want || len(id) != communityid.Len {
			t.Fatalf("ID = %q, want %q", id, want)
		}
	}
	if got := communityid.AppendID([]byte("x"), 0, netip.Addr{}, netip.MustParseAddr("::1"), 6, 1, 2); string(got) != "x" {
		t.Errorf("AppendID of an invalid address = %q, want the input unchanged", got)
	}
}
