//go:build !amd64 && !arm64

package prefetch

import "unsafe"

// Read does nothing on this architecture (see prefetch_asm.go).
func Read(p *uint64) {}

// Write does nothing on this architecture (see prefetch_asm.go).
func Write(p unsafe.Pointer, n uintptr) {}
