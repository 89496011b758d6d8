package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
	"time"
)

// TestHashedReaderNoLeak: every path out of Open/NewReader, failed or not,
// ends the hashing goroutine.
func TestHashedReaderNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 50 {
		if _, err := NewReader("junk", bytes.NewReader([]byte("not a capture at all")), Options{}); err == nil {
			t.Fatal("junk accepted")
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after 50 failed opens, %d before", n, before)
	}
}

// TestHashedReaderChunks: the digest covers every byte, whatever the read
// sizes, including reads larger than one chunk.
func TestHashedReaderChunks(t *testing.T) {
	data := bytes.Repeat([]byte("flowproof"), 700_000) // 6.3 MB: many chunks
	h := newHashedReader(bytes.NewReader(data), DefaultReadBufferBytes)
	buf := make([]byte, 3<<20)
	for size := 1; ; size = size*7%len(buf) + 1 { // uneven read sizes, some over 1 MiB
		if n, err := h.Read(buf[:size]); err != nil || n == 0 {
			break
		}
	}
	want := sha256.Sum256(data)
	if got := hex.EncodeToString(h.sum()); got != hex.EncodeToString(want[:]) {
		t.Errorf("sha256 %s, want %x", got, want)
	}
	if h.n.Load() != int64(len(data)) {
		t.Errorf("counted %d bytes, want %d", h.n.Load(), len(data))
	}
}

// TestHashedReaderLikeBufio: Peek, Discard, Read and ReadByte return what
// bufio.Reader's do, bytes and errors, over readers that return data in
// small pieces, together with EOF, or fail midway; and the digest covers
// every byte read.
func TestHashedReaderLikeBufio(t *testing.T) {
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*31 + i>>8)
	}
	broken := errors.New("disk on fire")
	readers := map[string]func() io.Reader{
		"whole":      func() io.Reader { return bytes.NewReader(data) },
		"one byte":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":       func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"data + EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
		"fails":      func() io.Reader { return io.MultiReader(bytes.NewReader(data[:3001]), iotest.ErrReader(broken)) },
	}
	const size = 256
	for name, open := range readers {
		for seed := range uint64(20) {
			want := bufio.NewReaderSize(open(), size)
			h := newHashedReader(open(), size)
			rng := seed*0x9e3779b97f4a7c15 + 1
			next := func(n uint64) int {
				rng ^= rng << 13
				rng ^= rng >> 7
				rng ^= rng << 17
				return int(rng % n)
			}
			for step := 0; step < 400; step++ {
				op, n := next(4), next(size+40) // some Peeks beyond Size
				var got, exp string
				switch op {
				case 0:
					b1, e1 := h.Peek(n)
					b2, e2 := want.Peek(n)
					if n > size { // bufio fills its buffer first; no caller relies on the bytes
						b1, b2 = nil, nil
					}
					got, exp = fmt.Sprintf("peek %x %v", b1, e1), fmt.Sprintf("peek %x %v", b2, e2)
				case 1:
					k1, e1 := h.Discard(n)
					k2, e2 := want.Discard(n)
					got, exp = fmt.Sprintf("discard %d %v", k1, e1), fmt.Sprintf("discard %d %v", k2, e2)
				case 2:
					p1, p2 := make([]byte, n), make([]byte, n)
					k1, e1 := io.ReadFull(h, p1)
					k2, e2 := io.ReadFull(want, p2)
					got, exp = fmt.Sprintf("read %x %v", p1[:k1], e1), fmt.Sprintf("read %x %v", p2[:k2], e2)
				case 3:
					c1, e1 := h.ReadByte()
					c2, e2 := want.ReadByte()
					got, exp = fmt.Sprintf("byte %x %v", c1, e1), fmt.Sprintf("byte %x %v", c2, e2)
				}
				if got != exp {
					t.Fatalf("%s, seed %d, step %d: hashedReader %s, bufio %s", name, seed, step, got, exp)
				}
			}
			// Whatever was consumed, the digest covers all bytes read from the source.
			for {
				if _, err := h.Discard(size); err != nil {
					break
				}
			}
			read := data[:h.n.Load()]
			if sum := sha256.Sum256(read); !bytes.Equal(h.sum(), sum[:]) {
				t.Fatalf("%s, seed %d: digest does not match the %d bytes read", name, seed, len(read))
			}
		}
	}
}
