package report

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flowproof/flowproof/analyze"
)

// TestQuantileIndex: DuckDB 1.5's quantile_disc positions (measured with
// DuckDB: SELECT quantile_disc(i, q) FROM range(n) t(i)).
func TestQuantileIndex(t *testing.T) {
	for _, c := range []struct {
		n             int64
		p50, p90, p99 int64
		p999          int64
	}{
		{1, 0, 0, 0, 0}, {2, 0, 1, 1, 1}, {3, 1, 2, 2, 2}, {4, 1, 3, 3, 3}, {5, 2, 4, 4, 4},
		{9, 4, 8, 8, 8}, {10, 4, 8, 9, 9}, {11, 5, 9, 10, 10}, {99, 49, 89, 98, 98},
		{100, 49, 89, 98, 99}, {101, 50, 90, 99, 100}, {1000, 499, 899, 989, 998},
	} {
		got := []int64{quantileIndex(c.n, 0.5), quantileIndex(c.n, 0.9), quantileIndex(c.n, 0.99), quantileIndex(c.n, 0.999)}
		want := []int64{c.p50, c.p90, c.p99, c.p999}
		if !slices.Equal(got, want) {
			t.Errorf("n=%d: %v, want %v", c.n, got, want)
		}
	}
}

func TestHistBuckets(t *testing.T) {
	prevHi := int64(0)
	for b := 0; b < 960; b++ {
		lo, hi := histBounds(b)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d = [%d, %d), previous ended at %d", b, lo, hi, prevHi)
		}
		if lo >= 16 && float64(hi-lo) > float64(lo)/16 {
			t.Fatalf("bucket %d = [%d, %d) wider than 1/16 of its start", b, lo, hi)
		}
		for _, v := range []int64{lo, hi - 1, lo + (hi-lo)/2} {
			if histBucket(v) != b {
				t.Fatalf("histBucket(%d) = %d, want %d", v, histBucket(v), b)
			}
		}
		prevHi = hi
		if hi == math.MaxInt64 {
			return
		}
	}
	t.Fatal("the buckets do not reach MaxInt64")
}

// TestDistHistogramWithinBound: percentiles from the histogram are within
// 1/32 of the exact ones, and min and max stay exact.
func TestDistHistogramWithinBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var exact, approx dist
	for range 100_000 {
		v := int64(math.Exp(r.NormFloat64()*2 + 13)) // log-normal around 0.4 ms
		exact.add(v)
		approx.add(v)
	}
	approx.toHist()
	if approx.blocks != nil || approx.exact() {
		t.Fatal("toHist kept the values")
	}
	for _, q := range []float64{0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
		e, ok := exact.quantile(q)
		if !ok {
			t.Fatal("exact distribution says approximate")
		}
		a, _ := approx.quantile(q)
		if math.Abs(float64(a-e)) > float64(e)/32+1 {
			t.Errorf("q=%v: histogram %d, exact %d", q, a, e)
		}
	}
	if m, ok := approx.quantile(1); !ok || m != exact.max {
		t.Errorf("max %d (exact %v), want %d", m, ok, exact.max)
	}
}

func TestTopK(t *testing.T) {
	k := topK{k: 3}
	for i, c := range []struct {
		id  string
		key int64
	}{{"1-5", 10}, {"1-3", 30}, {"1-9", 10}, {"1-10", 10}, {"1-1", 5}, {"1-2", 30}} {
		_ = i
		k.add(&analyze.Record{FlowID: c.id}, c.key)
	}
	var ids []string
	for _, f := range k.items {
		ids = append(ids, f.FlowID)
	}
	// Highest key first, ties by flow_id as bytes ("1-10" < "1-5").
	if want := []string{"1-2", "1-3", "1-10"}; !slices.Equal(ids, want) {
		t.Errorf("top 3 = %v, want %v", ids, want)
	}
}

// TestTimelineWidth: the interval width is the smallest of the ladder that
// covers the start times in at most maxIntervals intervals, whatever the
// order the flows arrive in.
func TestTimelineWidth(t *testing.T) {
	const t0 = int64(1_700_000_000_000_000_000)
	for _, c := range []struct {
		span  int64
		width int64
	}{{0, 1e6}, {59e6, 1e6}, {60e6, 1e7}, {3e9, 1e8}, {59e9, 1e9}, {61e9, 1e10}, {3500e9, 60e9}, {3600e9 * 2, 600e9}, {30 * 86400e9, 86400e9}, {40 * 365 * 86400e9, 7 * 86400e9 * 100}} {
		for _, order := range []string{"forward", "backward"} {
			var tl timeline
			ts := []int64{t0, t0 + c.span/3, t0 + c.span}
			if order == "backward" {
				slices.Reverse(ts)
			}
			for i, x := range ts {
				tl.add(x, 1, i != 1)
			}
			if tl.width != c.width {
				t.Errorf("span %d %s: width %d, want %d", c.span, order, tl.width, c.width)
			}
			var flows, half int64
			for _, v := range tl.buckets {
				flows += v.flows
				half += v.halfOpen
			}
			if flows != 3 || half != 2 || tl.halfOpen != 2 || tl.hi-tl.lo >= maxIntervals {
				t.Errorf("span %d: %d flows (%d half-open) in %d intervals", c.span, flows, half, tl.hi-tl.lo+1)
			}
		}
	}
	var tl timeline // a bogus epoch-0 timestamp next to a real one
	tl.add(0, 1, false)
	tl.add(t0, 1, false)
	if tl.hi-tl.lo >= maxIntervals {
		t.Errorf("%d intervals", tl.hi-tl.lo+1)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtInt(0), "0"}, {fmtInt(999), "999"}, {fmtInt(1000), "1,000"}, {fmtInt(-1234567), "-1,234,567"},
		{fmtMs(1_500_000), "1.500"}, {fmtMs(499), "0.000"}, {fmtMs(500), "0.001"}, {fmtMs(1_234_567_890), "1,234.568"},
		{fmtTime(1_700_000_000_500_000_000), "2023-11-14T22:13:20.5Z"},
		{fmtDuration(12_345_678), "12.346ms"}, {fmtDuration(61_500_000_000), "1m2s"}, {fmtDuration(6 * 3600e9), "6h"},
		{fmtDuration(70 * 86400e9), "70d"}, {fmtDuration(1059*86400e9 + 3600e9 + 5e9), "1059d1h5s"},
		{fmtSize(999), "999 B"}, {fmtSize(1_234_567), "1.23 MB"},
		{fmtShare(1, 3), "33.3%"}, {fmtShare(1, 100_000), "<0.1%"}, {fmtShare(0, 5), "0.0%"},
		{mdText("a|b*c_<x>"), `a\|b\*c\_\<x\>`},
		{shellQuote([]string{"flowproof", "analyze", "-o", "my out", "it's.pcap"}), `flowproof analyze -o 'my out' 'it'\''s.pcap'`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestDistExactAcrossBlocks: exact quantiles equal those of the sorted
// values, with values spread over many blocks and added again after a
// quantile was asked for.
func TestDistExactAcrossBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var d dist
	var all []int64
	for _, n := range []int{1, 15, 17, 5000, 20_000} {
		for range n {
			v := r.Int64N(1e9)
			d.add(v)
			all = append(all, v)
		}
		sorted := slices.Sorted(slices.Values(all))
		for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.999, 1} {
			got, exact := d.quantile(q)
			if want := sorted[quantileIndex(int64(len(all)), q)]; got != want || !exact {
				t.Fatalf("after %d values, quantile(%v) = %d (exact %v), want %d", len(all), q, got, exact, want)
			}
		}
	}
	for _, b := range d.blocks[1:] {
		if cap(b) > distBlock {
			t.Fatalf("a block of %d values, more than %d", cap(b), distBlock)
		}
	}
}

// TestFirstN: firstN is sorting and keeping n.
func TestFirstN(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, size := range []int{0, 1, 5, 10, 11, 100, 5000} {
		v := make([]int, size)
		for i := range v {
			v[i] = rng.IntN(1 << 30)
		}
		for _, n := range []int{0, 1, 3, 10, 20} {
			want := slices.Sorted(slices.Values(v))
			want = want[:min(n, len(want))]
			if got := firstN(v, n, cmp.Compare[int]); !slices.Equal(got, want) {
				t.Errorf("firstN(%d values, %d) = %v, want %v", size, n, got, want)
			}
		}
	}
}
