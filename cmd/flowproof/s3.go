package main

import (
	"flag"

	"github.com/flowproof/flowproof/ingest/objstore"
)

// s3Options are the object storage flags of analyze (and run): where the
// service is and how uploads use memory. Credentials come from the
// environment or the AWS files (config.go), never from flags.
type s3Options struct {
	endpoint    string
	pathStyle   bool
	partSize    byteSize
	concurrency int
}

func (o *s3Options) register(fs *flag.FlagSet, env awsEnv) {
	o.partSize = objstore.DefaultPartSize
	fs.StringVar(&o.endpoint, "s3-endpoint", env.Endpoint, "S3-compatible server `URL` for s3:// inputs and -o (default AWS S3, or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)")
	fs.BoolVar(&o.pathStyle, "s3-path-style", false, "address buckets as URL/bucket/key (what most S3-compatible servers need) instead of bucket.host")
	fs.Var(&o.partSize, "s3-part-size", "multipart upload part `size` for -o s3:// (5MiB to 5GiB; suffixes KiB, MiB, GiB); memory for uploads is part size x --s3-concurrency")
	fs.IntVar(&o.concurrency, "s3-concurrency", objstore.DefaultConcurrency, "parts of one upload sent at once")
}

func (o *s3Options) validate() error {
	c := o.config(awsEnv{})
	if err := c.Validate(); err != nil {
		return &usageError{"--s3-endpoint, --s3-part-size or --s3-concurrency: " + err.Error()}
	}
	return nil
}

// config is the object storage configuration from the flags and env.
func (o *s3Options) config(env awsEnv) objstore.Config {
	return objstore.Config{
		Endpoint: o.endpoint, PathStyle: o.pathStyle, PartSize: int64(o.partSize), Concurrency: o.concurrency,
		Region: env.Region, AccessKeyID: env.AccessKeyID, SecretAccessKey: env.SecretAccessKey, SessionToken: env.SessionToken, Profile: env.Profile,
	}
}
