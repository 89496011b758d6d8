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
		live, want int64
	}{
		{"empty heap: the floor", 0, memoryFloor},
		{"below the floor", 30 << 20, memoryFloor},
		{"above: live and a quarter, plus slack", 100 << 20, 125<<20 + memorySlack},
	} {
		if got := memoryLimitFor(memoryFloor, c.live); got != c.want {
			t.Errorf("%s: memoryLimitFor(%d) = %d, want %d", c.name, c.live, got, c.want)
		}
	}
}

func TestMemoryFloor(t *testing.T) {
	if got := (analyzeOptions{}).memoryFloor(); got != memoryFloor {
		t.Errorf("plain run: floor %d MiB, want %d MiB", got>>20, memoryFloor>>20)
	}
	if got := (analyzeOptions{l7: true}).memoryFloor(); got != memoryFloorL7 {
		t.Errorf("--l7 run: floor %d MiB, want %d MiB", got>>20, memoryFloorL7>>20)
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
	stop := startMemoryPolicy(gcEnv{}, memoryFloor)
	if got := debug.SetMemoryLimit(-1); got != memoryFloor {
		t.Errorf("limit %d with the policy on, want the floor %d", got, memoryFloor)
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
	for debug.SetMemoryLimit(-1) != memoryFloor && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got != memoryFloor {
		t.Errorf("limit %d MiB once the heap is freed, want the floor %d MiB", got>>20, memoryFloor>>20)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit %d after stop, want the previous %d", got, before)
	}

	// Overlapping runs share the policy and the highest floor (an --l7
	// run's); the last to stop restores.
	stopA, stopB := startMemoryPolicy(gcEnv{}, memoryFloor), startMemoryPolicy(gcEnv{}, memoryFloorL7)
	if got := debug.SetMemoryLimit(-1); got != memoryFloorL7 {
		t.Errorf("limit %d MiB with an --l7 run beside a plain one, want its floor %d MiB", got>>20, memoryFloorL7>>20)
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

	stop = startMemoryPolicy(gcEnv{userTuned: true}, memoryFloor)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit %d with GOGC/GOMEMLIMIT set, want it untouched (%d)", got, before)
	}
	stop()
}
