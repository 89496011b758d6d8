package ingest

import (
	"crypto/sha256"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// hashingReader counts every byte read from the file and hashes it with
// SHA-256 on a goroutine of its own, so that hashing (the most expensive
// step per byte) runs beside parsing instead of before it. Each chunk read
// is copied into one of hashBuffers buffers and handed over; when all are
// in flight, Read waits, so memory stays bounded.
type hashingReader struct {
	r io.Reader
	n atomic.Int64

	once  sync.Once
	work  chan []byte
	free  chan []byte
	done  chan struct{}
	h     hash.Hash
	final []byte
}

const (
	hashBuffers     = 4
	hashBufferBytes = 256 << 10
)

func newHashingReader(r io.Reader) *hashingReader {
	h := &hashingReader{
		r:    r,
		work: make(chan []byte, hashBuffers),
		free: make(chan []byte, hashBuffers),
		done: make(chan struct{}),
		h:    sha256.New(),
	}
	for range hashBuffers {
		h.free <- make([]byte, 0, hashBufferBytes)
	}
	go func() {
		defer close(h.done)
		for b := range h.work {
			h.h.Write(b)
			h.free <- b[:0]
		}
	}()
	return h
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	for rest := p[:n]; len(rest) > 0; {
		b := <-h.free
		k := min(len(rest), hashBufferBytes)
		h.work <- append(b, rest[:k]...)
		rest = rest[k:]
	}
	h.n.Add(int64(n))
	return n, err
}

// sum stops the hashing goroutine and returns the digest of every byte
// read. Later calls return the same digest.
func (h *hashingReader) sum() []byte {
	h.stop()
	if h.final == nil {
		h.final = h.h.Sum(nil)
	}
	return h.final
}

// stop ends the hashing goroutine once it has hashed what was handed over.
func (h *hashingReader) stop() {
	h.once.Do(func() {
		close(h.work)
		<-h.done
	})
}
