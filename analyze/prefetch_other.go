//go:build !amd64 && !arm64

package analyze

import "unsafe"

// prefetch does nothing on this architecture (see prefetch_asm.go).
func prefetch(p *uint64) {}

// prefetchWrite does nothing on this architecture (see prefetch_asm.go).
func prefetchWrite(p unsafe.Pointer, n uintptr) {}
