package prefault

import (
	"testing"
	"unsafe"
)

// TestWrite: the call leaves memory as it was, whatever its size and
// alignment (whole pages inside the range only), and allocates nothing.
func TestWrite(t *testing.T) {
	for _, n := range []int{0, 1, 4095, minBytes - 1, minBytes, minBytes + 1, 1 << 20} {
		for _, off := range []int{0, 1, 4093} {
			b := make([]byte, n+off)
			for i := range b {
				b[i] = byte(i * 7)
			}
			s := b[off:]
			Write(unsafe.Pointer(unsafe.SliceData(s)), uintptr(len(s)))
			for i := range b {
				if b[i] != byte(i*7) {
					t.Fatalf("n %d off %d: byte %d changed", n, off, i)
				}
			}
		}
	}
	b := make([]byte, 1<<20)
	if a := testing.AllocsPerRun(10, func() { Write(unsafe.Pointer(&b[0]), uintptr(len(b))) }); a != 0 {
		t.Errorf("%.1f allocations", a)
	}
}
