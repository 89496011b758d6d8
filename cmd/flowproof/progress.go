package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/pipeline"
)

// progress shows, on a terminal, how far the captures being analyzed have
// been read: bytes and packets done, rate and time left. With several
// captures it names the earliest one still running and how many others run
// beside it. It writes nothing when stderr is not a terminal or --quiet is
// given.
type progress struct {
	w       io.Writer
	on      bool
	total   int // captures in the run
	mu      sync.Mutex
	active  map[int]*captureProgress // by 0-based capture index
	stopped chan struct{}
	done    sync.WaitGroup
}

// captureProgress is one capture being read.
type captureProgress struct {
	name    string
	c       *ingest.Capture
	begin   time.Time
	packets atomic.Int64
}

func newProgress(stderr io.Writer, quiet bool) *progress {
	f, ok := stderr.(*os.File)
	on := ok && !quiet
	if on {
		st, err := f.Stat()
		on = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return &progress{w: stderr, on: on, active: map[int]*captureProgress{}}
}

// Run shows the progress of total captures until Stop.
func (p *progress) Run(total int) {
	if !p.on {
		return
	}
	p.total = total
	p.stopped = make(chan struct{})
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stopped:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-tick.C:
			}
			p.mu.Lock()
			if line := p.line(); line != "" {
				fmt.Fprintf(p.w, "\r\033[K%s", line)
			}
			p.mu.Unlock()
		}
	}()
}

// line describes the earliest capture running; p.mu is held.
func (p *progress) line() string {
	first := -1
	for i := range p.active {
		if first < 0 || i < first {
			first = i
		}
	}
	if first < 0 {
		return ""
	}
	cp, others := p.active[first], len(p.active)-1

	done, size := cp.c.BytesRead(), cp.c.Size()
	rate := float64(done) / time.Since(cp.begin).Seconds()
	line := cp.name + ": " + mib(done)
	if p.total > 1 {
		line = fmt.Sprintf("[%d/%d] %s", first+1, p.total, line)
	}
	if size > 0 {
		line += fmt.Sprintf(" of %s (%d%%)", mib(size), done*100/size)
	}
	line += fmt.Sprintf(", %d packets, %s/s", cp.packets.Load(), mib(int64(rate)))
	if size > 0 && rate > 0 {
		left := time.Duration(float64(size-done) / rate * float64(time.Second)).Round(time.Second)
		if left < time.Second {
			line += ", <1s left"
		} else {
			line += fmt.Sprintf(", %s left", left)
		}
	}
	if others > 0 {
		line += fmt.Sprintf(" (+%d more at once)", others)
	}
	return line
}

// Start shows capture i (0-based) from now until finish; the packets src
// returns are counted. It returns the source to read from.
func (p *progress) Start(i int, name string, c *ingest.Capture) analyze.PacketSource {
	if !p.on {
		return c
	}
	cp := &captureProgress{name: name, c: c, begin: time.Now()}
	p.mu.Lock()
	p.active[i] = cp
	p.mu.Unlock()
	return countingSource{c, &cp.packets}
}

// Finish stops showing capture i.
func (p *progress) Finish(i int) {
	if !p.on {
		return
	}
	p.mu.Lock()
	delete(p.active, i)
	p.mu.Unlock()
}

type countingSource struct {
	analyze.PacketSource
	n *atomic.Int64
}

func (c countingSource) Next(pkt *ingest.Packet) error {
	err := c.PacketSource.Next(pkt)
	if err == nil {
		c.n.Add(1)
	}
	return err
}

// Warn writes a warning about an input, on a line of its own when progress
// is shown.
func (p *progress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on && p.stopped != nil {
		fmt.Fprint(p.w, "\r\033[K") // the next tick draws the progress again
	}
	fmt.Fprintf(p.w, "flowproof analyze: %s\n", msg)
}

// Stop ends the display and clears its line.
func (p *progress) Stop() {
	if !p.on || p.stopped == nil {
		return
	}
	close(p.stopped)
	p.done.Wait()
	p.stopped = nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

var _ pipeline.Progress = (*progress)(nil)
