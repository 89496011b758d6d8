package objstore

import (
	"context"
	"errors"
	"net"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/flowproof/flowproof/provenance"
)

// What went wrong, carried by an *Error (test with errors.Is).
var (
	ErrNoBucket    = errors.New("no such bucket")
	ErrNoObject    = errors.New("no such object")
	ErrAccess      = errors.New("access denied")
	ErrChanged     = errors.New("the object changed")
	ErrUnreachable = errors.New("the object storage cannot be reached")
	ErrTooLarge    = errors.New("too large")
)

// Error is a failed request: what was asked (Op), of which object or
// prefix, what kind of failure it was (Kind, one of the sentinels above,
// or nil), the server's code and message, and what to do. Its text never
// holds a credential.
type Error struct {
	Op   string // "list", "get", "put", ...
	URL  URL
	Kind error  // ErrNoBucket, ErrNoObject, ...; nil for any other failure
	Code string // the server's error code ("NoSuchKey"), "" when none
	Msg  string // what happened, scrubbed of credentials
	Hint string // what to do
	Err  error  // the SDK's error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(provenance.SafeText(e.URL.String())) // a listed key may hold anything
	b.WriteString(": ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap gives the kind and the SDK's error.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// wrap turns an SDK error into an *Error. A canceled context is returned
// as is: nothing is wrong with the storage.
func (c *Client) wrap(op string, u URL, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := &Error{Op: op, URL: u, Err: err}
	var ae smithy.APIError
	var re *awshttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
		e.Msg = e.Code
		if m := ae.ErrorMessage(); m != "" {
			e.Msg += ": " + m
		}
	} else {
		e.Msg = err.Error()
	}
	switch {
	case e.Code == "NoSuchBucket":
		e.Kind, e.Hint = ErrNoBucket, "the bucket "+quote(u.Bucket)+" does not exist at "+c.where+": check the bucket name, --s3-endpoint and --s3-path-style"
	case e.Code == "AccessDenied" || e.Code == "InvalidAccessKeyId" || e.Code == "SignatureDoesNotMatch" ||
		e.Code == "InvalidToken" || e.Code == "ExpiredToken" ||
		// versitygw answers an unknown access key with 404 and this code
		e.Code == "XAdminUserNotFound" || status == 403:
		e.Kind = ErrAccess
		if e.Code == "" {
			e.Msg = "forbidden (HTTP 403)"
		}
		e.Hint = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS profile), AWS_REGION, and the bucket's policy"
	case e.Code == "NoSuchKey" || e.Code == "NotFound" || status == 404:
		e.Kind = ErrNoObject
		if e.Code == "" || e.Code == "NotFound" {
			e.Msg = "not found (HTTP 404)"
		}
		e.Hint = "the object is not there (deleted after it was listed, or a wrong name): check the address, or run again once it is back"
	case e.Code == "PreconditionFailed" || status == 412:
		e.Kind, e.Hint = ErrChanged, "it was written again since it was listed or read: run again"
	case netErr(err) != nil:
		e.Kind, e.Hint = ErrUnreachable, "check --s3-endpoint ("+c.where+") and that the server is up"
		e.Msg = netErr(err).Error() // the SDK's wrapping adds only noise
	}
	e.Msg = c.scrubText(e.Msg)
	return e
}

// netErr is the network failure inside err, or nil.
func netErr(err error) error {
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &oe):
		return oe
	case errors.As(err, &de):
		return de
	}
	return nil
}

// scrubText makes a server's text safe to show: without the credentials,
// and with control characters escaped (provenance.SafeText).
func (c *Client) scrubText(s string) string {
	for _, x := range c.scrub {
		s = strings.ReplaceAll(s, x, provenance.Redacted)
	}
	return provenance.SafeText(s)
}

func quote(s string) string { return `"` + s + `"` }
