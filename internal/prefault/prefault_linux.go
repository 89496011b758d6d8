package prefault

import (
	"syscall"
	"unsafe"
)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14); the syscall
// package does not name it.
const madvPopulateWrite = 23

// minBytes is the least memory worth a system call: below it the faults
// cost less than the call.
const minBytes = 64 << 10

// Write backs the whole pages of the n bytes from p with memory, as writing
// them would, in one call. Memory already backed is left as it is; the
// contents never change. p must point into memory the caller holds (a Go
// allocation).
func Write(p unsafe.Pointer, n uintptr) {
	if n < minBytes {
		return
	}
	page := uintptr(syscall.Getpagesize())
	start := (uintptr(p) + page - 1) &^ (page - 1)
	end := (uintptr(p) + n) &^ (page - 1)
	if end <= start {
		return
	}
	// An error (an older kernel: EINVAL) only means the pages fault in
	// when written, as without the call.
	syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvPopulateWrite)
}
