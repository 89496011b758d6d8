package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Put sets the conditions of an upload (S3 conditional writes).
type Put struct {
	// IfMatch: replace the object only if it still has this ETag (as read
	// before): another writer's update in between fails with ErrChanged
	// instead of being lost.
	IfMatch string
	// IfAbsent: create the object only if there is none.
	IfAbsent bool
}

// Uploaded is what an upload stored.
type Uploaded struct {
	URL    URL
	Size   int64
	SHA256 string // lowercase hex, of the bytes sent
	ETag   string
	Parts  int // 0 for a single PUT
}

// abortTimeout bounds the clean-up of a failed upload, which runs even when
// the caller's context is canceled.
const abortTimeout = 30 * time.Second

// Upload stores r's bytes as the object u, hashing them (SHA-256) as they
// are sent. What fits one part goes in one PUT; anything longer is a
// multipart upload of PartSize parts, Concurrency at once. Either way the
// object appears only once all its bytes are stored: a failed or canceled
// multipart upload is aborted, and the object keeps its earlier content (or
// stays absent).
//
// Memory: at most Concurrency part buffers of PartSize bytes per Upload,
// reused from part to part, whatever the stream's length.
func (c *Client) Upload(ctx context.Context, u URL, r io.Reader, cond Put) (Uploaded, error) {
	up := &upload{c: c, u: u, cond: cond, h: sha256.New(), free: make(chan []byte, c.cfg.Concurrency)}
	defer up.release()
	buf := up.buffer()
	n, err := io.ReadFull(r, buf)
	up.h.Write(buf[:n])
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		return up.single(ctx, buf[:n])
	case nil:
		return up.multipart(ctx, r, buf)
	default:
		return Uploaded{}, fmt.Errorf("%s: read what to upload: %w", u, err)
	}
}

// UploadFile uploads the file at path as u.
func (c *Client) UploadFile(ctx context.Context, u URL, path string, cond Put) (Uploaded, error) {
	f, err := os.Open(path)
	if err != nil {
		return Uploaded{}, err
	}
	defer f.Close()
	return c.Upload(ctx, u, f, cond)
}

// upload is one Upload's state.
type upload struct {
	c     *Client
	u     URL
	cond  Put
	h     hash.Hash
	free  chan []byte
	alloc int // buffers made
}

// buffer returns a free part buffer, making one while fewer than
// Concurrency exist; else it waits for one.
func (up *upload) buffer() []byte {
	select {
	case b := <-up.free:
		return b
	default:
	}
	if up.alloc < up.c.cfg.Concurrency {
		up.alloc++
		n := up.c.bufs.Add(1)
		for p := up.c.peakBufs.Load(); n > p && !up.c.peakBufs.CompareAndSwap(p, n); p = up.c.peakBufs.Load() {
		}
		return make([]byte, up.c.cfg.PartSize)
	}
	return <-up.free
}

// release forgets the upload's buffers (for the count; the GC frees them).
func (up *upload) release() { up.c.bufs.Add(-int64(up.alloc)) }

func (up *upload) done(size int64, etag string, parts int) Uploaded {
	return Uploaded{URL: up.u, Size: size, SHA256: hex.EncodeToString(up.h.Sum(nil)), ETag: trimETag(etag), Parts: parts}
}

func (up *upload) conditions() (ifMatch, ifNoneMatch *string) {
	if up.cond.IfMatch != "" {
		ifMatch = aws.String(`"` + up.cond.IfMatch + `"`)
	}
	if up.cond.IfAbsent {
		ifNoneMatch = aws.String("*")
	}
	return ifMatch, ifNoneMatch
}

func (up *upload) single(ctx context.Context, b []byte) (Uploaded, error) {
	im, inm := up.conditions()
	out, err := up.c.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(up.u.Bucket), Key: aws.String(up.u.Key),
		Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		IfMatch: im, IfNoneMatch: inm,
	})
	if err != nil {
		return Uploaded{}, up.c.wrap("put", up.u, err)
	}
	return up.done(int64(len(b)), aws.ToString(out.ETag), 0), nil
}

// multipart sends first (a full part already read and hashed) and the rest
// of r as parts, then completes the upload; on any failure it aborts it.
func (up *upload) multipart(ctx context.Context, r io.Reader, first []byte) (res Uploaded, err error) {
	c, u := up.c, up.u
	created, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(u.Bucket), Key: aws.String(u.Key)})
	if err != nil {
		return Uploaded{}, c.wrap("start the upload of", u, err)
	}
	id := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if _, aerr := c.s3.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(u.Bucket), Key: aws.String(u.Key), UploadId: id}); aerr != nil {
			err = fmt.Errorf("%w (and aborting the multipart upload failed too: %v; a bucket lifecycle rule for incomplete uploads removes its parts)", err, c.wrap("abort", u, aerr))
		}
	}()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		parts    []types.CompletedPart
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	send := func(num int32, b []byte) {
		defer wg.Done()
		out, err := c.s3.UploadPart(pctx, &s3.UploadPartInput{
			Bucket: aws.String(u.Bucket), Key: aws.String(u.Key), UploadId: id, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		})
		up.free <- b[:cap(b)]
		if err != nil {
			fail(c.wrap(fmt.Sprintf("upload part %d of", num), u, err))
			return
		}
		mu.Lock()
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag})
		mu.Unlock()
	}
	size := int64(len(first))
	wg.Add(1)
	go send(1, first)
	num := int32(1)
	for pctx.Err() == nil {
		buf := up.buffer()
		n, rerr := io.ReadFull(r, buf)
		if n == 0 {
			up.free <- buf
			if rerr != io.EOF {
				fail(fmt.Errorf("%s: read what to upload: %w", u, rerr))
			}
			break
		}
		up.h.Write(buf[:n])
		size += int64(n)
		if num++; num > MaxParts {
			up.free <- buf
			fail(&Error{Op: "upload", URL: u, Kind: ErrTooLarge, Msg: fmt.Sprintf("more than %d parts of %d bytes", MaxParts, c.cfg.PartSize), Hint: "raise --s3-part-size"})
			break
		}
		wg.Add(1)
		go send(num, buf[:n])
		if rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			fail(fmt.Errorf("%s: read what to upload: %w", u, rerr))
			break
		}
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return Uploaded{}, firstErr
	}
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	im, inm := up.conditions()
	out, err := c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.Bucket), Key: aws.String(u.Key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfMatch:         im, IfNoneMatch: inm,
	})
	if err != nil {
		return Uploaded{}, c.wrap("complete the upload of", u, err)
	}
	return up.done(size, aws.ToString(out.ETag), len(parts)), nil
}
