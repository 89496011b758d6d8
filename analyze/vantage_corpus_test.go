package analyze_test

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/capgen"
)

// doubledCorpusDiffers lists the corpus captures whose doubled copy does not
// yet analyze like the capture itself in TestVantageCorpusDoubled, with the
// first variant that differs and why, as far as known: the generator's
// limits (malformed packets, captures that already hold repeats or copies)
// or folding's. A capture that starts to differ
// fails the test; one that stops differing must leave the list.
var doubledCorpusDiffers = map[string]string{
	"gopacket/cip.pcap":                         "same node: 1 of 3023 (it already holds copies)",
	"pcapplusplus/malformed/tcp-malformed.pcap": "same node: 1 of 1 (malformed)",
	"zeek/malformed/tcp-truncated-header.pcap":  "same node: 1 of 1 (malformed)",
	"zeek/tcp-ssh-dups.pcap": "same node, GSO: 1 of 1 (it already holds every segment 4 times at one time, same TTL and IP ID 0: " +
		"with GSO merges their ranges under one sequence number fill GSO buckets, 5 capped)",
}

// TestVantageCorpusDoubled doubles every Ethernet capture of the public
// corpus (up to 100,000 packets) as TestVantageKnownAnswers doubles the
// recordings, on one node (20 µs) and across nodes (150 µs, the remote
// clock 3 ms behind), each without and with GSO merges at the senders (up
// to 4 and 3 segments), with the hosts that send a SYN (or else the
// busiest address) as the capture's, and compares the flows: every column
// but the times and RTTs (a flow whose first packet came from the remote
// host is timed at the remote copy; a counted super-packet is one segment
// to the RTT analysis) and the vantage columns, of the flows between one of
// the capture's hosts and another (the generator makes no meaningful copies
// of the others: Kubeshark records a node's own pods). Found this way:
// records of a connection to a server on a port no rule knows took the
// wrong copy (dedup.go, folder.opens); with GSO, the generator merged
// segments sent seconds apart, super-packets before the first folded copy
// went unmatched, a match changed sides midway, and resent super-packets
// counted as one retransmission.
//
// The delay there and back must fit in the capture's shortest round trip
// (shortestRTT): else the remote host's answer is stamped before the
// packet it answers arrives there, an order no capture holds, and the
// doubled capture is not one a real network could give. A capture whose
// hosts answer faster (21 of the corpus under 40 µs, 43 under 300 µs, 8 at
// 0 µs in the capture's microseconds) is doubled with half its shortest
// round trip, less a nanosecond, as the delay (0 at the least); the remote
// clock's offset stays. Found this way: ip-frag.pcap (14 µs), modbusBig
// (7 µs), 4-times-close (0 µs), tcp-ctu (201 µs across nodes) and
// tcp-retransmit-fast009 (47 µs) differed only because of that.
func TestVantageCorpusDoubled(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("public corpus not found at %s (it sits beside the project in CI): %v", corpusDir, err)
	}
	const us = time.Microsecond
	variants := []struct {
		name string
		v    capgen.Vantage
	}{
		{"same node", capgen.Vantage{Delay: 20 * us}},
		{"cross node", capgen.Vantage{Delay: 150 * us, Offset: -3 * time.Millisecond}},
		{"same node, GSO", capgen.Vantage{Delay: 20 * us, GSO: 4}},
		{"cross node, GSO", capgen.Vantage{Delay: 150 * us, Offset: -3 * time.Millisecond, GSO: 3}},
	}
	checked, differ := 0, map[string]string{}
	for _, path := range refereeCaptures(t) {
		rel, err := filepath.Rel(corpusDir, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // the recordings: TestVantageKnownAnswers
		}
		pkts := ethernetPackets(path, 100_000)
		if len(pkts) == 0 {
			continue
		}
		checked++
		local := captureHosts(pkts)
		rtt := shortestRTT(pkts, local)
		for _, tt := range variants {
			v := tt.v
			v.Local = local
			// A remote host's answer to a packet is stamped there after
			// that packet's arrival only if the delay there and back fits
			// in the round trip: a shorter one puts the answer first, an
			// order no capture can hold.
			if 2*v.Delay >= rtt {
				v.Delay = max(0, (rtt-1)/2)
			}
			single, doubled, ok := doubleQuietly(pkts, v)
			if !ok {
				continue // the generator cannot double a damaged packet
			}
			want, _ := analyzeRaw(analyze.Config{}, single)
			got, _ := analyzeRaw(analyze.Config{}, doubled)
			if d := doubledDiffers(got, want, local); d != "" {
				differ[filepath.ToSlash(rel)] = tt.name + ": " + d
				break
			}
		}
	}
	for rel, d := range differ {
		if _, known := doubledCorpusDiffers[rel]; !known {
			t.Errorf("%s doubled: %s", rel, d)
		}
	}
	for rel := range doubledCorpusDiffers {
		if _, still := differ[rel]; !still {
			t.Errorf("%s: doubled, it now analyzes like the capture: take it off doubledCorpusDiffers", rel)
		}
	}
	t.Logf("%d corpus captures doubled, %d differ", checked, len(differ))
}

// ethernetPackets returns the packets of an Ethernet capture of at most max
// packets, or nil.
func ethernetPackets(path string, max int) []capgen.Packet {
	c, err := ingest.Open(path, ingest.Options{})
	if err != nil {
		return nil
	}
	defer c.Close()
	var pkts []capgen.Packet
	var p ingest.Packet
	for {
		if err := c.Next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return pkts
			}
			return nil
		}
		if p.LinkType != capgen.Ethernet.LinkType() || len(pkts) == max {
			return nil
		}
		pkts = append(pkts, capgen.Packet{Time: time.Unix(0, p.Timestamp).UTC(), Data: slices.Clone(p.Data), Length: p.OrigLen})
	}
}

// captureHosts returns the hosts that send a SYN in pkts, or else the
// address in the most TCP and UDP packets: taken as the ones the capture
// was recorded on.
func captureHosts(pkts []capgen.Packet) []netip.Addr {
	var hosts []netip.Addr
	seen := map[netip.Addr]int{}
	var d analyze.Decoded
	for _, p := range pkts {
		pkt := ingest.Packet{Data: p.Data, OrigLen: p.Length, LinkType: capgen.Ethernet.LinkType()}
		analyze.Decode(&pkt, &d)
		if d.Kind == analyze.KindTCP || d.Kind == analyze.KindUDP {
			seen[d.Src]++
			seen[d.Dst]++
		}
		if d.Kind == analyze.KindTCP && d.Flags&0x12 == 0x02 && !slices.Contains(hosts, d.Src) {
			hosts = append(hosts, d.Src)
		}
	}
	if len(hosts) > 0 {
		return hosts
	}
	var top netip.Addr
	for a, n := range seen {
		if n > seen[top] || n == seen[top] && a.Less(top) {
			top = a
		}
	}
	if top.IsValid() {
		hosts = append(hosts, top)
	}
	return hosts
}

// shortestRTT returns the shortest time in pkts from a TCP segment one of
// local sent to the first acknowledgement of it from the other end (the
// round trip as seen at the capture's hosts), or an hour when there is none.
func shortestRTT(pkts []capgen.Packet, local []netip.Addr) time.Duration {
	type sent struct {
		end uint32 // sequence number after the segment
		at  int64
	}
	type conn struct{ a, b netip.AddrPort }
	out := map[conn][]sent{} // unacknowledged segments per connection, local side first
	best := time.Hour
	var d analyze.Decoded
	for _, p := range pkts {
		pkt := ingest.Packet{Timestamp: p.Time.UnixNano(), Data: p.Data, OrigLen: p.Length, LinkType: capgen.Ethernet.LinkType()}
		analyze.Decode(&pkt, &d)
		if d.Kind != analyze.KindTCP {
			continue
		}
		src, dst := netip.AddrPortFrom(d.Src, d.SrcPort), netip.AddrPortFrom(d.Dst, d.DstPort)
		if slices.Contains(local, d.Src) && !slices.Contains(local, d.Dst) {
			n := uint32(d.Payload)
			if d.Flags&0x03 != 0 { // SYN or FIN: one sequence number
				n++
			}
			if n > 0 {
				out[conn{src, dst}] = append(out[conn{src, dst}], sent{d.Seq + n, d.TsNs})
			}
			continue
		}
		if d.Flags&0x10 == 0 || !slices.Contains(local, d.Dst) || slices.Contains(local, d.Src) {
			continue
		}
		c := conn{dst, src}
		q := out[c]
		k := 0
		for ; k < len(q) && int32(d.Ack-q[k].end) >= 0; k++ {
			best = min(best, time.Duration(d.TsNs-q[k].at))
		}
		out[c] = q[k:]
	}
	return best
}

// doubleQuietly is capgen.Double, false when it fails or panics (its
// header rewriting assumes packets as long as their headers say).
func doubleQuietly(pkts []capgen.Packet, v capgen.Vantage) (single, doubled []capgen.Packet, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	single, doubled, err := capgen.Double(capgen.Ethernet, pkts, v)
	return single, doubled, err == nil
}

// doubledDiffers says how got (the doubled capture's flows) differs from
// want (the capture's), or "" when it does not: see TestVantageCorpusDoubled.
func doubledDiffers(got, want []analyze.Record, local []netip.Addr) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d flows, want %d", len(got), len(want))
	}
	// Flows paired by their endpoints, in order of time among those of one
	// pair: by time alone, a flow between two other hosts (whose copies the
	// generator stamps before the capture's own records, Local not being
	// theirs) can move before one of the capture's that started just
	// after it (tls2.pcap's IPv4 and IPv6 connections of one Happy Eyeballs
	// attempt), and the two compared crosswise.
	got, want = byEndpoints(got), byEndpoints(want)
	n := 0
	for i := range got {
		if slices.Contains(local, want[i].SrcIP) == slices.Contains(local, want[i].DstIP) {
			continue // between two of the capture's hosts, or two others: no such copies
		}
		g, w := comparable(got[i], false), comparable(want[i], false)
		for _, r := range []*analyze.Record{&g, &w} {
			r.TsNs, r.EndNs = 0, 0
			r.RTTSynSynAck, r.RTTSynAckAck, r.RTTHandshake, r.RTTFirstReply = analyze.Opt{}, analyze.Opt{}, analyze.Opt{}, analyze.Opt{}
			r.OrigRTT, r.RespRTT = analyze.RTTStats{}, analyze.RTTStats{}
		}
		if g != w {
			n++
		}
	}
	if n > 0 {
		return fmt.Sprintf("%d of %d flows", n, len(got))
	}
	return ""
}

// byEndpoints returns recs ordered by protocol, endpoints (either way
// round), VLAN and tunnel, stably: flows of one pair of endpoints keep their order in time.
func byEndpoints(recs []analyze.Record) []analyze.Record {
	key := func(r *analyze.Record) string {
		a := netip.AddrPortFrom(r.SrcIP, r.SrcPort).String()
		b := netip.AddrPortFrom(r.DstIP, r.DstPort).String()
		if b < a {
			a, b = b, a
		}
		return fmt.Sprint(r.Proto, " ", a, " ", b, " ", r.VLAN, r.Tunnel, r.TunnelID)
	}
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(x, y analyze.Record) int { return strings.Compare(key(&x), key(&y)) })
	return out
}
