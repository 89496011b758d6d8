package analyze

import (
	"net/netip"
	"testing"
	"unsafe"
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
	if len(x.slots) < n {
		t.Fatalf("index did not grow: %d slots for %d flows", len(x.slots), x.n)
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
// byte (what a scan or a busy client gives) spread over the slots: no flow
// sits much farther from its home slot than a uniform hash would put it.
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
	mask := uint64(len(x.slots) - 1)
	farthest := uint64(0)
	for i, slot := range x.slots {
		if slot != 0 {
			farthest = max(farthest, (uint64(i)-slot>>32)&mask)
		}
	}
	// Linear probing at half load puts the farthest of n keys a few dozen
	// slots from home; a hash that clusters such keys would put them
	// thousands away.
	if farthest > 100 {
		t.Errorf("a flow %d slots from home, %d keys in %d slots", farthest, n, len(x.slots))
	}
}

// TestFlowIndexChurn: puts and removes in random order, checked against a
// Go map after every step, with the index kept near full (long probe runs,
// many moves back on removal).
func TestFlowIndexChurn(t *testing.T) {
	const keys = 700 // 3/4 of the first 1024 slots is 768
	x, s := newTestIndex(keys, func(i int) flowKey {
		return flowKey{loPort: uint16(i), hiPort: 53, vlan: -1, proto: 17}
	})
	in := map[flowID]bool{}
	rng := uint64(1)
	for step := range 20000 {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		id := flowID(rng%keys) + 1
		if in[id] {
			x.remove(id)
			delete(in, id)
		} else {
			x.put(id, x.hash(&s.at(id).key))
			in[id] = true
		}
		if step%97 != 0 {
			continue
		}
		for id := flowID(1); id <= keys; id++ {
			k := s.at(id).key
			if got := x.get(&k, x.hash(&k)); (got == id) != in[id] || got != id && got != noFlow {
				t.Fatalf("step %d: flow %d: got %d, in the index: %v", step, id, got, in[id])
			}
		}
	}
	if x.n != len(in) || len(x.slots) != 1024 {
		t.Errorf("n %d, want %d; %d slots", x.n, len(in), len(x.slots))
	}
}

// TestKeyEqual checks flowKey.equal against ==: its word layout, and that
// it compares every field and no padding.
func TestKeyEqual(t *testing.T) {
	var z flowKey
	if unsafe.Sizeof(z) != 48 || unsafe.Offsetof(z.tunnelID) != 40 || unsafe.Offsetof(z.tunnelIDSet) != 46 {
		t.Fatalf("flowKey layout changed (size %d): update flowKey.equal", unsafe.Sizeof(z))
	}
	base := flowKey{loPort: 1, hiPort: 2, vlan: -1, tunnelID: 7, proto: 6, tunnel: TunnelVXLAN, tunnelIDSet: 1}
	base.lo[15], base.hi[3] = 9, 4
	variants := map[string]func(k *flowKey){
		"same":        func(k *flowKey) {},
		"lo":          func(k *flowKey) { k.lo[0]++ },
		"lo last":     func(k *flowKey) { k.lo[15]++ },
		"hi":          func(k *flowKey) { k.hi[8]++ },
		"loPort":      func(k *flowKey) { k.loPort++ },
		"hiPort":      func(k *flowKey) { k.hiPort++ },
		"vlan":        func(k *flowKey) { k.vlan = 3 },
		"tunnelID":    func(k *flowKey) { k.tunnelID = 1 << 31 },
		"proto":       func(k *flowKey) { k.proto = 17 },
		"tunnel":      func(k *flowKey) { k.tunnel = TunnelNone },
		"tunnelIDSet": func(k *flowKey) { k.tunnelIDSet = 0 },
		"padding":     func(k *flowKey) { (*[48]byte)(unsafe.Pointer(k))[47] = 0xff },
	}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			k := base
			change(&k)
			if got, want := k.equal(&base), k == base; got != want {
				t.Errorf("equal = %v, == says %v", got, want)
			}
			if got, want := base.equal(&k), k == base; got != want {
				t.Errorf("reversed: equal = %v, == says %v", got, want)
			}
		})
	}
}
