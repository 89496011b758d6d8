package analyze

import (
	"net/netip"
	"testing"
)

// newTestIndex returns an index over a store of n flows whose keys key(i)
// gives, flow i+1 holding key(i), none of them in the index yet.
func newTestIndex(n int, key func(i int) flowKey) (*flowIndex, *flowStore) {
	s := new(flowStore)
	x := newFlowIndex(s)
	for i := range n {
		id, _ := s.alloc()
		s.at(id).key = key(i)
	}
	return x, s
}

// TestFlowIndex: put, get, replace and remove across growth, with a
// degenerate seed-independent check that every key is found exactly once.
func TestFlowIndex(t *testing.T) {
	const n = 5000
	x, s := newTestIndex(n+n/4, func(i int) flowKey {
		k := flowKey{loPort: uint16(i), hiPort: 80, vlan: -1, proto: 6}
		k.lo[15], k.hi[15] = byte(i), byte(i>>8)
		return k
	})
	ids := make([]flowID, n)
	for i := range n {
		ids[i] = flowID(i + 1)
		x.put(ids[i], x.hash(&s.at(ids[i]).key))
	}
	if len(x.buckets) < n {
		t.Fatalf("index did not grow: %d buckets for %d flows", len(x.buckets), x.n)
	}
	for i, id := range ids {
		k := s.at(id).key
		if g := x.get(&k, x.hash(&k)); g != id {
			t.Fatalf("flow %d not found", i)
		}
	}
	for i := 0; i < n; i += 2 {
		x.remove(ids[i])
	}
	for i := 1; i < n; i += 4 {
		g := flowID(n + 1 + i/4)
		s.at(g).key = s.at(ids[i]).key // a flow of the same key
		x.replace(ids[i], g)
		ids[i] = g
	}
	for i, id := range ids {
		k := s.at(id).key
		got := x.get(&k, x.hash(&k))
		if i%2 == 0 && got != noFlow || i%2 == 1 && got != id {
			t.Fatalf("flow %d: got %d, want %d (removed: %v)", i, got, id, i%2 == 0)
		}
	}
	if x.n != n/2 {
		t.Errorf("n = %d, want %d", x.n, n/2)
	}
}

// TestFlowIndexSpread: keys that differ only in a port or the last address
// byte (what a scan or a busy client gives) spread over the buckets: no
// chain is much longer than a uniform hash would make it.
func TestFlowIndexSpread(t *testing.T) {
	const n = 1 << 16
	x, s := newTestIndex(n, func(i int) flowKey {
		k := flowKey{loPort: uint16(i), hiPort: 443, vlan: -1, proto: 6}
		k.lo = netip.AddrFrom4([4]byte{10, 0, 0, byte(i >> 12)}).As16()
		k.hi = netip.AddrFrom4([4]byte{10, 0, 1, 1}).As16()
		return k
	})
	for id := flowID(1); id <= n; id++ {
		x.put(id, x.hash(&s.at(id).key))
	}
	longest := 0
	for _, id := range x.buckets {
		l := 0
		for ; id != noFlow; id = s.at(id).nextInBucket {
			l++
		}
		longest = max(longest, l)
	}
	// With n keys in n buckets the longest chain of a uniform hash is about
	// ln n / ln ln n, 4-5 here; 12 would be far out.
	if longest > 12 {
		t.Errorf("longest chain %d for %d keys in %d buckets", longest, n, len(x.buckets))
	}
}
