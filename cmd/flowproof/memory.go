package main

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// The memory policy of a run keeps the Go heap close to the live data.
// flowproof's heap is mostly live flows, and Go's default (GOGC=100) lets it
// grow to twice the live data between collections: on the bench capture
// (37 MB live at peak) GOGC=100 took 69 MB of RSS, and 71-73 MB for the
// same traffic twice as long, with no more flows live at once. So the
// policy sets a soft memory limit (debug.SetMemoryLimit) of
//
//	max(memoryFloor, live + live/4 + memorySlack)
//
// and sets it again after every collection from the live heap that
// collection measured: memory follows the live flows, not the length of
// the capture. Below the limit nothing is collected (GOGC is off while the
// policy runs), so small runs need no collection at all. The cost is time:
// with 37 MB live the heap is collected every few MB instead of every 37 MB
// (0.76 s instead of 0.69 s on the bench capture), and a growing heap is
// marked at every quarter of growth (400,000 live flows: 2.2 s and 352 MB
// instead of 1.6 s and 427 MB).
const (
	memoryFloor = 48 << 20
	memorySlack = 4 << 20 // the runtime's own memory: stacks, GC metadata, free spans
)

// memoryPolicyInterval is how often the policy looks for a new collection.
const memoryPolicyInterval = 10 * time.Millisecond

// The policy is process-wide (the runtime has one limit); runs that overlap
// in one process share it, and the last to stop puts the settings from
// before the first back.
var memoryPolicy struct {
	sync.Mutex
	users          int
	prevLimit      int64
	prevGCPercent  int
	done, finished chan struct{}
}

// startMemoryPolicy applies the policy until stop is called. Collections
// then run only at the limit (GOGC off): below the floor there is nothing
// worth collecting for. It does nothing when the user set GOGC or
// GOMEMLIMIT: their choice wins.
func startMemoryPolicy(env gcEnv) (stop func()) {
	if env.userTuned {
		return func() {}
	}
	p := &memoryPolicy
	p.Lock()
	defer p.Unlock()
	if p.users++; p.users == 1 {
		p.prevLimit = debug.SetMemoryLimit(memoryFloor)
		p.prevGCPercent = debug.SetGCPercent(-1)
		p.done, p.finished = make(chan struct{}), make(chan struct{})
		go followLiveHeap(p.done, p.finished)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			p.Lock()
			defer p.Unlock()
			if p.users--; p.users == 0 {
				close(p.done)
				<-p.finished
				debug.SetMemoryLimit(p.prevLimit)
				debug.SetGCPercent(p.prevGCPercent)
			}
		})
	}
}

// followLiveHeap sets the limit from the live heap after each collection,
// until done is closed.
func followLiveHeap(done <-chan struct{}, finished chan<- struct{}) {
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
}

// memoryLimitFor is the soft limit for a live heap of live bytes.
func memoryLimitFor(live int64) int64 {
	return max(memoryFloor, live+live/4+memorySlack)
}
