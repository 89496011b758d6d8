package objstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Scheme starts every object storage address flowproof takes.
const Scheme = "s3://"

// maxKeyBytes is S3's limit on a key's length.
const maxKeyBytes = 1024

// URL is an object storage address: a bucket and a key in it. The key is
// an object's whole name, or a prefix standing for the objects under it;
// "" is the whole bucket.
type URL struct {
	Bucket string
	Key    string
}

// ErrURL is wrapped by every error of ParseURL.
var ErrURL = errors.New("not an s3://bucket/key address")

// IsURL says whether s is meant as an object storage address (it starts
// with s3://); ParseURL says whether it is a valid one.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseURL parses s3://bucket/key. The bucket name follows S3's rules for
// new buckets (3 to 63 lowercase letters, digits, dots and hyphens, starting
// and ending with a letter or digit); the key is at most 1024 bytes of UTF-8
// without control characters, and is not otherwise interpreted (an empty
// key, or one ending in "/", is a prefix).
func ParseURL(s string) (URL, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return URL{}, fmt.Errorf("%q: %w", s, ErrURL)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return URL{}, fmt.Errorf("%q: %w: %v", s, ErrURL, err)
	}
	if err := checkKey(key); err != nil {
		return URL{}, fmt.Errorf("%q: %w: %v", s, ErrURL, err)
	}
	return URL{Bucket: bucket, Key: key}, nil
}

func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("a bucket name has 3 to 63 characters, %q has %d", b, len(b))
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '-' || i == 0 || i == len(b)-1) {
			return fmt.Errorf("bucket name %q: only lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit", b)
		}
	}
	return nil
}

func checkKey(k string) error {
	if len(k) > maxKeyBytes {
		return fmt.Errorf("the key has %d bytes, S3 allows %d", len(k), maxKeyBytes)
	}
	if !utf8.ValidString(k) {
		return errors.New("the key is not valid UTF-8")
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("the key holds the control character %U", r)
		}
	}
	return nil
}

// String is the s3://bucket/key form.
func (u URL) String() string { return Scheme + u.Bucket + "/" + u.Key }

// IsPrefix says whether u names the objects under a prefix rather than one
// object: the whole bucket, or a key ending in "/".
func (u URL) IsPrefix() bool { return u.Key == "" || strings.HasSuffix(u.Key, "/") }

// Dir is u as a prefix: its key with one "/" at the end ("" for the whole
// bucket).
func (u URL) Dir() URL {
	if u.Key == "" || strings.HasSuffix(u.Key, "/") {
		return u
	}
	return URL{Bucket: u.Bucket, Key: u.Key + "/"}
}

// Join is the object rel (a slash-separated relative name) under the
// prefix u.
func (u URL) Join(rel string) URL {
	return URL{Bucket: u.Bucket, Key: u.Dir().Key + strings.TrimPrefix(rel, "/")}
}

// Rel is the key of o relative to the prefix u (o.Key without u.Dir().Key).
func (u URL) Rel(o URL) string { return strings.TrimPrefix(o.Key, u.Dir().Key) }
