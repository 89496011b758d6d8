package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestMemoryLimitFor(t *testing.T) {
	for _, c := range []struct {
		name       string
		plan       memoryPlan
		live, want int64
	}{
		{"empty heap: the floor", plainMemory, 0, 48 << 20},
		{"below the floor", plainMemory, 30 << 20, 48 << 20},
		{"above: live and a quarter, plus slack", plainMemory, 100 << 20, 125<<20 + memorySlack},
		{"L7, below its floor", l7Memory, 40 << 20, 50 << 20},
		{"L7, above: live and an eighth, plus slack", l7Memory, 100 << 20, 112<<20 + 512<<10 + memorySlack},
	} {
		if got := c.plan.limitFor(c.live); got != c.want {
			t.Errorf("%s: limitFor(%d) = %d, want %d", c.name, c.live, got, c.want)
		}
	}
}

func TestMemoryPlan(t *testing.T) {
	if got := (analyzeOptions{}).memoryPlan(); got != plainMemory {
		t.Errorf("run without L7: plan %+v, want %+v", got, plainMemory)
	}
	if got := (analyzeOptions{l7: true}).memoryPlan(); got != l7Memory {
		t.Errorf("run with L7: plan %+v, want %+v", got, l7Memory)
	}
}

func TestReadGCEnv(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"GOGC": "200"}, true},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, true},
		{map[string]string{"KUBESHARK_HUB_TOKEN": "x"}, false},
	} {
		if got := readGCEnv(func(k string) string { return c.env[k] }).userTuned; got != c.want {
			t.Errorf("%v: userTuned %v, want %v", c.env, got, c.want)
		}
	}
}

// TestMemoryPolicy: the policy sets the floor, follows the live heap after
// a collection, and puts the previous limit back when stopped; a user's
// GOGC or GOMEMLIMIT turns it off.
func TestMemoryPolicy(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	stop := startMemoryPolicy(gcEnv{}, plainMemory)
	if got := debug.SetMemoryLimit(-1); got != plainMemory.floor {
		t.Errorf("limit %d with the policy on, want the floor %d", got, plainMemory.floor)
	}
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GOGC %d with the policy on, want off (-1)", got)
	}
	// A live heap above the floor raises the limit after the next collection.
	big := make([][]byte, 0, 64)
	for range cap(big) {
		big = append(big, make([]byte, 1<<20))
	}
	const want = 64<<20 + 16<<20
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) < want && time.Now().Before(deadline) {
		// The policy looks at the live heap a collection measured, from a
		// cleanup that runs on its own goroutine after it.
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < want {
		t.Errorf("limit %d MiB with 64 MiB live, want at least 80 MiB", got>>20)
	}
	runtime.KeepAlive(big)
	// It keeps following: once that heap is garbage, a later collection
	// brings the limit back to the floor.
	big = nil
	deadline = time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) != plainMemory.floor && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got != plainMemory.floor {
		t.Errorf("limit %d MiB once the heap is freed, want the floor %d MiB", got>>20, plainMemory.floor>>20)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit %d after stop, want the previous %d", got, before)
	}

	// Overlapping runs share the policy and the highest floor (an --l7
	// run's); the last to stop restores.
	stopA, stopB := startMemoryPolicy(gcEnv{}, plainMemory), startMemoryPolicy(gcEnv{}, l7Memory)
	if got := debug.SetMemoryLimit(-1); got != l7Memory.floor {
		t.Errorf("limit %d MiB with an --l7 run beside a plain one, want its floor %d MiB", got>>20, l7Memory.floor>>20)
	}
	memoryPolicy.Lock()
	shared := memoryPolicy.plan
	memoryPolicy.Unlock()
	if shared != l7Memory {
		t.Errorf("shared plan %+v with an --l7 run beside a plain one, want its floor and growth %+v", shared, l7Memory)
	}
	stopA()
	if got := debug.SetMemoryLimit(-1); got == before {
		t.Errorf("limit restored while a run still uses the policy")
	}
	stopB()
	stopB() // a second call is harmless
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit %d after both stopped, want %d", got, before)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC %d after both stopped, want 100", got)
	}

	stop = startMemoryPolicy(gcEnv{userTuned: true}, plainMemory)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit %d with GOGC/GOMEMLIMIT set, want it untouched (%d)", got, before)
	}
	stop()
}
