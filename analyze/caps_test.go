package analyze

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"unsafe"
)

// handshake opens a connection: client ISN 100, server ISN 500.
func handshake() []Decoded {
	return []Decoded{
		pkt(KindTCP, 0, true, flagSYN, 100, 0, 0),
		pkt(KindTCP, 1e6, false, flagSYN|flagACK, 500, 101, 0),
		pkt(KindTCP, 2e6, true, flagACK, 101, 501, 0),
	}
}

func oneFlow(t *testing.T, pkts []Decoded) Record {
	t.Helper()
	recs, _ := collect(Config{}, pkts)
	if len(recs) != 1 {
		t.Fatalf("%d flows, want 1", len(recs))
	}
	return recs[0]
}

// TestUnackedCap: only the first maxUnacked segments in flight are
// remembered, so only they give RTT samples.
func TestUnackedCap(t *testing.T) {
	const segs, size = maxUnacked + 44, 10
	pkts := handshake()
	ts := int64(10e6)
	for i := range segs {
		pkts = append(pkts, pkt(KindTCP, ts, true, flagACK, 101+uint32(i*size), 501, size))
		ts += 1e3
	}
	for i := range segs {
		pkts = append(pkts, pkt(KindTCP, ts, false, flagACK, 501, 101+uint32((i+1)*size), 0))
		ts += 1e3
	}
	if got := oneFlow(t, pkts).OrigRTT.Samples; got != maxUnacked {
		t.Fatalf("%d RTT samples from %d segments each acknowledged, want the cap %d", got, segs, maxUnacked)
	}
}

// TestSampleReservoir: past maxSamples, count, min and max stay exact and
// the median comes from a uniform reservoir: close to the true median, and
// the same on every run.
func TestSampleReservoir(t *testing.T) {
	const n = 3 * maxSamples
	pkts := handshake()
	ts := int64(10e6)
	for i := range n {
		seq := 101 + uint32(i)
		pkts = append(pkts, pkt(KindTCP, ts, true, flagACK, seq, 501, 1))
		rtt := int64(1000 + (i*7919)%n) // every value in [1000, 1000+n) once, shuffled
		pkts = append(pkts, pkt(KindTCP, ts+rtt, false, flagACK, 501, seq+1, 0))
		ts += 1e6
	}
	r := oneFlow(t, pkts).OrigRTT
	if r.Samples != n || r.MinNs != 1000 || r.MaxNs != 1000+n-1 {
		t.Fatalf("samples %d min %d max %d, want %d, 1000, %d", r.Samples, r.MinNs, r.MaxNs, n, 1000+n-1)
	}
	trueMedian := int64(1000 + (n-1)/2)
	if d := r.P50Ns - trueMedian; d < -n/20 || d > n/20 {
		t.Fatalf("reservoir median %d, true median %d: off by more than 5%% of the range", r.P50Ns, trueMedian)
	}
	if again := oneFlow(t, pkts).OrigRTT; again != r {
		t.Fatalf("second run %+v, first %+v", again, r)
	}
}

// TestRTTAccFew: one sample is kept only as min and max; from the second on
// the samples are stored, the first included. Negative samples (capture
// time going backwards) are kept as they are.
func TestRTTAccFew(t *testing.T) {
	for _, c := range []struct {
		name    string
		samples []int64
		want    RTTStats
	}{
		{"none", nil, RTTStats{}},
		{"one", []int64{7}, RTTStats{Samples: 1, MinNs: 7, MaxNs: 7, P50Ns: 7}},
		{"one negative", []int64{-5}, RTTStats{Samples: 1, MinNs: -5, MaxNs: -5, P50Ns: -5}},
		{"two: the lower middle", []int64{9, 3}, RTTStats{Samples: 2, MinNs: 3, MaxNs: 9, P50Ns: 3}},
		{"three", []int64{5, 1, 9}, RTTStats{Samples: 3, MinNs: 1, MaxNs: 9, P50Ns: 5}},
		{"first is the median", []int64{4, 8, 2, 6, 1}, RTTStats{Samples: 5, MinNs: 1, MaxNs: 8, P50Ns: 4}},
	} {
		var a rttAcc
		for _, v := range c.samples {
			a.add(v)
		}
		if got := a.stats(); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestNth: nth gives the value slices.Sort puts at each index, for slices
// of random, repeated, sorted, reversed, equal and organ-pipe values, with
// its own budget of partitions and with budgets so small that the sort
// after them runs.
func TestNth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]func(n int) []int64{
		"random": func(n int) []int64 {
			s := make([]int64, n)
			for i := range s {
				s[i] = rng.Int64N(1e9) - 5e8
			}
			return s
		},
		"repeated": func(n int) []int64 {
			s := make([]int64, n)
			for i := range s {
				s[i] = rng.Int64N(4)
			}
			return s
		},
		"sorted": func(n int) []int64 {
			s := make([]int64, n)
			for i := range s {
				s[i] = int64(i)
			}
			return s
		},
		"reversed": func(n int) []int64 {
			s := make([]int64, n)
			for i := range s {
				s[i] = int64(n - i)
			}
			return s
		},
		"equal": func(n int) []int64 { return make([]int64, n) },
		"organ pipe": func(n int) []int64 {
			s := make([]int64, n)
			for i := range s {
				s[i] = int64(min(i, n-i))
			}
			return s
		},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			for n := 1; n <= 70; n++ {
				in := shape(n)
				want := slices.Clone(in)
				slices.Sort(want)
				for k := range n {
					// Rounds -1: nth's own budget; 0 to 2: the sort after
					// so many partitions.
					for rounds := -1; rounds <= 2; rounds++ {
						s := slices.Clone(in)
						var got int64
						if rounds < 0 {
							got = nth(s, k)
						} else {
							got = nthRounds(s, k, rounds)
						}
						if got != want[k] {
							t.Fatalf("n=%d k=%d rounds=%d: %d, want %d (input %v)", n, k, rounds, got, want[k], in)
						}
						slices.Sort(s)
						if !slices.Equal(s, want) {
							t.Fatalf("n=%d k=%d rounds=%d: values lost or added", n, k, rounds)
						}
					}
				}
			}
		})
	}
}

// TestHolesCap: up to maxHoles holes are counted exactly; past it the two
// closest merge, and the captured bytes between them count as missed too.
func TestHolesCap(t *testing.T) {
	for _, c := range []struct {
		holes int
		want  int64
	}{
		{maxHoles, maxHoles * 10},
		// Four merges, each of two holes 10 bytes apart.
		{maxHoles + 4, (maxHoles+4)*10 + 4*10},
	} {
		pkts := handshake()
		seq := uint32(101)
		for i := range c.holes + 1 { // a hole between each two segments
			pkts = append(pkts, pkt(KindTCP, int64(10e6+i*1e3), true, flagACK, seq, 501, 10))
			seq += 20 // 10 bytes sent, 10 never captured
		}
		if got := oneFlow(t, pkts).MissedBytes; got != c.want {
			t.Errorf("%d holes: missed_bytes %d, want %d", c.holes, got, c.want)
		}
	}
}

// TestHistoryCap: the history string stops at maxHistory letters.
func TestHistoryCap(t *testing.T) {
	pkts := handshake()
	for i := range 2 * maxHistory {
		// Every FIN ends at a new sequence number, so each one is a letter.
		pkts = append(pkts, pkt(KindTCP, int64(10e6+i*1e3), true, flagFIN|flagACK, 101+uint32(i), 501, 1))
	}
	if h := oneFlow(t, pkts).History; len(h) != maxHistory {
		t.Fatalf("history %q has %d letters, want %d", h, len(h), maxHistory)
	}
}

// TestReusedStateIsClean: a finished flow's memory is reused for the next
// one; nothing of the first (retransmissions, holes, samples, history)
// shows in the second.
func TestReusedStateIsClean(t *testing.T) {
	pkts := handshake()
	pkts = append(pkts,
		pkt(KindTCP, 10e6, true, flagACK, 101, 501, 10),
		pkt(KindTCP, 11e6, true, flagACK, 121, 501, 10), // a hole of 10
		pkt(KindTCP, 20e6, true, flagACK, 101, 501, 10), // a retransmission
		pkt(KindTCP, 22e6, true, flagACK, 131, 501, 10),
		pkt(KindTCP, 23e6, false, flagACK, 501, 141, 0), // an RTT sample
		pkt(KindTCP, 24e6, true, flagRST, 141, 0, 0),
	)
	clean := handshake()
	for i := range clean {
		clean[i].TsNs += 100e9 // long after the first flow ended
		clean[i].SrcPort, clean[i].DstPort = clean[i].DstPort, clean[i].SrcPort
	}
	recs, _ := collect(Config{}, append(pkts, clean...))
	if len(recs) != 2 {
		t.Fatalf("%d flows, want 2", len(recs))
	}
	first, second := recs[0], recs[1]
	if first.OrigRetransPkts != 1 || first.MissedBytes != 10 || first.OrigRTT.Samples != 1 {
		t.Fatalf("first flow: retrans %d missed %d samples %d, want 1, 10, 1", first.OrigRetransPkts, first.MissedBytes, first.OrigRTT.Samples)
	}
	want := oneFlow(t, clean)
	want.FlowID = second.FlowID
	if second != want {
		t.Fatalf("the second flow, after reuse:\n%+v\nthe same flow alone:\n%+v", second, want)
	}
}

// TestFlowSize: the per-flow memory the table is designed for (see flow and
// tcpDir): the hot part is multiplied by the live flows, 2,000,000 in the
// SYN flood of testdata/bench/flood, the TCP state by those with a second
// packet.
func TestFlowSize(t *testing.T) {
	if got := unsafe.Sizeof(flow{}); got > 144 {
		t.Errorf("flow is %d bytes, more than 144", got)
	}
	if got := unsafe.Sizeof(tcpConn{}); got > 416 {
		t.Errorf("tcpConn is %d bytes, more than 416", got)
	}
}

// TestFlowHasNoPointers: the flow slabs, the index slots and the list
// links hold no Go pointers, so that the collector never scans them (a
// pointer added to flow would make every slab a scanned object again).
func TestFlowHasNoPointers(t *testing.T) {
	var hasPointers func(reflect.Type) bool
	hasPointers = func(tp reflect.Type) bool {
		switch tp.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func,
			reflect.Interface, reflect.String, reflect.UnsafePointer:
			return true
		case reflect.Array:
			return hasPointers(tp.Elem())
		case reflect.Struct:
			for i := range tp.NumField() {
				if hasPointers(tp.Field(i).Type) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range []any{flow{}, flowList{}, flowIndex{}.slots} {
		tp := reflect.TypeOf(v)
		if tp.Kind() == reflect.Slice {
			tp = tp.Elem()
		}
		if hasPointers(tp) {
			t.Errorf("%v holds pointers", tp)
		}
	}
}

// TestSlabStore: ids start at 1 (0 is noFlow), values stay where they are
// while slabs are added, and released ids are reused.
func TestSlabStore(t *testing.T) {
	var s slabStore[flow]
	var ptrs []*flow
	for n := 1; n < 3*storeSlab; n++ {
		id, reused := s.alloc()
		if reused || id != flowID(n) {
			t.Fatalf("alloc %d: id %d reused %v", n, id, reused)
		}
		f := s.at(id)
		f.firstIndex = int64(n)
		ptrs = append(ptrs, f)
	}
	for i, f := range ptrs {
		if s.at(flowID(i+1)) != f || f.firstIndex != int64(i+1) {
			t.Fatalf("flow %d moved or changed", i+1)
		}
	}
	s.release(7)
	s.release(9)
	if id, reused := s.alloc(); id != 9 || !reused {
		t.Errorf("after releasing 7 and 9: alloc gave %d (reused %v), want 9", id, reused)
	}
	if want := smallSlabs + 2; len(s.slabs) != want {
		t.Errorf("%d slabs for %d flows, want %d", len(s.slabs), 3*storeSlab-1, want)
	}
	for k, slab := range s.slabs {
		first := flowID(0)
		if k > 0 {
			first = flowID(1) << (k + 2)
		}
		if k >= smallSlabs {
			first = flowID(k-smallSlabs+1) << storeShift
		}
		if s.at(first) != &slab[0] || s.at(first+flowID(len(slab)-1)) != &slab[len(slab)-1] {
			t.Errorf("slab %d (%d values) does not start at id %d", k, len(slab), first)
		}
	}
}

// TestWideCounters: counters past 32 bits move beside the flow and keep
// counting exactly, for TCP (with a first packet waiting for its TCP state)
// and UDP, in both directions; a flow that never passes them stays narrow.
func TestWideCounters(t *testing.T) {
	const big = 1<<31 + 12345 // two of these pass 2^32
	tests := []struct {
		name string
		pkts []Decoded
	}{
		{"tcp", []Decoded{
			pkt(KindTCP, 0, true, flagSYN, 100, 0, big),
			pkt(KindTCP, 1e6, false, flagSYN|flagACK, 500, 101, 7),
			pkt(KindTCP, 2e6, true, flagACK, 101, 508, big),
			pkt(KindTCP, 3e6, true, flagACK, 101+big, 508, 1),
		}},
		{"udp", []Decoded{
			pkt(KindUDP, 0, true, 0, 0, 0, big),
			pkt(KindUDP, 1e6, false, 0, 0, 0, big),
			pkt(KindUDP, 2e6, false, 0, 0, 0, big),
			pkt(KindUDP, 3e6, true, 0, 0, 0, 3),
		}},
		{"narrow", []Decoded{
			pkt(KindUDP, 0, true, 0, 0, 0, 1<<31),
			pkt(KindUDP, 1e6, true, 0, 0, 0, 1<<31-200),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want [2]wideCount
			for _, d := range tc.pkts {
				dir := 0
				if d.Src != tc.pkts[0].Src {
					dir = 1
				}
				want[dir].pkts++
				want[dir].bytes += d.Payload
				want[dir].ipBytes += d.IPLen
				want[dir].wireBytes += d.WireLen
			}
			recs, tbl := collect(Config{}, tc.pkts)
			if len(recs) != 1 {
				t.Fatalf("%d flows, want 1", len(recs))
			}
			r := recs[0]
			got := [2]wideCount{{r.OrigPkts, r.OrigBytes, r.OrigIPBytes, r.OrigWireBytes},
				{r.RespPkts, r.RespBytes, r.RespIPBytes, r.RespWireBytes}}
			if got != want {
				t.Errorf("counts %+v, want %+v", got, want)
			}
			if len(tbl.wide) != 0 {
				t.Errorf("%d wide counters left after the flow ended", len(tbl.wide))
			}
		})
	}
}
