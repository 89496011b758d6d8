//go:build amd64 || arm64

package prefetch

import "unsafe"

// Read asks the CPU to bring the cache line holding *p closer, without
// waiting for it (a prefetch instruction: Go has no portable way to emit
// one). It never faults.
//
//go:noescape
func Read(p *uint64)

// Write asks the CPU to bring the n bytes from p closer, to be written (on
// amd64 the lines are taken exclusive: no other core keeps a copy to
// invalidate when the stores come).
//
//go:noescape
func Write(p unsafe.Pointer, n uintptr)
