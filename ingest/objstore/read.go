package objstore

import (
	"context"
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
	body io.ReadCloser
	c    *Client
	n    int64
	err  error
}

// Open starts reading an object. When want.ETag is set (as a listing gives
// it), the object must still have it: one changed since the listing fails
// with ErrChanged, one deleted since with ErrNoObject, so the bytes read are
// the ones listed. The caller must Close the Reader.
func (c *Client) Open(ctx context.Context, want Object) (*Reader, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(want.URL.Bucket), Key: aws.String(want.URL.Key)}
	if want.ETag != "" {
		in.IfMatch = aws.String(`"` + want.ETag + `"`)
	}
	out, err := c.s3.GetObject(ctx, in)
	if err != nil {
		return nil, c.wrap("get", want.URL, err)
	}
	r := &Reader{c: c, body: out.Body, Object: Object{URL: want.URL, Size: aws.ToInt64(out.ContentLength), ETag: trimETag(aws.ToString(out.ETag))}}
	if out.LastModified != nil {
		r.Modified = *out.LastModified
	}
	return r, nil
}

// Read reads the object's next bytes. A connection cut short is an error
// naming the object and how far it got, never a clean io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	r.n += int64(n)
	switch {
	case err == io.EOF && r.n != r.Size:
		err = &Error{Op: "get", URL: r.URL, Kind: ErrChanged, Err: io.ErrUnexpectedEOF,
			Msg:  fmt.Sprintf("the stream ended after %d of %d bytes", r.n, r.Size),
			Hint: "the connection was cut or the object changed: run again"}
	case err != nil && err != io.EOF:
		err = r.c.wrap("get", r.URL, fmt.Errorf("after %d of %d bytes: %w", r.n, r.Size, err))
	}
	r.err = err
	return n, err
}

// Close ends the read.
func (r *Reader) Close() error { return r.body.Close() }

func trimETag(s string) string { return strings.Trim(s, `"`) }
