package ingest

import (
	"errors"
	"fmt"
)

// Packet is one captured frame as a Reader hands it out.
//
// Data aliases the reader's internal buffer: it is valid only until the next
// call to Next on the same reader. Copy what you keep, or keep its buffer
// with a Hold.
type Packet struct {
	Data      []byte   // captured bytes (may be shorter than OrigLen: snaplen)
	OrigLen   int      // length of the frame on the wire
	Timestamp int64    // capture time, nanoseconds since the Unix epoch (UTC)
	LinkType  LinkType // link type of the interface the frame came from
	Index     int64    // 0-based index of the packet within its file
	Offset    int64    // byte offset of the packet's record in the uncompressed file
	// Origin is, for a packet of several captures merged into one stream
	// (per-node captures of one evidence directory), 1 + the number of the
	// capture it came from; 0 for a capture read alone.
	Origin uint8

	buf *chunk // the read chunk Data is in, for a Hold; nil when none
}

// Hold keeps the Data of packets valid past the next call to Next, until
// Release: a consumer that hands packets to another goroutine in batches
// holds each batch's instead of copying them. It keeps whole read chunks,
// so that a Capture makes more of them while some are held. It is for one
// goroutine at a time; its zero value is ready.
type Hold struct {
	chunks []*chunk
	most   int // the most chunks of one Capture in chunks
}

// Add keeps p's Data valid until Release and reports whether it could. p
// must be the packet Next returned last, and Add run on the goroutine that
// calls Next (the reader has not moved on). It cannot for Data in a buffer
// the reader reuses regardless (a record larger than the read buffer, a
// gzip-compressed capture, a Packet not from a Capture): copy that one.
func (h *Hold) Add(p *Packet) bool {
	c := p.buf
	if c == nil {
		return false
	}
	if n := len(h.chunks); n > 0 && h.chunks[n-1] == c {
		return true // packets mostly follow each other in a chunk
	}
	// Packets of captures merged into one stream take turns.
	same := 1
	for _, d := range h.chunks {
		if d == c {
			return true
		}
		if d.owner == c.owner {
			same++
		}
	}
	// The reader still parses c: it holds a reference, so c is not free.
	c.refs.Add(1)
	if c.holds.Add(1) == 1 {
		c.owner.held.Add(1)
	}
	h.chunks = append(h.chunks, c)
	h.most = max(h.most, same)
	return true
}

// Chunks is the most read chunks h holds of one Capture.
func (h *Hold) Chunks() int { return h.most }

// Release lets go of every packet added since the last Release. It may be
// called from another goroutine than Add's, once Add's is done with h.
func (h *Hold) Release() {
	for i, c := range h.chunks {
		if c.holds.Add(-1) == 0 {
			c.owner.held.Add(-1)
		}
		c.owner.release(c)
		h.chunks[i] = nil
	}
	h.chunks, h.most = h.chunks[:0], 0
}

// Sentinel errors carried inside a *FormatError (test with errors.Is).
// A FormatError carrying ErrRead wraps the operating system's error too, so
// errors.Is(err, ErrRead) and, say, errors.Is(err, fs.ErrPermission) both hold.
var (
	ErrNotCapture  = errors.New("not a pcap or pcapng capture")
	ErrText        = errors.New("the file is text") // with ErrNotCapture: an error page, a login page, a log
	ErrTruncated   = errors.New("file ends in the middle of a record")
	ErrCorrupt     = errors.New("corrupt record")
	ErrTooLarge    = errors.New("length field exceeds the reader's cap")
	ErrUnsupported = errors.New("unsupported capture format variant")
	ErrRead        = errors.New("cannot read the file")
)

// FormatError reports bad bytes in a capture: which file, which packet, and
// where in the (uncompressed) stream.
type FormatError struct {
	File   string // path as given by the user
	Packet int64  // 0-based index of the packet being read, -1 for the file header
	Offset int64  // byte offset in the uncompressed stream
	Err    error  // one of the sentinels above, possibly wrapped with detail
}

func (e *FormatError) Error() string {
	where := "file header"
	if e.Packet >= 0 {
		// Index and Wireshark's 1-based frame number, so either can be looked up.
		where = fmt.Sprintf("packet index %d (frame %d)", e.Packet, e.Packet+1)
	}
	return fmt.Sprintf("%s: %s at byte offset %d: %v", e.File, where, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }
