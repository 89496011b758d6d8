package report

import (
	"math"
	"math/bits"
	"slices"
)

// quantileIndex is the 0-based position in n sorted values that DuckDB's
// quantile_disc(x, q) returns: ceil(n*q) - 1, clamped to 0, computed in
// float64 exactly as DuckDB 1.x does (Interpolator<true>: FRN =
// max(1, n - floor(n - n*q)) - 1), so that the floating-point product gives
// the same answer in both. It is the "inverted CDF" definition: the smallest
// value whose share of values at or below it is at least q.
func quantileIndex(n int64, q float64) int64 {
	if n <= 0 {
		return 0
	}
	scaled := float64(n) * q
	frn := n - int64(math.Floor(float64(n)-scaled))
	return max(frn, 1) - 1
}

// Log-linear histogram: values below 16 have a bucket each; above, every
// power of two is cut into 16 equal buckets, so a bucket is at most 1/16 of
// its lower bound wide (HdrHistogram's layout with 4 sub-bucket bits).
const histSubBits = 4

func histBucket(v int64) int {
	if v < 1<<histSubBits {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 1 // >= histSubBits
	sub := int(v>>(e-histSubBits)) & (1<<histSubBits - 1)
	return (e-histSubBits+1)<<histSubBits + sub
}

// histBounds returns the half-open range [lo, hi) of bucket b.
func histBounds(b int) (lo, hi int64) {
	if b < 1<<histSubBits {
		return int64(b), int64(b) + 1
	}
	e := b>>histSubBits + histSubBits - 1
	sub := int64(b & (1<<histSubBits - 1))
	shift := e - histSubBits
	lo = (1<<histSubBits + sub) << shift
	if e == 62 && sub == 1<<histSubBits-1 {
		return lo, math.MaxInt64
	}
	return lo, lo + 1<<shift
}

// dist is a distribution of non-negative int64 values (nanoseconds): exact
// while it holds every value, a log-linear histogram after toHist.
//
// The values are kept in blocks that double up to distBlock values and are
// never copied while values arrive: a growing slice would leave every
// smaller copy behind as garbage, several times the values' own size.
type dist struct {
	n        int64
	min, max int64
	blocks   [][]int64 // every value, while hist == nil
	sorted   bool      // blocks is one block, sorted
	hist     []int64   // counts per histBucket, after toHist
}

// distBlock is the largest block of values: 32 KiB.
const distBlock = 4096

func (d *dist) add(v int64) {
	v = max(v, 0)
	if d.n == 0 || v < d.min {
		d.min = v
	}
	if d.n == 0 || v > d.max {
		d.max = v
	}
	d.n++
	if d.hist != nil {
		d.histAdd(v)
		return
	}
	last := len(d.blocks) - 1
	if last < 0 || len(d.blocks[last]) == cap(d.blocks[last]) {
		d.blocks = append(d.blocks, make([]int64, 0, min(max(d.n, 16), distBlock)))
		last++
	}
	d.blocks[last] = append(d.blocks[last], v)
	d.sorted = false
}

// sortedValues merges the blocks into one sorted block and returns it.
func (d *dist) sortedValues() []int64 {
	if !d.sorted {
		all := make([]int64, 0, d.n)
		for _, b := range d.blocks {
			all = append(all, b...)
		}
		slices.Sort(all)
		d.blocks = [][]int64{all}
		d.sorted = true
	}
	return d.blocks[0]
}

func (d *dist) histAdd(v int64) {
	b := histBucket(v)
	if b >= len(d.hist) {
		d.hist = append(d.hist, make([]int64, b+1-len(d.hist))...)
	}
	d.hist[b]++
}

// exact reports whether the distribution still holds every value.
func (d *dist) exact() bool { return d.hist == nil }

// toHist moves the values into the histogram and frees them.
func (d *dist) toHist() {
	if d.hist != nil {
		return
	}
	d.hist = make([]int64, 0, 64)
	for _, b := range d.blocks {
		for _, v := range b {
			d.histAdd(v)
		}
	}
	d.blocks, d.sorted = nil, false
}

// quantile returns DuckDB's quantile_disc(q) of the values. With a histogram
// it returns the middle of the bucket holding that rank (clamped to the exact
// minimum and maximum) and exact false; the true value is in the same bucket,
// so within 1/32 of the returned value.
func (d *dist) quantile(q float64) (v int64, exact bool) {
	if d.n == 0 {
		return 0, true
	}
	idx := quantileIndex(d.n, q)
	if idx == 0 {
		return d.min, true
	}
	if idx == d.n-1 {
		return d.max, true
	}
	if d.hist == nil {
		return d.sortedValues()[idx], true
	}
	var cum int64
	for b, c := range d.hist {
		cum += c
		if cum > idx {
			lo, hi := histBounds(b)
			if hi-lo == 1 {
				return lo, true
			}
			mid := lo + (hi-lo)/2
			return min(max(mid, d.min), d.max), false
		}
	}
	return d.max, false // not reached: the counts sum to n
}
