//go:build !linux

package prefault

import "unsafe"

// Write does nothing on this system (see prefault_linux.go).
func Write(p unsafe.Pointer, n uintptr) {}
