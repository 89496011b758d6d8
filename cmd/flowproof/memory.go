package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The memory policy of a run keeps the Go heap close to the live data.
// flowproof's heap is mostly live flows, and Go's default (GOGC=100) lets it
// grow to twice the live data between collections: on the bench capture
// (37 MB live at peak) GOGC=100 took 69 MB of RSS, and 71-73 MB for the same
// traffic twice as long, with no more flows live at once. So the policy sets a soft
// memory limit (debug.SetMemoryLimit) of
//
//	max(memoryFloor, live + live/4 + memorySlack)
//
// and sets it again after every collection from the live heap that
// collection measured: memory follows the live flows, not the length of the
// capture. Below the floor GOGC's default still decides, which keeps small
// runs free of extra collections. The cost is time: with 37 MB live, the
// heap is collected every few MB instead of every 37 MB (0.87 s instead of
// 0.72 s on the bench capture, for 60 MB of RSS instead of 69 MB).
const (
	memoryFloor = 48 << 20
	memorySlack = 4 << 20 // the runtime's own memory: stacks, GC metadata, free spans
)

// memoryPolicyInterval is how often the policy looks for a new collection.
const memoryPolicyInterval = 10 * time.Millisecond

// startMemoryPolicy applies the policy until stop is called, which puts the
// previous limit back. It does nothing when the user set GOGC or GOMEMLIMIT:
// their choice wins.
func startMemoryPolicy(env gcEnv) (stop func()) {
	if env.userTuned {
		return func() {}
	}
	prev := debug.SetMemoryLimit(memoryFloor)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		samples := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
		var seen uint64
		tick := time.NewTicker(memoryPolicyInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(samples)
			if cycles := samples[0].Value.Uint64(); cycles != seen {
				seen = cycles
				live := int64(samples[1].Value.Uint64())
				debug.SetMemoryLimit(memoryLimitFor(live))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		debug.SetMemoryLimit(prev)
	}
}

// memoryLimitFor is the soft limit for a live heap of live bytes.
func memoryLimitFor(live int64) int64 {
	return max(memoryFloor, live+live/4+memorySlack)
}
