package mcpserver

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/pipeline"
)

// progressEvery is the shortest interval between two progress
// notifications that are not forced (a capture done, a warning).
const progressEvery = 200 * time.Millisecond

// notifier sends notifications/progress for one call, when the client gave
// a progressToken. The progress value only grows.
type notifier struct {
	s     *Server
	c     *call
	token mcp.ProgressToken

	mu       sync.Mutex
	progress float64
	sent     float64 // the progress last sent
	last     time.Time
}

// notifier is the call's notifier, one for the whole call (a pull then an
// analysis), so that its progress only grows.
func (s *Server) notifier(c *call) *notifier {
	if c.n == nil {
		c.n = &notifier{s: s, c: c}
		if m := c.req.Params.Meta; m != nil {
			c.n.token = m.ProgressToken
		}
	}
	return c.n
}

// add advances the progress by delta and sends it with msg, unless one was
// sent less than progressEvery ago and force is false.
func (n *notifier) add(delta float64, msg string, force bool) {
	if n == nil || n.token == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.progress += delta
	now := time.Now()
	if !force && now.Sub(n.last) < progressEvery {
		return
	}
	n.last = now
	if n.progress <= n.sent {
		n.progress = n.sent + 1 // every notification a step further
	}
	n.sent = n.progress
	// A client that went away, or a full channel: progress is best effort.
	_ = n.s.mcp.SendNotificationToClient(n.c.ctx, string(mcp.MethodNotificationProgress), map[string]any{
		"progressToken": n.token,
		"progress":      n.progress,
		"message":       msg,
	})
}

// progress is pipeline.Progress for an MCP call: the progress value is the
// packets read so far plus the steps taken (a capture started or read, a
// warning, the pull's steps).
type progress struct {
	n        *notifier
	inner    pipeline.Progress // Options.Analysis.Progress, or nil
	captures int
	done     atomic.Int64
}

func (p *progress) Run(captures int) {
	if p.inner != nil {
		p.inner.Run(captures)
	}
	p.captures = captures
	p.n.add(0, fmt.Sprintf("analyzing %d captures", captures), true)
}

func (p *progress) Start(i int, name string, c *ingest.Capture) analyze.PacketSource {
	var src analyze.PacketSource = c
	if p.inner != nil {
		src = p.inner.Start(i, name, c)
	}
	if p.n.token == nil {
		return src
	}
	return &countingSource{src: src, p: p, name: name, i: i}
}

func (p *progress) Finish(i int) {
	if p.inner != nil {
		p.inner.Finish(i)
	}
	d := p.done.Add(1)
	p.n.add(1, fmt.Sprintf("%d of %d captures read", d, p.captures), true)
}

func (p *progress) Warn(msg string) {
	if p.inner != nil {
		p.inner.Warn(msg)
	}
	p.n.add(0, "warning: "+msg, true)
}

func (p *progress) Stop() {
	if p.inner != nil {
		p.inner.Stop()
	}
	p.n.add(1, "writing flows.parquet, report.md, manifest.json", true)
}

// countingSource reports the packets of one capture in batches.
type countingSource struct {
	src     analyze.PacketSource
	p       *progress
	name    string
	i       int
	n, sent int64
}

const countBatch = 4096

func (s *countingSource) Next(pk *ingest.Packet) error {
	err := s.src.Next(pk)
	if err == nil {
		if s.n++; s.n-s.sent >= countBatch {
			s.p.n.add(float64(s.n-s.sent), fmt.Sprintf("capture %d of %d (%s): %d packets", s.i+1, s.p.captures, s.name, s.n), false)
			s.sent = s.n
		}
	}
	return err
}
