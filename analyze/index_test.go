package analyze

import (
	"net/netip"
	"testing"
)

// TestFlowIndex: put, get, replace and remove across growth, with a
// degenerate seed-independent check that every key is found exactly once.
func TestFlowIndex(t *testing.T) {
	x := newFlowIndex()
	var flows []*flow
	for i := range 5000 {
		f := &flow{key: flowKey{loPort: uint16(i), hiPort: 80, vlan: -1, proto: 6}}
		f.key.lo[15], f.key.hi[15] = byte(i), byte(i>>8)
		f.hash = x.hash(&f.key)
		x.put(f)
		flows = append(flows, f)
	}
	if len(x.buckets) < 5000 {
		t.Fatalf("index did not grow: %d buckets for %d flows", len(x.buckets), x.n)
	}
	for i, f := range flows {
		if g := x.get(&f.key, f.hash); g != f {
			t.Fatalf("flow %d not found", i)
		}
	}
	for i := 0; i < len(flows); i += 2 {
		x.remove(flows[i])
	}
	for i := 1; i < len(flows); i += 4 {
		g := &flow{key: flows[i].key}
		x.replace(flows[i], g)
		flows[i] = g
	}
	for i, f := range flows {
		got := x.get(&f.key, x.hash(&f.key))
		if i%2 == 0 && got != nil || i%2 == 1 && got != f {
			t.Fatalf("flow %d: got %p, want %p (removed: %v)", i, got, f, i%2 == 0)
		}
	}
	if x.n != 2500 {
		t.Errorf("n = %d, want 2500", x.n)
	}
}

// TestFlowIndexSpread: keys that differ only in a port or the last address
// byte (what a scan or a busy client gives) spread over the buckets: no
// chain is much longer than a uniform hash would make it.
func TestFlowIndexSpread(t *testing.T) {
	x := newFlowIndex()
	const n = 1 << 16
	for i := range n {
		f := &flow{key: flowKey{loPort: uint16(i), hiPort: 443, vlan: -1, proto: 6}}
		f.key.lo = netip.AddrFrom4([4]byte{10, 0, 0, byte(i >> 12)}).As16()
		f.key.hi = netip.AddrFrom4([4]byte{10, 0, 1, 1}).As16()
		f.hash = x.hash(&f.key)
		x.put(f)
	}
	longest := 0
	for _, f := range x.buckets {
		l := 0
		for ; f != nil; f = f.nextInBucket {
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
