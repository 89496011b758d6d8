package analyze

import "testing"

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
