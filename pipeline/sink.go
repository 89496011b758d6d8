package pipeline

import (
	"sync"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7"
	"github.com/flowproof/flowproof/analyze/l7/dns"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/analyze/l7/tls"
)

// sinkBatch is how many finished flows travel together to the writer, and
// sinkBatchL7 how many HTTP and DNS rows may travel with them, counted apart:
// with the application layer on, a limit on flows and rows together carried
// a third as many flows per batch on the bench capture (two rows per HTTP/1.0
// connection besides its flow), three times the hand-offs (README: Speed and
// memory).
const (
	sinkBatch   = 64
	sinkBatchL7 = 128
)

// sinkInFlight is how many batches one capture can have on their way to the
// writer. Sixteen small batches rather than four large ones (the same 1,024
// records): the table ends flows in bursts (each idle sweep, every second of
// capture time, ends thousands), and the table stalled less with more
// hand-offs in flight (README: Speed and memory).
const sinkInFlight = 16

// orderedSink hands finished flows to a goroutine of its own, which runs
// write on each (the Parquet writer and the report summary), so that
// encoding and compressing flows runs beside packet processing. Captures
// may be analyzed several at once, but write sees every flow of the first
// capture, then every flow of the second, and so on, each capture's in the
// order its table ended them: the output does not depend on how many run
// at once. A capture whose turn has not come waits once it has
// sinkInFlight batches queued, so memory stays bounded.
type orderedSink struct {
	mu       sync.Mutex
	captures []chan *recordBatch // per capture, in input order; closed when it ends
	done     chan error
}

// sinkWriters receive what the captures produce, on the sink's goroutine.
type sinkWriters struct {
	flows func([]analyze.Record) error    // a batch, in order; must not keep the slice (the worker reuses it)
	http  func([]*http.Transaction) error // nil: L7 off; must not keep the transactions or their Flows (the worker recycles them)
	dns   func(*dns.Query) error
}

func newOrderedSink(captures int, w sinkWriters) *orderedSink {
	s := &orderedSink{
		captures: make([]chan *recordBatch, captures),
		done:     make(chan error, 1),
	}
	go func() {
		var err error
		for c := range s.captures {
			for b := range s.queue(c) {
				if err == nil && len(b.recs) > 0 {
					err = w.flows(b.recs)
				}
				if err == nil && len(b.http) > 0 {
					err = w.http(b.http)
				}
				// b.http goes back with the batch: converted into rows,
				// nothing keeps its transactions, and the worker recycles
				// them (captureSink.take).
				for _, q := range b.dns {
					if err == nil {
						err = w.dns(q)
					}
				}
				b.recs = b.recs[:0]
				clear(b.dns)
				b.dns = b.dns[:0]
				b.free <- b
			}
			s.mu.Lock()
			s.captures[c] = nil // a run over many files holds a queue only for those in flight
			s.mu.Unlock()
		}
		s.done <- err
	}()
	return s
}

// queue is capture i's queue, made by whichever of its worker and the writer
// needs it first.
func (s *orderedSink) queue(i int) chan *recordBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.captures[i] == nil {
		s.captures[i] = make(chan *recordBatch, sinkInFlight)
	}
	return s.captures[i]
}

// sinkBuffers are one worker's batches, reused from capture to capture,
// and the transactions they bring back for its engines.
type sinkBuffers struct {
	free     chan *recordBatch
	recycled *http.Recycled
}

type recordBatch struct {
	recs []analyze.Record
	http []*http.Transaction // L7 rows produced while these flows were read; written ones when it comes back
	dns  []*dns.Query
	free chan *recordBatch // where the writer puts it back
}

func newSinkBuffers() sinkBuffers {
	free := make(chan *recordBatch, sinkInFlight)
	for range sinkInFlight {
		free <- &recordBatch{recs: make([]analyze.Record, 0, sinkBatch), free: free}
	}
	return sinkBuffers{free: free, recycled: new(http.Recycled)}
}

// take returns a free batch, its written transactions recycled.
func (s sinkBuffers) take() *recordBatch {
	b := <-s.free
	s.recycled.Put(b.http)
	clear(b.http)
	b.http = b.http[:0]
	return b
}

// captureSink collects the flows of capture i (0-based) for the writer.
type captureSink struct {
	work  chan<- *recordBatch
	free  sinkBuffers
	batch *recordBatch
	tls   *tls.Hello     // of the flow that is ending: its record comes next
	spare analyze.Record // slot's record when the batch has no room (never, as full works)
}

func (s *orderedSink) capture(i int, free sinkBuffers) *captureSink {
	return &captureSink{work: s.queue(i), free: free, batch: free.take()}
}

// slot returns the batch's next record, for the table to build the next
// flow's record in (Table.SetRecordSlot): emit then keeps it without a copy.
// The batch always has room: full hands it over when it holds sinkBatch
// flows.
func (c *captureSink) slot() *analyze.Record {
	recs := c.batch.recs
	if len(recs) == cap(recs) {
		return &c.spare
	}
	return &recs[:len(recs)+1][len(recs)]
}

// emit queues r: the record slot returned, or else a copy of r (the table
// reuses its own record after emit returns).
func (c *captureSink) emit(r *analyze.Record) {
	if n := len(c.batch.recs); n < cap(c.batch.recs) && r == &c.batch.recs[:n+1][n] {
		c.batch.recs = c.batch.recs[:n+1]
	} else {
		c.batch.recs = append(c.batch.recs, *r)
	}
	if h := c.tls; h != nil { // the engine ends a flow's L7 state just before its record
		rec := &c.batch.recs[len(c.batch.recs)-1]
		rec.TLSSNI, rec.TLSALPN, rec.TLSVersion = h.SNI, h.ALPNList(), h.Version()
		c.tls = nil
	}
	c.full()
}

// full hands the batch over once it holds sinkBatch flows or sinkBatchL7
// rows.
func (c *captureSink) full() {
	if len(c.batch.recs) >= sinkBatch || len(c.batch.http)+len(c.batch.dns) >= sinkBatchL7 {
		c.work <- c.batch
		c.batch = c.free.take()
	}
}

// l7 returns the L7 engine's configuration that feeds this sink.
func (c *captureSink) l7() l7.Config {
	return l7.Config{
		HTTP: func(t *http.Transaction) { c.batch.http = append(c.batch.http, t); c.full() },
		DNS:  func(q *dns.Query) { c.batch.dns = append(c.batch.dns, q); c.full() },
		TLS:  func(h *tls.Hello) { c.tls = h },

		Recycled: c.free.recycled,
	}
}

// end hands over the capture's last flows. After end, emit must not be
// called.
func (c *captureSink) end() {
	if len(c.batch.recs)+len(c.batch.http)+len(c.batch.dns) > 0 {
		c.work <- c.batch
	} else {
		c.free.free <- c.batch
	}
	close(c.work)
}

// skip ends capture i, which was never analyzed, without flows.
func (s *orderedSink) skip(i int) { close(s.queue(i)) }

// close waits until every capture has ended and its flows are written, and
// returns the first error of write.
func (s *orderedSink) close() error {
	return <-s.done
}
