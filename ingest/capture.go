package ingest

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"unicode/utf8"

	// klauspost's gzip, already linked for zstd, reads the same format as the
	// standard library's, faster (README: Speed and memory).
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// Defaults for the zero fields of Options.
const (
	// DefaultMaxPacketBytes is tcpdump's largest snaplen: no writer we know of
	// puts a longer pcap record in a file.
	DefaultMaxPacketBytes = 262144
	// DefaultMaxBlockBytes leaves room for a 16 MiB packet (the largest
	// Wireshark accepts for any link type) plus the block's header and options.
	DefaultMaxBlockBytes = 16<<20 + 64<<10
	// DefaultMaxInterfaces is far above what real captures declare (a few,
	// rarely a hundred) and keeps the per-interface state bounded.
	DefaultMaxInterfaces = 65536
	// DefaultReadBufferBytes makes reads from the file large and lets nearly
	// every record be handed out straight from the buffer, without a copy.
	DefaultReadBufferBytes = 256 << 10

	minReadBufferBytes = 64 // holds every fixed-size header the reader peeks at
)

// Options bounds what the reader trusts. A zero field takes its Default value.
type Options struct {
	// MaxPacketBytes caps the captured length of a pcap record. The pcap file
	// header's snaplen is not used for this: writers get it wrong.
	MaxPacketBytes int
	// MaxBlockBytes caps the total length of a pcapng block, and so the
	// captured length of any packet in it.
	MaxBlockBytes int
	// MaxInterfaces caps the pcapng Interface Description Blocks in one file.
	MaxInterfaces int
	// ReadBufferBytes sizes each of the five read chunks (up to twelve
	// while a Hold keeps some; for a file, no larger than the file) and,
	// for gzip, each of the four buffers of decompressed bytes. A record
	// that does not fit is copied into a separate buffer that grows up to
	// the caps above. Values below 64 are raised to 64.
	ReadBufferBytes int
	// MaxGunzipBytes caps what a gzip-compressed capture expands to (0: no
	// cap): a small .gz can stand for a huge capture.
	MaxGunzipBytes int64
}

func (o Options) withDefaults() Options {
	if o.MaxPacketBytes <= 0 {
		o.MaxPacketBytes = DefaultMaxPacketBytes
	}
	if o.MaxBlockBytes <= 0 {
		o.MaxBlockBytes = DefaultMaxBlockBytes
	}
	if o.MaxInterfaces <= 0 {
		o.MaxInterfaces = DefaultMaxInterfaces
	}
	if o.ReadBufferBytes <= 0 {
		o.ReadBufferBytes = DefaultReadBufferBytes
	}
	o.ReadBufferBytes = max(o.ReadBufferBytes, minReadBufferBytes)
	return o
}

// FileInfo describes a capture once it has been read: what a manifest needs
// to prove which bytes were analysed.
type FileInfo struct {
	Path   string // as given to Open
	Name   string // base name of Path
	Size   int64  // bytes in the file (compressed bytes for gzip)
	SHA256 string // lowercase hex SHA-256 of the file's raw bytes (before gunzip)
	// Format is "pcap" (µs), "pcap-ns", "pcap-modified" (Kuznetzov) or
	// "pcapng", with "+gzip" appended when the file is gzip-compressed.
	Format string
	// Interfaces lists the pcap file header, or every pcapng Interface
	// Description Block read, in file order.
	Interfaces []InterfaceInfo
	// LinkTypes counts the packets returned per link type, sorted by link
	// type; a link type an interface declares but no packet used has 0.
	LinkTypes []LinkTypeCount
	Packets   int64 // packets returned by Next
	// FirstNs and LastNs are the earliest and latest packet timestamps (epoch
	// ns); captures are not always in time order. Both are 0 when no packet
	// carried a timestamp (pcapng Simple Packet Blocks carry none).
	FirstNs, LastNs int64
}

// InterfaceInfo is one capture interface: the pcap file header, or one pcapng
// Interface Description Block.
type InterfaceInfo struct {
	Section  int      // 0-based pcapng section; 0 for pcap
	ID       int      // interface id within its section
	LinkType LinkType // low 16 bits of the pcap link type field
	Snaplen  uint32   // as declared; 0 means no limit in pcapng
	Name     string   // pcapng if_name option; "" when absent
	Packets  int64    // packets returned from this interface
}

// LinkTypeCount is the number of packets returned with one link type.
type LinkTypeCount struct {
	LinkType LinkType
	Name     string // e.g. "Ethernet"; "UnknownLinkType(160)" for one LinkType.String does not name
	Packets  int64
}

// stream is what the parsers read: the file's hashedReader, or a
// bufio.Reader over gzip's output. Both return Peek's slice without a copy.
type stream interface {
	io.Reader
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	Size() int
}

// Capture reads the packets of one pcap or pcapng file, possibly gzipped,
// and hashes the file's bytes as it goes. It is not safe for concurrent use,
// except BytesRead and Size, which a progress display may call at any time.
type Capture struct {
	path string
	opts Options
	file *os.File // nil when built by NewReader
	size int64    // -1 when unknown

	src   *hashedReader // the file's bytes
	gz    *gzip.Reader  // nil unless the file is gzip-compressed
	unzip *gunzipAhead  // runs gz; nil unless gzip
	r     stream        // the uncompressed stream: src, or a buffer over unzip

	off     int64  // offset of the next unread byte of the uncompressed stream
	scratch []byte // holds a record larger than r's buffer
	direct  bool   // r is src: take returns bytes of src's current chunk (or of scratch)
	format  string

	bigEndian bool // byte order of the pcap file or the current pcapng section
	inHeader  bool // errors now belong to the file header (packet index -1)

	// pcap
	pcapRecordLen int   // 16, or 24 for the modified format
	pcapFracNs    int64 // ns per unit of the record's sub-second field
	pcapLink      LinkType

	// pcapng
	pcapng  bool
	section int     // 0-based index of the current section
	ifaces  []iface // interfaces of the current section

	infos    []InterfaceInfo // every interface read, with its packet count
	packets  int64           // packets returned so far
	timed    bool            // FirstNs and LastNs hold a value
	firstNs  int64
	lastNs   int64
	err      error // sticky: returned by every Next after the first failure
	finished *FileInfo
}

var (
	errFinished = errors.New("ingest: Next called after Finish")
	errClosed   = errors.New("ingest: the capture is closed")
)

// Open opens the capture at path and reads its file header. The format is
// detected from the first bytes, never from the name: pcap (µs, ns or the
// modified format, either byte order), pcapng, or a gzip of either. Bytes that
// are not a capture give a *FormatError wrapping ErrNotCapture that says what
// the file looks like. The caller must Close the Capture.
func Open(path string, opts Options) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory (Expand lists the files in it)", path)
	}
	size := int64(-1)
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	c, err := newCapture(path, f, size, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	c.file = f
	return c, nil
}

// NewReader reads a capture from r, as Open does from a file. name is used in
// errors and FileInfo. Size reports -1 because the length of r is unknown.
func NewReader(name string, r io.Reader, opts Options) (*Capture, error) {
	return newCapture(name, r, -1, opts)
}

// NewSizedReader reads a capture of a known length from r (an object in
// object storage): Size reports size, for a progress display, and Finish
// fails when r gave another number of bytes. A negative size is unknown.
func NewSizedReader(name string, r io.Reader, size int64, opts Options) (*Capture, error) {
	return newCapture(name, r, size, opts) // a negative size is unknown, as for NewReader
}

func newCapture(path string, r io.Reader, size int64, opts Options) (c *Capture, err error) {
	opts = opts.withDefaults()
	chunk := opts.ReadBufferBytes
	if size >= 0 {
		// No record is longer than the file: a small file gets small chunks.
		chunk = int(min(int64(chunk), max(size, minReadBufferBytes)))
	}
	src := newHashedReader(r, chunk)
	var unzip *gunzipAhead
	defer func() {
		if err != nil { // no Capture to Close: end the goroutines here
			unzip.stop()
			src.stop()
		}
	}()
	c = &Capture{
		path:     path,
		opts:     opts,
		size:     size,
		src:      src,
		inHeader: true,
	}
	c.r, c.direct = c.src, true
	magic, err := c.r.Peek(4)
	compressed := len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b
	if compressed {
		if c.gz, err = gzip.NewReader(c.src); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = fmt.Errorf("%w: the gzip header is cut short (the file has %d bytes)", ErrTruncated, c.src.n.Load())
			} else {
				err = c.readErr(err)
			}
			return nil, c.fail(0, err)
		}
		unzip = startGunzip(c.gz, opts.ReadBufferBytes)
		c.unzip = unzip
		var out io.Reader = unzip
		if opts.MaxGunzipBytes > 0 {
			out = &capReader{r: unzip, left: opts.MaxGunzipBytes, max: opts.MaxGunzipBytes}
		}
		c.r, c.direct = bufio.NewReaderSize(out, opts.ReadBufferBytes), false
		magic, err = c.r.Peek(4)
	}
	if len(magic) < 4 {
		if err != io.EOF {
			return nil, c.fail(0, c.shortRead(err, "file header", len(magic), 4))
		}
		return nil, c.fail(0, notCapture(magic, compressed))
	}

	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	switch {
	case be == blockSectionHeader:
		c.pcapng = true
		c.format = "pcapng"
		c.section = -1 // the first Section Header Block makes it 0
		err = c.readSectionHeader()
	case le == magicMicros || be == magicMicros:
		c.format = "pcap"
		err = c.readPcapHeader(be == magicMicros, 1000, pcapRecordLen)
	case le == magicNanos || be == magicNanos:
		c.format = "pcap-ns"
		err = c.readPcapHeader(be == magicNanos, 1, pcapRecordLen)
	case le == magicModified || be == magicModified:
		c.format = "pcap-modified"
		err = c.readPcapHeader(be == magicModified, 1000, modifiedRecordLen)
	default:
		err = c.fail(0, notCapture(magic, compressed))
	}
	if err != nil {
		return nil, err
	}
	if compressed {
		c.format += "+gzip"
	}
	c.inHeader = false
	return c, nil
}

// Next reads the next packet into p. p.Data aliases a buffer of the Capture
// that the next call may overwrite: copy what you keep, or Hold it. Next
// returns io.EOF at a clean end of file. Any other failure is a
// *FormatError (ErrTruncated, ErrCorrupt, ErrTooLarge, ErrUnsupported or
// ErrRead); the packets returned before it are good, and every later call
// returns the same error.
func (c *Capture) Next(p *Packet) error {
	if c.err != nil {
		return c.err
	}
	var err error
	if c.pcapng {
		err = c.nextBlock(p)
	} else {
		err = c.nextRecord(p)
	}
	if err != nil {
		c.err = err
		return err
	}
	c.packets++
	return nil
}

// counted records a packet read from interface info; timed is false for
// packets that carry no timestamp.
func (c *Capture) counted(p *Packet, info int, timed bool) {
	p.Index = c.packets
	c.infos[info].Packets++
	if !timed {
		return
	}
	switch {
	case !c.timed:
		c.timed = true
		c.firstNs, c.lastNs = p.Timestamp, p.Timestamp
	case p.Timestamp < c.firstNs:
		c.firstNs = p.Timestamp
	case p.Timestamp > c.lastNs:
		c.lastNs = p.Timestamp
	}
}

// BytesRead is the number of bytes read from the file so far (compressed
// bytes for gzip), for a progress display. It runs ahead of the packets
// returned by up to two read buffers. Safe to call from any goroutine.
func (c *Capture) BytesRead() int64 { return c.src.n.Load() }

// Size is the file's size when opened, or -1 when unknown (NewReader, pipes).
func (c *Capture) Size() int64 { return c.size }

// Finish reads the rest of the file through the hash (when Next stopped on an
// error or was not called to the end) and describes the file. After Finish,
// Next returns an error. Finish does not close the file. It fails when the
// rest of the file cannot be read, or when the file's length changed while it
// was read: the hash would then not match the file on disk.
func (c *Capture) Finish() (FileInfo, error) {
	if c.finished != nil {
		return *c.finished, nil
	}
	if c.err == errClosed {
		return FileInfo{}, fmt.Errorf("%s: %w (call Finish before Close)", c.path, c.err)
	}
	if c.err == nil {
		c.err = errFinished
	}
	c.unzip.stop() // src is read here from now on
	for {
		if _, err := c.src.Discard(c.src.Size()); err == io.EOF {
			break
		} else if err != nil {
			return FileInfo{}, fmt.Errorf("%s: hashing the rest of the file: %w", c.path, err)
		}
	}
	n := c.src.n.Load()
	if c.size >= 0 && n != c.size {
		return FileInfo{}, fmt.Errorf("%s: file size changed while it was read (%d bytes when opened, %d read): read it again once it is complete", c.path, c.size, n)
	}
	info := FileInfo{
		Path:       c.path,
		Name:       filepath.Base(c.path),
		Size:       n,
		SHA256:     hex.EncodeToString(c.src.sum()),
		Format:     c.format,
		Interfaces: slices.Clone(c.infos),
		LinkTypes:  linkTypeCounts(c.infos),
		Packets:    c.packets,
	}
	if c.timed {
		info.FirstNs, info.LastNs = c.firstNs, c.lastNs
	}
	c.finished = &info
	return info, nil
}

func linkTypeCounts(infos []InterfaceInfo) []LinkTypeCount {
	var counts []LinkTypeCount
	for _, in := range infos {
		i, found := slices.BinarySearchFunc(counts, in.LinkType, func(c LinkTypeCount, t LinkType) int {
			return int(c.LinkType) - int(t)
		})
		if !found {
			counts = slices.Insert(counts, i, LinkTypeCount{LinkType: in.LinkType, Name: linkTypeName(in.LinkType)})
		}
		counts[i].Packets += in.Packets
	}
	return counts
}

func linkTypeName(t LinkType) string {
	name := t.String()
	if name == "UnknownLinkType" {
		return fmt.Sprintf("UnknownLinkType(%d)", t)
	}
	return name
}

// Close releases the file. It does not hash the unread rest: call Finish
// first when the hash is wanted.
func (c *Capture) Close() error {
	if c.err == nil {
		c.err = errClosed // the reader's buffers and hashing goroutine are gone
	}
	c.unzip.stop()
	c.src.stop()
	if c.file == nil {
		return nil
	}
	err := c.file.Close()
	c.file = nil
	return err
}

// fail builds the FormatError for the record (or header) that starts at off.
func (c *Capture) fail(off int64, err error) error {
	index := c.packets
	if c.inHeader {
		index = -1
	}
	return &FormatError{File: c.path, Packet: index, Offset: off, Err: err}
}

// shortRead explains a read of need bytes of what that got only have.
func (c *Capture) shortRead(err error, what string, have, need int) error {
	switch {
	case err == io.EOF:
		return fmt.Errorf("%w: %s needs %d bytes, the file ends after %d", ErrTruncated, what, need, have)
	case errors.Is(err, io.ErrUnexpectedEOF) && c.gz != nil:
		return fmt.Errorf("%w: the gzip stream ends early, inside the %s (the .gz file was cut short)", ErrTruncated, what)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s needs %d bytes, the file ends after %d", ErrTruncated, what, need, have)
	}
	return c.readErr(err)
}

func (c *Capture) readErr(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt) {
		return fmt.Errorf("%w: gzip stream: %v", ErrCorrupt, err)
	}
	return fmt.Errorf("%w: %w", ErrRead, err)
}

// take returns the next n bytes of the uncompressed stream and consumes them.
// What fits the read buffer is returned from it without a copy; a larger
// record is copied into scratch. The slice is valid until the next take.
// On a short read it returns what was available and the error.
func (c *Capture) take(n int) ([]byte, error) {
	if n <= c.r.Size() {
		b, err := c.r.Peek(n)
		if err != nil {
			return b, err
		}
		c.r.Discard(n)
		c.off += int64(n)
		return b, nil
	}
	if cap(c.scratch) < n {
		c.scratch = make([]byte, n)
	}
	b := c.scratch[:n]
	got, err := io.ReadFull(c.r, b)
	c.off += int64(got)
	return b[:got], err
}

// takenFrom is the read chunk holding the n bytes take just returned, nil
// when they are not in one (scratch, or gzip's output).
func (c *Capture) takenFrom(n int) *chunk {
	if !c.direct || n > c.src.chunkSize {
		return nil
	}
	return c.src.cur
}

// notCapture says what the first bytes of a non-capture look like and what
// to do about it.
func notCapture(magic []byte, gunzipped bool) error {
	inside := ""
	if gunzipped {
		inside = " inside the gzip stream"
	}
	if len(magic) < 4 {
		if len(magic) == 0 {
			return fmt.Errorf("%w: the file is empty%s (0 bytes): the capture was never written or was cut off; take it again", ErrNotCapture, inside)
		}
		return fmt.Errorf("%w: only %d bytes%s, too short for any capture header: the capture was cut off; take it again", ErrNotCapture, len(magic), inside)
	}
	what, text := lookalike(magic)
	err := fmt.Errorf("%w: expected a pcap or pcapng capture (or a gzip of one); got magic 0x%x%s: %s",
		ErrNotCapture, magic, inside, what)
	if text {
		return markedError{err, ErrText}
	}
	return err
}

// markedError is err, also matching mark with errors.Is.
type markedError struct{ err, mark error }

func (e markedError) Error() string   { return e.err.Error() }
func (e markedError) Unwrap() []error { return []error{e.err, e.mark} }

// lookalike says what a file with this magic number is, and whether it
// is text.
func lookalike(magic []byte) (what string, text bool) {
	switch {
	case string(magic) == "PK\x03\x04":
		return "a zip archive; extract the capture from it first", false
	case string(magic[:3]) == "BZh":
		return "bzip2-compressed; decompress it first (bunzip2)", false
	case string(magic) == "\xfd7zX":
		return "xz-compressed; decompress it first (unxz)", false
	case string(magic) == "\x28\xb5\x2f\xfd":
		return "zstd-compressed; decompress it first (unzstd)", false
	case string(magic) == "snoo":
		return "a Solaris snoop capture; convert it with editcap -F pcap", false
	case string(magic) == "GMBU":
		return "a Microsoft Network Monitor capture; convert it with editcap -F pcap", false
	case isText(magic):
		return fmt.Sprintf("looks like text (starts with %q), not a capture; export the capture as pcap or pcapng", magic), true
	}
	return "not a format flowproof reads; if it is a capture, convert it with editcap -F pcapng", false
}

func isText(b []byte) bool {
	for _, r := range string(b) {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
			return false
		}
	}
	return true
}

// capReader ends a decompressed stream that grows beyond its cap.
type capReader struct {
	r    io.Reader
	left int64
	max  int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, err := c.r.Read(one[:]); n == 0 && err != nil {
			return 0, err // the stream ends right at the cap
		}
		return 0, fmt.Errorf("%w: the gzip stream expands beyond %d bytes, the cap on a capture's size", ErrTooLarge, c.max)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// gunzipAhead decompresses on a goroutine of its own, a buffer ahead of the
// parser: for a gzipped capture, decompressing is most of the reading, and
// this lets it run beside parsing and decoding. The goroutine fills whole
// buffers from the gzip reader (a hand-off per buffer, not per gzip
// block), and Read returns their bytes and then the gzip reader's error
// unchanged (io.EOF at the end).
type gunzipAhead struct {
	full    chan gunzipBuf
	free    chan []byte
	cur     gunzipBuf
	pos     int
	stopped chan struct{}
	once    sync.Once
	done    chan struct{}
}

type gunzipBuf struct {
	b   []byte
	err error // after b
}

var errStopped = errors.New("ingest: decompression stopped")

// gunzipBuffers keeps buffers from one gzipped capture to the next: a run
// over many small ones would otherwise allocate and clear 768 KiB for each.
var gunzipBuffers sync.Pool // of *[]byte

func gunzipBuffer(n int) []byte {
	if b, _ := gunzipBuffers.Get().(*[]byte); b != nil && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n)
}

func startGunzip(gz io.Reader, bufBytes int) *gunzipAhead {
	g := &gunzipAhead{
		full:    make(chan gunzipBuf, 2),
		free:    make(chan []byte, 3),
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
	}
	for range cap(g.free) {
		g.free <- gunzipBuffer(bufBytes)
	}
	go func() {
		defer close(g.done)
		for {
			var buf []byte
			select {
			case buf = <-g.free:
			case <-g.stopped:
				return
			}
			n, err := 0, error(nil)
			for n < len(buf) && err == nil {
				var k int
				k, err = gz.Read(buf[n:])
				n += k
			}
			select {
			case g.full <- gunzipBuf{buf[:n], err}:
			case <-g.stopped:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return g
}

func (g *gunzipAhead) Read(p []byte) (int, error) {
	for g.pos == len(g.cur.b) {
		if g.cur.err != nil {
			return 0, g.cur.err
		}
		if g.cur.b != nil {
			g.free <- g.cur.b[:cap(g.cur.b)]
		}
		g.cur, g.pos = <-g.full, 0
	}
	n := copy(p, g.cur.b[g.pos:])
	g.pos += n
	return n, nil
}

// stop ends the goroutine and waits for it, so that the file's reader is
// free for Finish; nil does nothing.
func (g *gunzipAhead) stop() {
	if g == nil {
		return
	}
	g.once.Do(func() {
		close(g.stopped)
		<-g.done
		// Nothing reads the buffers any more: pool them.
		keep := func(b []byte) {
			if b != nil {
				b = b[:cap(b)]
				gunzipBuffers.Put(&b)
			}
		}
		keep(g.cur.b)
		g.cur = gunzipBuf{}
		for {
			select {
			case b := <-g.free:
				keep(b)
			case b := <-g.full:
				keep(b.b)
			default:
				return
			}
		}
	})
}
