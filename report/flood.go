package report

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowproof/flowproof/analyze"
)

// DefaultFloodMinHalfOpen is how many half-open connections one server must
// get, from at least floodMinSources distinct sources, to be reported as
// under a SYN flood.
const DefaultFloodMinHalfOpen = 1000

// floodMinSources keeps a busy server whose one client retries from being
// called flooded: a flood comes from many sources (spoofed or a botnet).
const floodMinSources = 100

// floodAgg is what a tracked server keeps of its half-open connections
// (flows whose originator never completed the handshake: Zeek S0, or S1
// without the originator's final ACK), in bounded memory: their count, the
// distinct sources estimated by a HyperLogLog, their time range, and their
// starts per interval for the peak rate.
type floodAgg struct {
	halfOpen        int64
	firstNs, lastNs int64
	hll             [hllRegisters]uint8
	rate            rateLadder
}

// isHalfOpen reports a TCP flow whose originator never completed the
// handshake.
func isHalfOpen(r *analyze.Record) bool {
	return r.State == "S0" || (r.State == "S1" && !r.RTTHandshake.Valid)
}

// add counts a flow whose source's addrHash is srcHash.
func (f *floodAgg) add(r *analyze.Record, srcHash uint64) {
	if !isHalfOpen(r) {
		return
	}
	if f.halfOpen == 0 || r.TsNs < f.firstNs {
		f.firstNs = r.TsNs
	}
	f.lastNs = max(f.lastNs, r.TsNs)
	f.halfOpen++
	hllAddTo(f.hll[:], hllBits, srcHash)
	f.rate.add(r.TsNs)
}

// hllRegisters is the HyperLogLog's size: a standard error of
// 1.04/sqrt(2048), about 2.3%, for 2 KiB per flooded server.
const (
	hllBits      = 11
	hllRegisters = 1 << hllBits
)

// addrHash mixes an address's bytes into 64 bits, with no per-process
// seed, so that the report is the same on every run.
func addrHash(ip netip.Addr) uint64 {
	b := ip.As16()
	return mix64(binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[8:]))
}

func portHash(p uint16) uint64 { return mix64(uint64(p)*0x9e3779b97f4a7c15 + 1) }

// mix64 is splitmix64's finalizer.
func mix64(h uint64) uint64 {
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	return h ^ h>>31
}

// hllAddTo adds a hashed item to a HyperLogLog of 1<<b registers.
func hllAddTo(regs []uint8, b uint, h uint64) {
	reg := h >> (64 - b)
	rank := uint8(bits.LeadingZeros64(h<<b|1<<(b-1)) + 1)
	regs[reg] = max(regs[reg], rank)
}

// sources estimates the distinct sources.
func (f *floodAgg) sources() int64 { return hllEstimate(f.hll[:]) }

// hllEstimate is the HyperLogLog estimate, with linear counting while
// registers are empty.
func hllEstimate(regs []uint8) int64 {
	var sum float64
	zeros := 0
	for _, r := range regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	m := float64(len(regs))
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return int64(math.Round(e))
}

// rateLadder counts events per interval of a width that doubles (from 1 s)
// whenever more than rateMaxBuckets intervals would be kept: the peak rate
// is exact per second for captures up to rateMaxBuckets seconds.
type rateLadder struct {
	width   int64
	buckets map[int64]int64
	// Events of interval last not yet added to buckets, which holds it
	// already (so the intervals kept, and when they merge, are as if
	// counted at once): a flood's flows mostly fall in the last interval.
	last    int64
	lastOK  bool
	pending int64
}

const rateMaxBuckets = 4096

func (l *rateLadder) add(tsNs int64) {
	if l.buckets == nil {
		l.width, l.buckets = 1e9, map[int64]int64{}
	}
	k := floorDiv(tsNs, l.width)
	if l.lastOK && k == l.last {
		l.pending++
		return
	}
	l.flush()
	l.buckets[k]++
	for len(l.buckets) > rateMaxBuckets {
		l.width *= 2
		merged := make(map[int64]int64, len(l.buckets)/2+1)
		for k, n := range l.buckets {
			merged[floorDiv(k, 2)] += n
		}
		l.buckets = merged
	}
	l.last, l.lastOK = floorDiv(tsNs, l.width), true // counted: present in buckets
}

// flush adds the pending events to their interval.
func (l *rateLadder) flush() {
	if l.pending > 0 {
		l.buckets[l.last] += l.pending
		l.pending = 0
	}
}

// peak returns the largest count in one interval and the interval's width.
func (l *rateLadder) peak() (n int64, widthNs int64) {
	l.flush()
	for _, c := range l.buckets {
		n = max(n, c)
	}
	return n, l.width
}

// FloodInfo is a server the report calls under a SYN flood (the manifest's
// attacks.floods).
type FloodInfo struct {
	Server    string `json:"server"`    // ip:port
	HalfOpen  int64  `json:"half_open"` // half-open connections to it
	Sources   int64  `json:"sources"`   // their distinct sources, a HyperLogLog estimate
	Completed int64  `json:"completed"` // connections to it that completed the handshake
	FirstNs   int64  `json:"first_ns"`
	LastNs    int64  `json:"last_ns"`
	Peak      int64  `json:"peak"`          // most half-open connections started in one interval
	PeakNs    int64  `json:"peak_width_ns"` // that interval's width (1 s unless the flood lasted longer than 4,096 s)
}

// floods returns the servers under a SYN flood, most half-open connections
// first (ties: by address and port).
func (s *Summary) floods() []FloodInfo {
	type hit struct {
		key serverKey
		agg *floodAgg
		srv *serverAgg
	}
	var hits []hit
	for k, a := range s.servers {
		if f := a.flood; f != nil && f.halfOpen >= s.opts.FloodMinHalfOpen && f.sources() >= floodMinSources {
			hits = append(hits, hit{k, f, a})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.agg.halfOpen != b.agg.halfOpen {
			return int(b.agg.halfOpen - a.agg.halfOpen)
		}
		return strings.Compare(netip.AddrPortFrom(a.key.addr, a.key.port).String(), netip.AddrPortFrom(b.key.addr, b.key.port).String())
	})
	out := make([]FloodInfo, 0, len(hits))
	for _, h := range hits {
		f := h.agg
		peak, width := f.rate.peak()
		out = append(out, FloodInfo{Server: netip.AddrPortFrom(h.key.addr, h.key.port).String(), HalfOpen: f.halfOpen, Sources: f.sources(),
			Completed: h.srv.completed, FirstNs: f.firstNs, LastNs: f.lastNs, Peak: peak, PeakNs: width})
	}
	return out
}

// floodFindings returns the findings of servers under a SYN flood, worst
// first.
func (s *Summary) floodFindings() []finding {
	var out []finding
	for i, f := range s.floods() {
		if i == maxFloodFindings {
			break
		}
		text := fmt.Sprintf("**SYN flood**: %s half-open connections to %s from about %s distinct sources (a HyperLogLog estimate, standard error 2.3%%) between %s and %s, at most %s in %s; %s completed the handshake in the whole capture. Half-open: the originator never completed the handshake (state S0, or S1 without its ACK). → [Failed connections](#failed-connections)",
			fmtInt(f.HalfOpen), mdCode(f.Server), fmtInt(f.Sources), fmtTime(f.FirstNs), fmtTime(f.LastNs),
			fmtInt(f.Peak), ifElse(f.PeakNs == 1e9, "one second", fmtDuration(f.PeakNs)), plural(f.Completed, "connection to it", "connections to it"))
		out = append(out, finding{order: -1, affected: f.HalfOpen, base: s.tcp.flows, text: text})
	}
	return out
}

// Attacks are the SYN floods and scans the report found, for the manifest
// (nil when none): a batch job can act on them without parsing report.md.
type Attacks struct {
	Floods []FloodInfo `json:"floods,omitempty"`
	Scans  []ScanInfo  `json:"scans,omitempty"`
}

// Attacks returns what the findings' flood and scan rules found, every
// one of them (the report lists the first few).
func (s *Summary) Attacks() *Attacks {
	a := &Attacks{Floods: s.floods(), Scans: s.scans()}
	if len(a.Floods) == 0 && len(a.Scans) == 0 {
		return nil
	}
	return a
}

// maxFloodFindings bounds the flood findings listed.
const maxFloodFindings = 3
