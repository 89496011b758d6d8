package analyze

// The flow store keeps live flows in slabs addressed by 32-bit ids. A flow
// (the hot part: key, times, counters, state bits) holds no Go pointers, so
// the slabs are never scanned by the collector, however many flows are
// live; the links between flows (expiry lists, index chains, twins) are
// ids. What only some flows need lives apart and is allocated for those
// alone: the TCP state (tcpConn, from a TCP flow's second packet, see
// pendingPacket), vantage state (Table.vant), L7 state (l7Hook), and
// counters past 2^32 (Table.wide).

// flowID addresses a flow in a flowStore; noFlow is none.
type flowID uint32

const noFlow flowID = 0

// storeShift sets the flows per slab: 4096, about 590 KiB. A slab is
// allocated whole but its pages are touched only as flows fill it.
const (
	storeShift = 12
	storeSlab  = 1 << storeShift
	storeMask  = storeSlab - 1
)

// slabStore hands out ids of T values kept in slabs that never move: a
// pointer from at stays valid while the store lives. Ids of released
// values are reused, last released first.
type slabStore[T any] struct {
	slabs [][]T
	free  []flowID
	next  flowID // the lowest id never handed out
}

func (s *slabStore[T]) at(id flowID) *T {
	return &s.slabs[id>>storeShift][id&storeMask]
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
	if int(s.next>>storeShift) == len(s.slabs) {
		s.slabs = append(s.slabs, make([]T, storeSlab))
	}
	id = s.next
	s.next++
	return id, false
}

func (s *slabStore[T]) release(id flowID) { s.free = append(s.free, id) }

// reset lets go of every slab.
func (s *slabStore[T]) reset() { *s = slabStore[T]{} }

type flowStore = slabStore[flow]
