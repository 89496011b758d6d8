package analyze

import "testing"

// TestSlabCover: a store indexed by another store's ids keeps each id's
// value at a stable address across slab boundaries, and finds nothing
// beyond the slabs it has.
func TestSlabCover(t *testing.T) {
	var ids slabStore[flow]
	var s slabStore[int64]
	ptrs := map[flowID]*int64{}
	for range 3*storeSlab + 5 {
		id, _ := ids.alloc()
		if s.find(id) != nil && *s.find(id) != 0 {
			t.Fatalf("id %d: a value before it was covered", id)
		}
		p := s.cover(id)
		*p = int64(id)
		ptrs[id] = p
	}
	for id, p := range ptrs {
		if s.find(id) != p || *p != int64(id) {
			t.Fatalf("id %d: moved or changed (%d)", id, *p)
		}
		if k, _ := slabOf(id); len(s.slabs[k]) != len(ids.slabs[k]) {
			t.Fatalf("slab %d: %d values, the id store's %d", k, len(s.slabs[k]), len(ids.slabs[k]))
		}
	}
	if p := s.find(flowID(len(s.slabs)) << (storeShift + 1)); p != nil {
		t.Error("found a value beyond the slabs")
	}
}
