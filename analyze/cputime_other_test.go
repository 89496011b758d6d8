//go:build !linux

package analyze

import "time"

var started = time.Now()

// threadCPU stands in for the thread's CPU time where it is not read:
// wall time.
func threadCPU() time.Duration { return time.Since(started) }
