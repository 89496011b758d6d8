package capgen_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/internal/capgen"
)

// tsharkFields are read per frame; the analysis flags print "1" (or "1,1") when set.
var tsharkFields = []string{
	"frame.time_epoch", "frame.len", "frame.protocols",
	"ip.src", "ipv6.src", "ip.len", "ipv6.plen",
	"tcp.stream", "udp.stream", "tcp.srcport", "udp.srcport", "tcp.len", "udp.length",
	"tcp.analysis.initial_rtt",
	"tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission",
	"tcp.analysis.out_of_order", "tcp.analysis.duplicate_ack", "tcp.analysis.zero_window",
}

// tsConv is one tshark conversation, per direction (0 = the expected originator).
type tsConv struct {
	proto, stream    string
	a                netip.AddrPort // sender of the first frame
	frames, wire     [2]int64
	payload, ipBytes [2]int64
	retrans, rbytes  [2]int64
	ooo, dup, zwin   int64
	irtt             int64
	firstNs          int64
}

// TestTsharkReferee runs tshark on the generated captures and checks, per
// conversation, what Wireshark defines: frames, frame bytes, payload, IP bytes,
// tcp.analysis.initial_rtt and the retransmission / out-of-order / dup-ACK /
// zero-window counts.
//
// tshark starts slowly, so cases that share a link type (and truncation) go into
// one file, each shifted by caseGap from the previous one; tshark's per-stream
// analysis does not depend on absolute time, and the cases use distinct ports.
func TestTsharkReferee(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not on PATH: the independent tshark cross-check of the expected flows did not run")
	}
	const caseGap = 100 * time.Second
	type group struct {
		link  capgen.Link
		cases []capgen.Case
		pkts  []capgen.Packet
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, c := range capgen.Cases() {
		truncated := slices.ContainsFunc(c.Packets, func(p capgen.Packet) bool { return len(p.Data) < p.Length })
		key := fmt.Sprint(c.Link, truncated)
		g := byKey[key]
		if g == nil {
			g = &group{link: c.Link}
			byKey[key] = g
			groups = append(groups, g)
		}
		shift := time.Duration(len(g.cases)) * caseGap
		for _, p := range c.Packets {
			p.Time = p.Time.Add(shift)
			g.pkts = append(g.pkts, p)
		}
		g.cases = append(g.cases, c)
	}
	dir := t.TempDir()
	for gi, g := range groups {
		path := filepath.Join(dir, fmt.Sprintf("group%d.pcap", gi))
		var b bytes.Buffer
		if err := capgen.WritePcap(&b, g.link.LinkType(), g.pkts); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		perCase := make([][]tsConv, len(g.cases))
		for _, conv := range runTshark(t, tshark, path) {
			k := (conv.firstNs - capgen.EpochNs) / int64(caseGap)
			perCase[k] = append(perCase[k], conv)
		}
		for k, c := range g.cases {
			t.Run(c.Name, func(t *testing.T) { checkTshark(t, c, perCase[k]) })
		}
	}
}

func checkTshark(t *testing.T, c capgen.Case, convs []tsConv) {
	if len(convs) != len(c.Flows) {
		t.Fatalf("tshark sees %d conversations, want %d flows", len(convs), len(c.Flows))
	}
	for i, f := range c.Flows {
		got := convs[i]
		if a := got.a; a != f.Src && a != f.Dst {
			t.Errorf("flow %d: tshark endpoint %v is neither %v nor %v", i, a, f.Src, f.Dst)
		}
		orient(&got, f)
		want := tsConv{
			proto: f.Proto, stream: got.stream, a: got.a, firstNs: got.firstNs,
			frames:  [2]int64{f.OrigPkts, f.RespPkts},
			wire:    [2]int64{f.OrigWireBytes, f.RespWireBytes},
			payload: [2]int64{f.OrigBytes, f.RespBytes},
			ipBytes: [2]int64{f.OrigIPBytes, f.RespIPBytes},
			retrans: [2]int64{f.OrigRetransPkts, f.RespRetransPkts},
			rbytes:  [2]int64{f.OrigRetransBytes, f.RespRetransBytes},
			ooo:     f.OutOfOrder, dup: f.DupAcks, zwin: f.ZeroWindows,
			irtt: f.RTTHandshakeNs,
		}
		if c.TsharkIRTTNs != nil {
			want.irtt = c.TsharkIRTTNs[i]
		}
		if got != want {
			t.Errorf("flow %d:\ntshark %v\nwant   %v", i, got, want)
		}
	}
}

func (c tsConv) String() string {
	return fmt.Sprintf("%s stream %s A=%v frames %v wire %v payload %v ip %v retrans %v/%v bytes ooo %d dup %d zwin %d irtt %d",
		c.proto, c.stream, c.a, c.frames, c.wire, c.payload, c.ipBytes, c.retrans, c.rbytes, c.ooo, c.dup, c.zwin, c.irtt)
}

// orient swaps c's directions so that index 0 is f's originator.
func orient(c *tsConv, f capgen.Flow) {
	if c.a == f.Src {
		return
	}
	c.frames[0], c.frames[1] = c.frames[1], c.frames[0]
	c.wire[0], c.wire[1] = c.wire[1], c.wire[0]
	c.payload[0], c.payload[1] = c.payload[1], c.payload[0]
	c.ipBytes[0], c.ipBytes[1] = c.ipBytes[1], c.ipBytes[0]
	c.retrans[0], c.retrans[1] = c.retrans[1], c.retrans[0]
	c.rbytes[0], c.rbytes[1] = c.rbytes[1], c.rbytes[0]
}

// runTshark returns tshark's conversations in order of their first frame.
func runTshark(t *testing.T, tshark, path string) []tsConv {
	t.Helper()
	args := []string{"-r", path, "-n", "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:TRUE",
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	var convs []*tsConv
	index := map[string]*tsConv{}
	for line := range strings.Lines(string(out)) {
		v := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(v) != len(tsharkFields) {
			t.Fatalf("tshark line has %d fields, want %d: %q", len(v), len(tsharkFields), line)
		}
		field := func(name string) string {
			for i, f := range tsharkFields {
				if f == name {
					return v[i]
				}
			}
			panic(name)
		}
		num := func(name string) int64 {
			s := field(name)
			if s == "" {
				return 0
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", name, s, err)
			}
			return n
		}
		proto, port := "tcp", field("tcp.srcport")
		if field("tcp.stream") == "" {
			proto, port = "udp", field("udp.srcport")
		}
		src := field("ip.src")
		ipLen := num("ip.len")
		if src == "" {
			src, ipLen = field("ipv6.src"), 40+num("ipv6.plen")
		}
		addr, err := netip.ParseAddr(src)
		pn, err2 := strconv.ParseUint(port, 10, 16)
		if err != nil || err2 != nil {
			t.Fatalf("bad endpoint %q %q", src, port)
		}
		a := netip.AddrPortFrom(addr, uint16(pn))
		key := proto + " " + field(proto+".stream")
		c := index[key]
		if c == nil {
			c = &tsConv{proto: proto, stream: field(proto + ".stream"), a: a, irtt: capgen.Null,
				firstNs: secondsToNs(t, field("frame.time_epoch"))}
			index[key] = c
			convs = append(convs, c)
		}
		d := 0
		if a != c.a {
			d = 1
		}
		payload := num("tcp.len")
		if proto == "udp" {
			payload = num("udp.length") - 8
		}
		c.frames[d]++
		c.wire[d] += num("frame.len")
		c.payload[d] += payload
		c.ipBytes[d] += ipLen
		if field("tcp.analysis.retransmission") != "" || field("tcp.analysis.fast_retransmission") != "" ||
			field("tcp.analysis.spurious_retransmission") != "" {
			c.retrans[d]++
			c.rbytes[d] += payload
		}
		for _, x := range []struct {
			name string
			n    *int64
		}{{"tcp.analysis.out_of_order", &c.ooo}, {"tcp.analysis.duplicate_ack", &c.dup}, {"tcp.analysis.zero_window", &c.zwin}} {
			if field(x.name) != "" {
				*x.n++
			}
		}
		if s := field("tcp.analysis.initial_rtt"); s != "" && c.irtt == capgen.Null {
			c.irtt = secondsToNs(t, s)
		}
	}
	res := make([]tsConv, len(convs))
	for i, c := range convs {
		res[i] = *c
	}
	return res
}

// secondsToNs converts tshark's "0.001500123" to 1500123 without floating point.
func secondsToNs(t *testing.T, s string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	n, err := strconv.ParseInt(sec+frac, 10, 64)
	if err != nil {
		t.Fatalf("bad seconds %q: %v", s, err)
	}
	return n
}

// TestRecordedReferences checks that every capture in testdata/rec still has the
// .flows.tsv that testdata/rec/tshark-flows.sh makes from it, so the recorded
// references cannot drift from their captures or from the script. (It lives here
// because internal/capgen owns testdata; it needs tshark and bash.)
func TestRecordedReferences(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not on PATH: testdata/rec/*.flows.tsv not re-derived")
	}
	rec := filepath.Join("..", "..", "testdata", "rec")
	refs, err := filepath.Glob(filepath.Join(rec, "*.flows.tsv"))
	if err != nil || len(refs) == 0 {
		t.Fatalf("no references in %s (%v)", rec, err)
	}
	for _, ref := range refs {
		capture := strings.TrimSuffix(ref, ".flows.tsv")
		t.Run(filepath.Base(capture), func(t *testing.T) {
			want, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", filepath.Join(rec, "tshark-flows.sh"), capture)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("tshark-flows.sh: %v\n%s", err, stderr.String())
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: tshark-flows.sh %s gives\n%s", ref, capture, got)
			}
		})
	}
}
