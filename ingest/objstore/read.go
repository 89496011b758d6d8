package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Object is one stored object as a listing or a read describes it.
type Object struct {
	URL  URL
	Size int64
	// ETag is the server's tag of the object's content, quotes removed: the
	// MD5 of a single-part upload, a hash of the parts' MD5s with "-N" for
	// an N-part one. It changes whenever the object is written.
	ETag     string
	Modified time.Time
}

// List returns every object whose key starts with prefix.Key, sorted by
// key, however many pages the server gives them in.
func (c *Client) List(ctx context.Context, prefix URL) ([]Object, error) {
	var objs []Object
	// Keys come URL-encoded: XML cannot carry every character a key may
	// hold (control characters), and a key read back wrong is another key.
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: aws.String(prefix.Bucket), Prefix: aws.String(prefix.Key), EncodingType: types.EncodingTypeUrl})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if page.EncodingType == types.EncodingTypeUrl {
				if key, err = url.QueryUnescape(key); err != nil {
					return nil, &Error{Op: "list", URL: prefix, Msg: fmt.Sprintf("the server sent the key %q badly encoded: %v", aws.ToString(o.Key), err), Err: err}
				}
			}
			obj := Object{URL: URL{Bucket: prefix.Bucket, Key: key}, Size: aws.ToInt64(o.Size), ETag: trimETag(aws.ToString(o.ETag))}
			if o.LastModified != nil {
				obj.Modified = *o.LastModified
			}
			objs = append(objs, obj)
		}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].URL.Key < objs[j].URL.Key })
	return objs, nil
}

// Stat describes one object without reading it.
func (c *Client) Stat(ctx context.Context, u URL) (Object, error) {
	out, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.Bucket), Key: aws.String(u.Key)})
	if err != nil {
		return Object{}, c.wrap("stat", u, err)
	}
	o := Object{URL: u, Size: aws.ToInt64(out.ContentLength), ETag: trimETag(aws.ToString(out.ETag))}
	if out.LastModified != nil {
		o.Modified = *out.LastModified
	}
	return o, nil
}

// Reader streams one object's bytes; nothing is kept but what the HTTP
// connection buffers. Object describes the bytes being read.
type Reader struct {
	Object
	body    io.ReadCloser
	c       *Client
	ctx     context.Context
	n       int64
	resumed int
	err     error
}

// maxResumes is how many times one read picks up again after its
// connection failed.
const maxResumes = 3

// Open starts reading an object. When want.ETag is set (as a listing gives
// it), the object must still have it: one changed since the listing fails
// with ErrChanged, one deleted since with ErrNoObject, so the bytes read are
// the ones listed. The caller must Close the Reader.
func (c *Client) Open(ctx context.Context, want Object) (*Reader, error) {
	out, err := c.get(ctx, want.URL, want.ETag, 0)
	if err != nil {
		return nil, err
	}
	r := &Reader{c: c, ctx: ctx, body: out.Body, Object: Object{URL: want.URL, Size: aws.ToInt64(out.ContentLength), ETag: trimETag(aws.ToString(out.ETag))}}
	if out.LastModified != nil {
		r.Modified = *out.LastModified
	}
	return r, nil
}

// get starts a GET of u from byte from on, of the version etag ("" any).
func (c *Client) get(ctx context.Context, u URL, etag string, from int64) (*s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(u.Bucket), Key: aws.String(u.Key)}
	if etag != "" {
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	if from > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", from))
	}
	out, err := c.s3.GetObject(ctx, in)
	if err != nil {
		return nil, c.wrap("get", u, err)
	}
	return out, nil
}

// Read reads the object's next bytes. A connection that fails midway is
// picked up where it stopped (a ranged GET of the same version, up to
// maxResumes times), so the bytes read are the object's, once each, in
// order; past that, or when the object changed meanwhile, it is an error
// naming the object and how far it got, never a clean io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	r.n += int64(n)
	if err == io.EOF && r.n == r.Size {
		r.err = err
		return n, err
	}
	if err == nil {
		return n, nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if r.ctx.Err() == nil && r.ETag != "" && r.resumed < maxResumes && r.n < r.Size {
		r.resumed++
		r.body.Close()
		out, gerr := r.c.get(r.ctx, r.URL, r.ETag, r.n)
		if gerr == nil {
			r.body = out.Body
			return n, nil
		}
		err = fmt.Errorf("%w (picking up after it: %w)", err, gerr)
		r.body = io.NopCloser(strings.NewReader(""))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrChanged) && !errors.Is(err, ErrNoObject) {
		msg := fmt.Sprintf("the stream ended after %d of %d bytes", r.n, r.Size)
		if r.resumed > 0 {
			msg += fmt.Sprintf(" (picked up again %d times)", r.resumed)
		}
		r.err = &Error{Op: "get", URL: r.URL, Kind: ErrChanged, Err: err, Msg: msg,
			Hint: "the connection was cut, or the object changed: run again"}
		return n, r.err
	}
	r.err = r.c.wrap("get", r.URL, fmt.Errorf("after %d of %d bytes: %w", r.n, r.Size, err))
	return n, r.err
}

// Close ends the read.
func (r *Reader) Close() error { return r.body.Close() }

func trimETag(s string) string { return strings.Trim(s, `"`) }
