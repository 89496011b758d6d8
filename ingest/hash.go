package ingest

import (
	"bufio"
	"crypto/sha256"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// hashedReader reads the file into chunks, counts every byte and hashes it
// with SHA-256 on a goroutine of its own, so that hashing (the most
// expensive step per byte) runs beside parsing instead of before it. The
// parser and the hasher read the same chunk: no byte is copied after the
// kernel's read(2), except the few bytes of a record cut by a chunk's end,
// which start the next chunk. A chunk goes back to the pool once the parser
// has left it and the hasher is done with it; when every chunk is in use,
// the parser waits, so memory stays bounded.
//
// It offers what Capture uses of a bufio.Reader (Peek, Discard, Size, Read,
// ReadByte), with bufio's semantics: a slice from Peek is valid until the
// next call.
type hashedReader struct {
	r         io.Reader
	n         atomic.Int64 // bytes read from r
	chunkSize int

	cur  *chunk // the chunk being parsed; nil before the first read
	rpos int    // next unread byte of cur
	wpos int    // end of the bytes read into cur
	err  error  // sticky error from r, returned once the bytes before it are consumed

	once  sync.Once
	made  int          // chunks allocated so far (see hashChunks)
	held  atomic.Int32 // chunks a Hold keeps (holds > 0)
	free  chan *chunk
	work  chan hashJob
	done  chan struct{}
	h     hash.Hash
	final []byte
}

// chunk is one read buffer. refs counts its holders: the parser while it is
// cur, each region handed to the hasher and not yet hashed, and each Hold
// keeping packets of it (holds counts those).
type chunk struct {
	buf   []byte
	refs  atomic.Int32
	holds atomic.Int32
	owner *hashedReader
}

type hashJob struct {
	b []byte
	c *chunk
}

// hashChunks is how many chunks exist: one being parsed, one being filled
// at a switch, and the rest queued for or in the hasher. Chunks a Hold
// keeps come on top, up to holdChunks in all: the parser still waits for
// the hasher as without them.
const (
	hashChunks = 5
	holdChunks = 12
)

func newHashedReader(r io.Reader, chunkSize int) *hashedReader {
	h := &hashedReader{
		r:         r,
		chunkSize: chunkSize,
		free:      make(chan *chunk, holdChunks),
		work:      make(chan hashJob, 4*hashChunks),
		done:      make(chan struct{}),
		h:         sha256.New(),
	}
	go func() {
		defer close(h.done)
		for j := range h.work {
			h.h.Write(j.b)
			h.release(j.c)
		}
	}()
	return h
}

func (h *hashedReader) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		h.free <- c
	}
}

// Size is the most Peek can return.
func (h *hashedReader) Size() int { return h.chunkSize }

// fill makes at least need (<= chunkSize) unread bytes available, or fails
// with the sticky error. When need does not fit the rest of the current
// chunk, the unread bytes move to the start of a fresh one.
func (h *hashedReader) fill(need int) error {
	if h.wpos-h.rpos >= need {
		return nil
	}
	if h.err != nil {
		return h.err
	}
	if h.cur == nil || h.rpos+need > len(h.cur.buf) {
		next := h.freeChunk()
		next.refs.Store(1)
		if h.cur != nil {
			h.wpos = copy(next.buf, h.cur.buf[h.rpos:h.wpos])
			h.release(h.cur)
		}
		h.cur, h.rpos = next, 0
	}
	for empty := 0; h.wpos-h.rpos < need; {
		if h.err != nil {
			return h.err
		}
		n, err := h.r.Read(h.cur.buf[h.wpos:])
		if n > 0 {
			h.cur.refs.Add(1)
			h.work <- hashJob{h.cur.buf[h.wpos : h.wpos+n], h.cur}
			h.wpos += n
			h.n.Add(int64(n))
			empty = 0
		}
		switch {
		case err != nil:
			h.err = err // returned once the bytes read with it are consumed
		case n == 0:
			if empty++; empty >= 100 {
				h.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// freeChunk returns a chunk no one holds. Chunks are made as they are
// first needed: a small file never needs more than one.
func (h *hashedReader) freeChunk() *chunk {
	select {
	case c := <-h.free:
		return c
	default:
	}
	if h.made < min(hashChunks+int(h.held.Load()), holdChunks) {
		h.made++
		return &chunk{buf: make([]byte, h.chunkSize), owner: h}
	}
	return <-h.free
}

// Peek returns the next n bytes without consuming them. With fewer, it also
// returns why: bufio.ErrBufferFull when n exceeds Size, else the read error.
func (h *hashedReader) Peek(n int) ([]byte, error) {
	if n > h.chunkSize {
		return h.unread(), bufio.ErrBufferFull
	}
	if err := h.fill(n); err != nil {
		return h.unread(), err
	}
	return h.cur.buf[h.rpos : h.rpos+n], nil
}

func (h *hashedReader) unread() []byte {
	if h.cur == nil {
		return nil
	}
	return h.cur.buf[h.rpos:h.wpos]
}

// Discard skips the next n bytes; with fewer skipped it returns the error.
func (h *hashedReader) Discard(n int) (int, error) {
	skipped := 0
	for {
		k := min(n-skipped, h.wpos-h.rpos)
		h.rpos += k
		if skipped += k; skipped == n {
			return skipped, nil
		}
		if err := h.fill(1); err != nil {
			return skipped, err
		}
	}
}

func (h *hashedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := h.fill(1); err != nil {
		return 0, err
	}
	n := copy(p, h.cur.buf[h.rpos:h.wpos])
	h.rpos += n
	return n, nil
}

// ReadByte makes hashedReader a flate.Reader, so gzip reads it directly.
func (h *hashedReader) ReadByte() (byte, error) {
	if h.rpos == h.wpos {
		if err := h.fill(1); err != nil {
			return 0, err
		}
	}
	b := h.cur.buf[h.rpos]
	h.rpos++
	return b, nil
}

// sum stops the hashing goroutine and returns the digest of every byte
// read. Later calls return the same digest.
func (h *hashedReader) sum() []byte {
	h.stop()
	if h.final == nil {
		h.final = h.h.Sum(nil)
	}
	return h.final
}

// stop ends the hashing goroutine once it has hashed what was handed over.
func (h *hashedReader) stop() {
	h.once.Do(func() {
		close(h.work)
		<-h.done
	})
}
