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
)

// progress shows, on a terminal, how far the current capture has been read:
// bytes and packets done, rate and time left. It writes nothing when stderr
// is not a terminal or --quiet is given.
type progress struct {
	w       io.Writer
	on      bool
	packets atomic.Int64
	stopped chan struct{}
	done    sync.WaitGroup
}

func newProgress(stderr io.Writer, quiet bool) *progress {
	f, ok := stderr.(*os.File)
	on := ok && !quiet
	if on {
		st, err := f.Stat()
		on = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return &progress{w: stderr, on: on}
}

// source counts the packets src returns, when progress is shown.
func (p *progress) source(src analyze.PacketSource) analyze.PacketSource {
	if !p.on {
		return src
	}
	return countingSource{src, &p.packets}
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

// start shows the progress of one capture until stop.
func (p *progress) start(name string, c *ingest.Capture) {
	if !p.on {
		return
	}
	p.packets.Store(0)
	p.stopped = make(chan struct{})
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		begin := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stopped:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-tick.C:
			}
			done, size := c.BytesRead(), c.Size()
			secs := time.Since(begin).Seconds()
			rate := float64(done) / secs
			line := fmt.Sprintf("%s: %s", name, mib(done))
			if size > 0 {
				line += fmt.Sprintf(" of %s (%d%%)", mib(size), done*100/size)
			}
			line += fmt.Sprintf(", %d packets, %s/s", p.packets.Load(), mib(int64(rate)))
			if size > 0 && rate > 0 {
				line += fmt.Sprintf(", %s left", (time.Duration(float64(size-done)/rate) * time.Second).Round(time.Second))
			}
			fmt.Fprintf(p.w, "\r\033[K%s", line)
		}
	}()
}

func (p *progress) stop() {
	if !p.on || p.stopped == nil {
		return
	}
	close(p.stopped)
	p.done.Wait()
	p.stopped = nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
