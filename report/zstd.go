package report

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdWindow is the zstd window used for pages. A page is at most a few
// hundred KiB (the writer's page buffer is 32 KiB), so matches never reach
// further back; the default 8 MiB window only costs memory (16 MiB of
// history per encoder).
const zstdWindow = 1 << 20

// zstdCodec is a parquet compress.Codec producing standard zstd frames with a
// small window and one long-lived encoder per FlowWriter. parquet-go's own
// codec keeps default-window encoders in a sync.Pool, which every GC empties,
// so a long write re-allocates their history again and again.
type zstdCodec struct {
	once sync.Once
	enc  *zstd.Encoder // EncodeAll is safe for concurrent use
	dec  *zstd.Decoder // DecodeAll is safe for concurrent use
	err  error

	// For pages of numbers (EncodeNumbers), made on first use: the same
	// settings without entropy coding of literals.
	numOnce sync.Once
	num     *zstd.Encoder
	numErr  error
}

// encoderOptions are the settings of both encoders.
func encoderOptions() []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderLevel(zstd.SpeedFastest), // pages are small and dictionary-encoded already: level 1 costs half the CPU for ~10% more bytes
		zstd.WithWindowSize(zstdWindow),
		zstd.WithLowerEncoderMem(true),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false),
	}
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) init() {
	c.once.Do(func() {
		c.enc, c.err = zstd.NewWriter(nil, encoderOptions()...)
		if c.err != nil {
			return
		}
		c.dec, c.err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	})
}

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	if c.init(); c.err != nil {
		return dst[:0], c.err
	}
	return c.enc.EncodeAll(src, dst[:0]), nil
}

// EncodeNumbers compresses a page of numbers (delta-packed or PLAIN
// integers, booleans, levels, dictionary indexes) into a standard zstd
// frame without entropy coding of literals: Huffman tables were about 8%
// of the flow writer's time and shrink such pages little (README: Speed
// and memory). Text (strings, dictionaries) goes through Encode.
func (c *zstdCodec) EncodeNumbers(dst, src []byte) ([]byte, error) {
	c.numOnce.Do(func() {
		c.num, c.numErr = zstd.NewWriter(nil, append(encoderOptions(), zstd.WithNoEntropyCompression(true))...)
	})
	if c.numErr != nil {
		return dst[:0], c.numErr
	}
	return c.num.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	if c.init(); c.err != nil {
		return dst[:0], c.err
	}
	return c.dec.DecodeAll(src, dst[:0])
}

// close releases the codec's encoder and decoder.
func (c *zstdCodec) close() {
	if c.enc != nil {
		c.enc.Close()
	}
	if c.num != nil {
		c.num.Close()
	}
	if c.dec != nil {
		c.dec.Close()
	}
}
