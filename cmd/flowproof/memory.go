package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The memory policy of a run keeps the Go heap close to the live data.
// flowproof's heap is mostly live flows, and Go's default (GOGC=100) lets it
// grow to twice the live data between collections, and further on a longer
// capture with no more flows live at once. So the policy sets a soft memory
// limit (debug.SetMemoryLimit) of
//
//	max(floor, live + live/growth + memorySlack)
//
// and sets it again after every collection from the live heap that
// collection measured: memory follows the live flows, not the length of
// the capture. Below the limit nothing is collected (GOGC is off while the
// policy runs), so small runs need no collection at all. Where live flows
// dominate it costs time: a growing heap is marked at every 1/growth of
// growth (README: Speed and memory has the measurements).
//
// A run without the application layer gets plainMemory. One with it has a
// live heap larger by the L7 engine's state and its tables' writers (35-38
// MB at the end of a collection on the bench capture, against 29-32 MB):
// at plainMemory it collects three times as often, and at a higher floor
// alone its peak RSS goes over the 64 MiB the default run keeps. So it gets
// a floor 2 MiB higher and an eighth of growth: on the bench capture its
// last collections find the limit at the floor, where a quarter would put
// it above.
type memoryPlan struct {
	floor  int64
	growth int64
}

var (
	plainMemory = memoryPlan{floor: 48 << 20, growth: 4}
	l7Memory    = memoryPlan{floor: 50 << 20, growth: 8}
)

const memorySlack = 4 << 20 // the runtime's own memory: stacks, GC metadata, free spans

// The policy is process-wide (the runtime has one limit); runs that overlap
// in one process share it, and the last to stop puts the settings from
// before the first back.
var memoryPolicy struct {
	sync.Mutex
	users         int
	plan          memoryPlan // the highest floor and growth divisor of the current users
	prevLimit     int64
	prevGCPercent int
	watch         *gcWatch // of the current users; nil when none
}

// startMemoryPolicy applies the policy with the given plan until stop is
// called. Collections then run only at the limit (GOGC off): below the
// floor there is nothing worth collecting for. Overlapping runs share the
// highest floor and the highest growth divisor (the tighter limit) until
// the last stops. It does nothing when the user set GOGC or GOMEMLIMIT:
// their choice wins.
func startMemoryPolicy(env gcEnv, plan memoryPlan) (stop func()) {
	if env.userTuned {
		return func() {}
	}
	p := &memoryPolicy
	p.Lock()
	defer p.Unlock()
	if p.users++; p.users == 1 {
		p.plan = plan
		p.prevLimit = debug.SetMemoryLimit(plan.floor)
		p.prevGCPercent = debug.SetGCPercent(-1)
		p.watch = new(gcWatch)
		p.watch.arm()
	} else {
		p.plan.growth = max(p.plan.growth, plan.growth)
		if plan.floor > p.plan.floor {
			p.plan.floor = plan.floor
			if debug.SetMemoryLimit(-1) < plan.floor {
				debug.SetMemoryLimit(plan.floor)
			}
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			p.Lock()
			defer p.Unlock()
			if p.users--; p.users == 0 {
				p.watch.stopped = true // its pending cleanup does nothing
				p.watch = nil
				debug.SetMemoryLimit(p.prevLimit)
				debug.SetGCPercent(p.prevGCPercent)
			}
		})
	}
}

// gcWatch sets the limit from the live heap after each collection. It
// learns of a collection from the cleanup of an object it keeps no
// reference to, which the collection frees; the cleanup re-arms with a new
// object. Polling runtime/metrics every 10 ms did the same, but its wake-ups
// cost 10% of the wall time of the bench capture on 2 cores.
type gcWatch struct {
	stopped bool // guarded by memoryPolicy's mutex
}

// gcSentinel is what a collection frees. It holds a pointer so that it is
// not a tiny allocation, which would share its block with other objects and
// be freed only with them.
type gcSentinel struct{ _ *byte }

func (w *gcWatch) arm() {
	runtime.AddCleanup(new(gcSentinel), (*gcWatch).collected, w)
}

// collected runs on the runtime's cleanup goroutine after a collection.
func (w *gcWatch) collected() {
	p := &memoryPolicy
	p.Lock()
	defer p.Unlock()
	if w.stopped {
		return
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	debug.SetMemoryLimit(p.plan.limitFor(int64(live[0].Value.Uint64())))
	w.arm()
}

// limitFor is the soft limit for a live heap of live bytes.
func (m memoryPlan) limitFor(live int64) int64 {
	return max(m.floor, live+live/m.growth+memorySlack)
}
