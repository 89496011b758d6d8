package objstore

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flowproof/flowproof/provenance"
)

// Defaults and limits of Config.
const (
	// DefaultPartSize is the size of each multipart upload part: large
	// enough that a 10,000-part upload holds 80 GiB, small enough that
	// DefaultConcurrency parts in flight cost 32 MiB.
	DefaultPartSize = 8 << 20
	// DefaultConcurrency is how many parts of one upload are sent at once.
	DefaultConcurrency = 4
	// MinPartSize is S3's smallest part (but the last).
	MinPartSize = 5 << 20
	// MaxPartSize is S3's largest part.
	MaxPartSize = 5 << 30
	// MaxParts is S3's limit on the parts of one upload.
	MaxParts = 10000
	// MaxConcurrency bounds Concurrency.
	MaxConcurrency = 64
	// DefaultRegion is used when neither Config nor the AWS files name one
	// (S3-compatible servers mostly ignore it, but it is signed).
	DefaultRegion = "us-east-1"
)

// Config says where the object storage is and how to use it. The zero
// value is AWS S3 with the credentials and region of the standard AWS
// files (the default profile), DefaultPartSize and DefaultConcurrency.
type Config struct {
	// Endpoint is an S3-compatible server's URL (http or https, no
	// credentials in it); "" is AWS S3.
	Endpoint string
	// PathStyle addresses buckets as ENDPOINT/bucket/key instead of
	// bucket.ENDPOINT/key: what most S3-compatible servers need.
	PathStyle bool
	// Region signs the requests; "" takes the profile's, else DefaultRegion.
	Region string
	// PartSize is the size of each multipart upload part, in
	// [MinPartSize, MaxPartSize]; 0 is DefaultPartSize.
	PartSize int64
	// Concurrency is how many parts of one upload are in flight at once,
	// in [1, MaxConcurrency]; 0 is DefaultConcurrency.
	Concurrency int
	// Static credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_SESSION_TOKEN); when AccessKeyID is "", the standard AWS chain
	// is used (shared files for Profile, then the instance's role).
	AccessKeyID, SecretAccessKey, SessionToken string
	// Profile is the AWS shared-files profile ("" is the default one).
	Profile string
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// Validate checks the settings (after WithDefaults).
func (c Config) Validate() error {
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		return fmt.Errorf("part size %d: S3 takes parts of 5 MiB to 5 GiB", c.PartSize)
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return fmt.Errorf("concurrency %d: from 1 to %d parts at once", c.Concurrency, MaxConcurrency)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			return fmt.Errorf("endpoint %q is not a URL: give it as http://host:port or https://host", redactURL(c.Endpoint))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			return fmt.Errorf("endpoint %q: give it as http://host:port or https://host", redactURL(c.Endpoint))
		case u.User != nil:
			return fmt.Errorf("endpoint %q holds credentials: give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead", redactURL(c.Endpoint))
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("credentials: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use the AWS profile)")
	}
	return nil
}

// redactURL drops a URL's userinfo for a message, even from text that
// does not parse as a URL.
func redactURL(s string) string {
	r := provenance.RedactURL(s)
	if i := strings.LastIndex(r, "@"); r == s && i >= 0 {
		return provenance.Redacted + r[i:]
	}
	return r
}

// Client reads and writes one object storage service. It is safe for
// concurrent use.
type Client struct {
	s3    *s3.Client
	cfg   Config
	where string   // the endpoint, for messages
	scrub []string // secrets never shown in an error

	// Part buffers of uploads: live now, and the most ever live at once
	// (the memory bound's test reads them).
	bufs, peakBufs atomic.Int64
}

// New makes a client. It does not contact the service: a wrong endpoint
// or credentials show in the first request's error.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("object storage: %w", err)
	}
	// Retries are the SDK's standard ones (3 attempts, backoff); a request
	// that still fails is the caller's error.
	var opts []func(*config.LoadOptions) error
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("object storage: load the AWS configuration (profile %q): %v", cfg.Profile, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	c := &Client{cfg: cfg, where: "AWS S3"}
	if cfg.Endpoint != "" {
		c.where = cfg.Endpoint
	}
	for _, s := range []string{cfg.SecretAccessKey, cfg.SessionToken, cfg.AccessKeyID} {
		if len(s) >= minScrub {
			c.scrub = append(c.scrub, s)
		}
	}
	c.s3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Checksums only where S3 requires them: many S3-compatible servers
		// reject the CRC trailers the SDK adds by default. Each request's
		// payload SHA-256 is still signed, and checked by the server.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return c, nil
}

// minScrub is the shortest credential scrubbed from messages: real ones are
// 16 characters and more, and a shorter one would mangle every message.
const minScrub = 8

// Config is the client's configuration, with the defaults filled in.
func (c *Client) Config() Config { return c.cfg }
