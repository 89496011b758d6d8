package report

import (
	"cmp"
	"container/heap"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/internal/prefetch"
)

// Scan thresholds: Zeek's scan policy (misc/scan.zeek) calls a source an
// address scanner after failed attempts to 25 hosts and a port scanner after
// 15 ports of one host; flowproof counts over the whole capture.
const (
	DefaultScanMinHosts = 25
	DefaultScanMinPorts = 15
)

// DefaultMaxScanSources is how many probing sources are tracked at once
// (a Space-Saving table: the heaviest stay, see scanTable).
const DefaultMaxScanSources = 4096

// maxScanFindings bounds the scan findings listed.
const maxScanFindings = 3

// isProbe reports a flow that tried a port and got nowhere: a TCP flow that
// starts with the originator's SYN, carries no payload from it and whose
// originator never acknowledged a SYN/ACK (history without both 'h' and
// 'A': SYN scans of closed, filtered and open ports alike, REJ, S0,
// RSTOS0, RSTO after a SYN/ACK, SH), or a UDP flow that got no packet back.
func isProbe(r *analyze.Record) bool {
	switch r.Proto {
	case "tcp":
		h := r.History
		completed := strings.IndexByte(h, 'h') >= 0 && strings.IndexByte(h, 'A') >= 0
		return r.OrigBytes == 0 && strings.HasPrefix(h, "S") && !completed
	case "udp":
		return r.RespPkts == 0
	}
	return false
}

// scanAgg is what the scan table keeps of one probing source.
type scanAgg struct {
	src             netip.Addr
	probes          int64 // counted since tracked, plus over
	over            int64 // Space-Saving's overestimate: the count it inherited
	firstNs, lastNs int64
	seq             int64 // insertion order: among equal counts the oldest goes first
	unanswered      int64 // probes that got no packet back
	firstDst        netip.Addr
	firstPort       uint16
	oneHost         bool // every probe since tracked went to firstDst
	onePort         bool // ... to firstPort
	heapAt          int
}

// scanSketch counts a source's distinct hosts and ports: exactly up to
// scanExact of each (their hashes), then with two HyperLogLogs of 512
// registers (standard error 1.04/sqrt(512), 4.6%): 1.5 KiB per tracked
// source.
type scanSketch struct {
	hosts, ports [scanHLLRegisters]uint8
	exact        [2]distinctSet
}

const scanExact = 32

// distinctSet holds up to scanExact distinct 64-bit hashes; n past it
// means "more".
type distinctSet struct {
	h [scanExact]uint64
	n int
}

func (d *distinctSet) add(h uint64) {
	if d.n > scanExact {
		return
	}
	for _, x := range d.h[:d.n] {
		if x == h {
			return
		}
	}
	if d.n < scanExact {
		d.h[d.n] = h
	}
	d.n++
}

// count is the exact count while it is at most scanExact, else the
// HyperLogLog's estimate (never below scanExact+1).
func (d *distinctSet) count(regs []uint8) int64 {
	if d.n <= scanExact {
		return int64(d.n)
	}
	return max(hllEstimate(regs), scanExact+1)
}

const (
	scanHLLBits      = 9
	scanHLLRegisters = 1 << scanHLLBits
)

// scanTable finds the heaviest probing sources in bounded memory with the
// Space-Saving algorithm (Metwally et al., 2005): at most k sources are
// tracked; a new source replaces the one with the fewest probes and
// inherits its count as an overestimate. Any source with more than N/k of
// the N probes is guaranteed to be tracked, with its count at most N/k too
// high; its distinct hosts and ports are counted from the moment it was
// tracked, so they are lower bounds.
//
// A source enters the table at its second probe: a direct-mapped filter of
// scanFilterSlots remembers first probes (the source's hash, the target
// and the time), so that a spoofed flood, one probe per source, costs one
// slot write per flow and never churns the table. A first probe whose slot
// another source took before the second arrived is forgotten (counted in
// probes, not in the source's count).
type scanTable struct {
	k        int
	bySrc    map[uint64]int32 // addrHash of the source -> index in aggs
	aggs     []scanAgg
	sketches []scanSketch // parallel to aggs
	h        scanHeap
	filter   []scanFirst
	tags     []uint32 // parallel to filter: the high half of a slot's source hash
	seq      int64
	probes   int64
}

// scanFirst is a first probe remembered by the filter (no Go pointers: the
// collector skips the filter). Its source is the hash's low half here and
// its high half in the tags; 32 bytes, so that a slot is never split
// across two cache lines.
type scanFirst struct {
	srcLo   uint32 // low half of the source's addrHash, odd; 0: empty
	port    uint16
	v4      bool
	noReply bool
	dst     [16]byte
	tsNs    int64
}

const scanFilterSlots = 1 << 15

type scanHeap struct {
	idx  []int32
	aggs *[]scanAgg
}

func (h scanHeap) Len() int { return len(h.idx) }
func (h scanHeap) Less(i, j int) bool {
	a, b := &(*h.aggs)[h.idx[i]], &(*h.aggs)[h.idx[j]]
	return a.probes < b.probes || a.probes == b.probes && a.seq < b.seq
}
func (h scanHeap) Swap(i, j int) {
	h.idx[i], h.idx[j] = h.idx[j], h.idx[i]
	(*h.aggs)[h.idx[i]].heapAt = i
	(*h.aggs)[h.idx[j]].heapAt = j
}
func (h *scanHeap) Push(x any) { h.idx = append(h.idx, x.(int32)) }
func (h *scanHeap) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}

// add counts a flow whose source's addrHash is srcHash.
func (t *scanTable) add(r *analyze.Record, srcHash uint64) {
	if !isProbe(r) {
		return
	}
	if t.bySrc == nil {
		t.bySrc = map[uint64]int32{}
		t.h.aggs = &t.aggs
		t.filter = make([]scanFirst, scanFilterSlots)
		t.tags = make([]uint32, scanFilterSlots)
	}
	t.probes++
	src := r.SrcIP.WithZone("")
	dst := r.DstIP.WithZone("")
	hs := srcHash | 1
	i, ok := t.bySrc[hs]
	if !ok {
		// The tags are read first: 128 KiB stay in cache, where a miss
		// on the 1 MiB of slots was the cost of a spoofed flood's flow.
		tag, slot := uint32(hs>>32), &t.filter[hs%scanFilterSlots]
		if t.tags[hs%scanFilterSlots] != tag || slot.srcLo != uint32(hs) {
			t.tags[hs%scanFilterSlots] = tag
			*slot = scanFirst{srcLo: uint32(hs), dst: dst.As16(), tsNs: r.TsNs, port: r.DstPort, v4: dst.Is4(), noReply: r.RespPkts == 0}
			return
		}
		first := *slot
		*slot = scanFirst{}
		firstDst := netip.AddrFrom16(first.dst)
		if first.v4 {
			firstDst = firstDst.Unmap()
		}
		t.seq++
		fresh := scanAgg{src: src, probes: 1, firstNs: first.tsNs, lastNs: first.tsNs, seq: t.seq,
			firstDst: firstDst, firstPort: first.port, oneHost: true, onePort: true}
		if first.noReply {
			fresh.unanswered = 1
		}
		if len(t.aggs) < t.k {
			i = int32(len(t.aggs))
			fresh.heapAt = len(t.h.idx)
			t.aggs = append(t.aggs, fresh)
			t.sketches = append(t.sketches, scanSketch{})
			heap.Push(&t.h, i)
		} else {
			i = t.h.idx[0] // the fewest probes
			old := &t.aggs[i]
			delete(t.bySrc, addrHash(old.src)|1)
			fresh.over = old.probes
			fresh.probes += old.probes
			fresh.heapAt = 0
			*old = fresh
			t.sketches[i] = scanSketch{}
		}
		t.bySrc[hs] = i
		t.sketches[i].add(firstDst, first.port)
	}
	a := &t.aggs[i]
	a.probes++
	a.firstNs = min(a.firstNs, r.TsNs)
	a.lastNs = max(a.lastNs, r.TsNs)
	if r.RespPkts == 0 {
		a.unanswered++
	}
	if dst != a.firstDst {
		a.oneHost = false
	}
	if r.DstPort != a.firstPort {
		a.onePort = false
	}
	t.sketches[i].add(dst, r.DstPort)
	heap.Fix(&t.h, a.heapAt)
}

// prefetch starts loading the filter's tag and slot that add will read
// for r (a probe whose source is not tracked).
func (t *scanTable) prefetch(r *analyze.Record, srcHash uint64) {
	if t.filter == nil || !isProbe(r) {
		return
	}
	i := (srcHash | 1) % scanFilterSlots
	prefetch.Read((*uint64)(unsafe.Pointer(&t.tags[i&^1]))) // an aligned word
	prefetch.Write(unsafe.Pointer(&t.filter[i]), unsafe.Sizeof(scanFirst{}))
}

func (sk *scanSketch) add(host netip.Addr, port uint16) {
	hh, ph := addrHash(host), portHash(port)
	hllAddTo(sk.hosts[:], scanHLLBits, hh)
	hllAddTo(sk.ports[:], scanHLLBits, ph)
	sk.exact[0].add(hh)
	sk.exact[1].add(ph)
}

// hosts and ports count the distinct targets of the source at aggs[i].
func (t *scanTable) hosts(i int) int64 {
	if t.aggs[i].oneHost {
		return 1
	}
	sk := &t.sketches[i]
	return sk.exact[0].count(sk.hosts[:])
}

func (t *scanTable) ports(i int) int64 {
	if t.aggs[i].onePort {
		return 1
	}
	sk := &t.sketches[i]
	return sk.exact[1].count(sk.ports[:])
}

// ScanInfo is a source the report calls a scanner (the manifest's
// attacks.scans).
type ScanInfo struct {
	Source     string `json:"source"`
	Kind       string `json:"kind"`   // "port scan", "address scan", or both joined by " and "
	Probes     int64  `json:"probes"` // failed attempts counted (at most overcount too high)
	Over       int64  `json:"overcount,omitempty"`
	Hosts      int64  `json:"hosts"`            // distinct hosts probed, estimated
	Ports      int64  `json:"ports"`            // distinct ports probed, estimated
	Target     string `json:"target,omitempty"` // the one host (port scan) or port (address scan) probed
	Unanswered int64  `json:"unanswered"`       // probes that got no packet back
	FirstNs    int64  `json:"first_ns"`
	LastNs     int64  `json:"last_ns"`
}

// scans returns the sources over a threshold, most probes first.
func (s *Summary) scans() []ScanInfo {
	t := &s.scan
	var out []ScanInfo
	for i := range t.aggs {
		a := &t.aggs[i]
		hosts, ports := t.hosts(i), t.ports(i)
		var kinds []string
		if ports >= int64(s.opts.ScanMinPorts) {
			kinds = append(kinds, "port scan")
		}
		if hosts >= int64(s.opts.ScanMinHosts) {
			kinds = append(kinds, "address scan")
		}
		if len(kinds) == 0 {
			continue
		}
		in := ScanInfo{Source: a.src.String(), Kind: strings.Join(kinds, " and "), Probes: a.probes, Over: a.over,
			Hosts: hosts, Ports: ports, Unanswered: a.unanswered, FirstNs: a.firstNs, LastNs: a.lastNs}
		switch {
		case a.oneHost:
			in.Target = a.firstDst.String()
		case a.onePort:
			in.Target = fmt.Sprintf("port %d", a.firstPort)
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b ScanInfo) int {
		return cmp.Or(cmp.Compare(b.Probes, a.Probes), cmp.Compare(a.Source, b.Source))
	})
	return out
}

// scanFindings returns the findings of scanning sources, most probes first.
func (s *Summary) scanFindings() []finding {
	var out []finding
	for i, sc := range s.scans() {
		if i == maxScanFindings {
			break
		}
		what := fmt.Sprintf("about %s distinct ports on %s", fmtInt(sc.Ports), plural(sc.Hosts, "host", "hosts"))
		switch {
		case sc.Target != "" && strings.HasPrefix(sc.Target, "port "):
			what = fmt.Sprintf("about %s distinct hosts on %s", fmtInt(sc.Hosts), sc.Target)
		case sc.Target != "":
			what = fmt.Sprintf("about %s distinct ports of %s", fmtInt(sc.Ports), mdCode(sc.Target))
		}
		rate := ""
		if d := sc.LastNs - sc.FirstNs; d > 0 {
			rate = fmt.Sprintf(", %s per second on average", strconv.FormatFloat(float64(sc.Probes-sc.Over)/(float64(d)/1e9), 'f', 1, 64))
		}
		over := ""
		if sc.Over > 0 {
			over = fmt.Sprintf(" (at most %s too many: it was tracked from a full table)", fmtInt(sc.Over))
		}
		text := fmt.Sprintf("**%s**: %s probed %s between %s and %s: %s failed attempts%s%s, %s of them unanswered. Distinct targets are exact up to 32, HyperLogLog estimates above (standard error 4.6%%). → [Failed connections](#failed-connections)",
			upperFirst(sc.Kind), mdCode(sc.Source), what, fmtTime(sc.FirstNs), fmtTime(sc.LastNs), fmtInt(sc.Probes), over, rate, fmtInt(sc.Unanswered))
		out = append(out, finding{order: -1, affected: sc.Probes, base: max(s.flows, 1), text: text})
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
