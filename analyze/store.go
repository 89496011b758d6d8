package analyze

import (
	"math/bits"
	"unsafe"

	"github.com/flowproof/flowproof/internal/prefault"
)

// The flow store keeps live flows in slabs addressed by 32-bit ids. A flow
// (the hot part: key, times, counters, state bits) holds no Go pointers, so
// the slabs are never scanned by the collector, however many flows are
// live; the links between flows (expiry lists, index chains, twins) are
// ids. What only some flows need lives apart and is allocated for those
// alone: the TCP state (tcpConn, from a TCP flow's second packet, see
// setPending), vantage state (Table.vant), L7 state (l7Hook), and
// counters past 2^32 (Table.wide).

// flowID addresses a flow in a flowStore; noFlow is none.
type flowID uint32

const noFlow flowID = 0

// storeShift sets the values per slab: 4096 (of flows, about 590 KiB). The
// first slabs are smaller, 8, 8, 16, 32, ... 2048 values, so that a capture
// of a few flows does not clear room for thousands (the public corpus is
// 1,323 small captures).
const (
	storeShift = 12
	storeSlab  = 1 << storeShift
	storeMask  = storeSlab - 1
	firstSlab  = 8
	smallSlabs = storeShift - 2 // slabs below id storeSlab: [0,8), [8,16), ... [2048,4096)
)

// slabStore hands out ids of T values kept in slabs that never move: a
// pointer from at stays valid while the store lives. Ids of released
// values are reused, last released first.
type slabStore[T any] struct {
	slabs [][]T
	free  []flowID
	next  flowID // the lowest id never handed out
}

// slabOf returns the slab holding id and id's place in it.
func slabOf(id flowID) (slab int, off uint32) {
	switch {
	case id >= storeSlab:
		return int(id>>storeShift) + smallSlabs - 1, uint32(id) & storeMask
	case id < firstSlab:
		return 0, uint32(id)
	}
	n := bits.Len32(uint32(id))
	return n - 3, uint32(id) &^ (1 << (n - 1))
}

func (s *slabStore[T]) at(id flowID) *T {
	k, off := slabOf(id)
	return &s.slabs[k][off]
}

// alloc returns the id of a zeroed value, or of a released one (reset is
// the caller's).
func (s *slabStore[T]) alloc() (id flowID, reused bool) {
	if n := len(s.free); n > 0 {
		id, s.free = s.free[n-1], s.free[:n-1]
		return id, true
	}
	if s.next == noFlow {
		s.next = 1 // id 0 is noFlow
	}
	if k, _ := slabOf(s.next); k == len(s.slabs) {
		s.slabs = append(s.slabs, newSlab[T](k))
	}
	id = s.next
	s.next++
	return id, false
}

// newSlab makes slab k. Its pages are backed at once (prefault): a slab
// is filled soon, and a page fault per 4 KiB of it was most of the cost of
// a new flow on a SYN flood.
func newSlab[T any](k int) []T {
	s := make([]T, slabSize(k))
	prefault.Write(unsafe.Pointer(unsafe.SliceData(s)), uintptr(len(s))*unsafe.Sizeof(s[0]))
	return s
}

// slabSize is the number of values slab k holds.
func slabSize(k int) int {
	if k < smallSlabs {
		return max(firstSlab, 1<<(k+2))
	}
	return storeSlab
}

// cover returns the value of id in a store that is indexed by the ids of
// another (its own alloc unused), adding the slabs up to id's.
func (s *slabStore[T]) cover(id flowID) *T {
	k, off := slabOf(id)
	for len(s.slabs) <= k {
		s.slabs = append(s.slabs, newSlab[T](len(s.slabs)))
	}
	return &s.slabs[k][off]
}

// find returns the value of id, or nil when cover never made room for it.
func (s *slabStore[T]) find(id flowID) *T {
	k, off := slabOf(id)
	if k >= len(s.slabs) {
		return nil
	}
	return &s.slabs[k][off]
}

func (s *slabStore[T]) release(id flowID) { s.free = append(s.free, id) }

// reset lets go of every slab.
func (s *slabStore[T]) reset() { *s = slabStore[T]{} }

type flowStore = slabStore[flow]
