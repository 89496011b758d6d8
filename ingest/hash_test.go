package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"testing"
	"time"
)

// TestHashingReaderNoLeak: every path out of Open/NewReader, failed or not,
// ends the hashing goroutine.
func TestHashingReaderNoLeak(t *testing.T) {
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

// TestHashingReaderChunks: the digest covers every byte, whatever the read
// sizes, including reads larger than one hand-off buffer.
func TestHashingReaderChunks(t *testing.T) {
	data := bytes.Repeat([]byte("flowproof"), 700_000) // 6.3 MB: several buffers
	h := newHashingReader(bytes.NewReader(data))
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
