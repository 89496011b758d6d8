package objstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/flowproof/flowproof/ingest/objstore"
)

func ExampleParseURL() {
	u, err := objstore.ParseURL("s3://captures/cluster-a/")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Bucket, u.Key, u.IsPrefix())
	fmt.Println(u.Join("2026-12-03/node-1.pcap"))
	// Output:
	// captures cluster-a/ true
	// s3://captures/cluster-a/2026-12-03/node-1.pcap
}

// Stream every capture under a prefix, then store a result: the upload is
// visible only once complete, and its SHA-256 is that of the bytes sent.
func ExampleClient() {
	ctx := context.Background()
	c, err := objstore.New(ctx, objstore.Config{Endpoint: "http://127.0.0.1:7070", PathStyle: true,
		AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")})
	if err != nil {
		log.Fatal(err)
	}
	objs, err := c.List(ctx, objstore.URL{Bucket: "captures", Key: "cluster-a/"})
	if err != nil {
		log.Fatal(err) // an *objstore.Error: errors.Is(err, objstore.ErrNoBucket), ErrAccess, ...
	}
	for _, o := range objs {
		r, err := c.Open(ctx, o) // pinned to the listed ETag
		if err != nil {
			log.Fatal(err)
		}
		// ... read r as a stream ...
		r.Close()
	}
	up, err := c.UploadFile(ctx, objstore.URL{Bucket: "results", Key: "run1/flows.parquet"}, "flows.parquet", objstore.Put{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(up.URL, up.Size, up.SHA256)
}
