package objstore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxDeleteKeys is S3's limit on the keys of one DeleteObjects request.
const maxDeleteKeys = 1000

// Delete removes the objects at keys in bucket. A key already absent is
// no error.
func (c *Client) Delete(ctx context.Context, bucket string, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), maxDeleteKeys)]
		keys = keys[len(batch):]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return c.wrap("delete", URL{Bucket: bucket, Key: batch[0]}, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			u := URL{Bucket: bucket, Key: aws.ToString(e.Key)}
			return &Error{Op: "delete", URL: u, Code: aws.ToString(e.Code), Msg: c.scrubText(fmt.Sprintf("%s: %s", aws.ToString(e.Code), aws.ToString(e.Message))), Hint: "check the credentials' permission to delete (s3:DeleteObject)"}
		}
	}
	return nil
}

// DeletePrefixExcept removes every object under prefix whose key is not in
// keep, and returns the keys it removed. It is how a rerun replaces exactly
// its own earlier outputs: upload the new ones, then delete what is left of
// the old under the prefixes the run owns.
func (c *Client) DeletePrefixExcept(ctx context.Context, prefix URL, keep map[string]bool) ([]string, error) {
	objs, err := c.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, o := range objs {
		if !keep[o.URL.Key] {
			stale = append(stale, o.URL.Key)
		}
	}
	if err := c.Delete(ctx, prefix.Bucket, stale); err != nil {
		return nil, err
	}
	return stale, nil
}
